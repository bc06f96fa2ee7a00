/*
 * Column-aligned tables with at least three spaces between columns, the
 * layout docker and podman print.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"

struct cmd_table {
	size_t ncols;
	char **cells; /* row-major, header row first */
	size_t nrows;
	size_t cap_rows; /* grown by doubling: a row costs O(1), not a copy of the table */
};

struct cmd_table *cmd_table_new(const char *const *headers)
{
	struct cmd_table *t = xcalloc(1, sizeof(*t));

	while (headers[t->ncols])
		t->ncols++;
	cmd_table_add(t, headers);
	return t;
}

void cmd_table_add(struct cmd_table *t, const char *const *cells)
{
	if (t->nrows == t->cap_rows) {
		t->cap_rows = t->cap_rows ? t->cap_rows * 2 : 16;
		t->cells = xrealloc(t->cells, t->cap_rows * t->ncols * sizeof(char *));
	}
	for (size_t i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] = xstrdup(cells[i] ? cells[i] : "");
	t->nrows++;
}

void cmd_table_print(struct cmd_table *t, bool no_header)
{
	size_t *w = xcalloc(t->ncols, sizeof(size_t));

	for (size_t r = no_header ? 1 : 0; r < t->nrows; r++)
		for (size_t c = 0; c < t->ncols; c++) {
			size_t l = strlen(t->cells[r * t->ncols + c]);

			if (l > w[c])
				w[c] = l;
		}
	for (size_t r = no_header ? 1 : 0; r < t->nrows; r++) {
		for (size_t c = 0; c < t->ncols; c++) {
			const char *cell = t->cells[r * t->ncols + c];

			if (c + 1 == t->ncols)
				printf("%s\n", cell);
			else
				printf("%-*s   ", (int)w[c], cell);
		}
	}
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(w);
	free(t);
}
