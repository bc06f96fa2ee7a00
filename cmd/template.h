/*
 * cmd/template: the subset of Go's text/template that podman's --format
 * takes, evaluated on JSON values: field paths (.A.B), variables ($,
 * $x := ...), pipes, if/else if/else, range (with $k, $v :=), with, and
 * the functions podman users write (json, printf, upper, lower, title,
 * join, split, truncate, pad, index, len, eq/ne/lt/le/gt/ge, and/or/not,
 * print/println). Values print as Go's fmt prints them: [a b] for a list,
 * map[k:v] for an object, <no value> for a missing key.
 */
#ifndef STRATA_CMD_TEMPLATE_H
#define STRATA_CMD_TEMPLATE_H

#include <stdbool.h>

#include "util/util.h"

struct cmd_template;

/*
 * Parses @text. A leading "table" asks for a header row and aligned
 * columns; the two-character escapes \t and \n in the text become a tab and a
 * newline. NULL with *err ("template: ...: why") on a bad template.
 */
struct cmd_template *cmd_template_parse(const char *text, struct strata_error **err);

/* Frees @t; NULL is fine. */
void cmd_template_free(struct cmd_template *t);

/* True when the text began with "table" (a header row, columns aligned as podman does). */
bool cmd_template_is_table(const struct cmd_template *t);

/*
 * True when @t may read the field @name: a field path or variable path
 * holds it, or the template prints or passes a whole value ("." or "$").
 */
bool cmd_template_uses(const struct cmd_template *t, const char *name);

/*
 * Appends @t evaluated on @dot to @out, and a newline when the output does
 * not end with one. A field the root object lacks is an error (Go's "can't
 * evaluate field"), as a missing key of a nested object prints <no value>.
 */
int cmd_template_exec(const struct cmd_template *t, const json_t *dot, struct sbuf *out,
		      struct strata_error **err);

/*
 * Appends the header row: each field path prints the header of its first
 * name, @headers[name] when given (an object of strings), else the name
 * in capitals split at its words ("CreatedAt": "CREATED AT"). A first name
 * not in @fields (an object whose keys are the row's fields) is an error,
 * so a misspelt field is refused even when there is no row.
 */
int cmd_template_exec_header(const struct cmd_template *t, const json_t *fields,
			     const json_t *headers, struct sbuf *out, struct strata_error **err);

/*
 * Prints @text (rows of tab-separated cells, one a line) to stdout aligned
 * as Go's text/tabwriter with podman's settings: cells padded by 2 to at
 * least 12 columns; the last cell of a line is not padded.
 */
void cmd_template_print_columns(const char *text, size_t len);

#endif
