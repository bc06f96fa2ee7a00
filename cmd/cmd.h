/*
 * cmd: argument parsing, dispatch and output. Commands live in one file
 * per group (image.c, container.c, run.c, ...), each exporting a table of
 * `struct command` that main.c lists. No business logic here: a command
 * parses, calls the modules, and prints.
 */
#ifndef STRATA_CMD_CMD_H
#define STRATA_CMD_CMD_H

#include <getopt.h>
#include <stdbool.h>

#include "util/util.h"
#include "store/store.h"

/* Exit status for strata's own failures (docker and podman use 125 too). */
#define EXIT_STRATA 125

struct cmd_ctx {
	const char *name;     /* the command being run */
	char *root;	      /* --root, $STRATA_ROOT, or the default */
	char *backend;	      /* --backend or $STRATA_BACKEND; NULL picks the default */
	struct store *store;  /* opened on first use by cmd_store() */
};

struct command {
	const char *name;
	const char *synopsis; /* "[options] IMAGE [IMAGE...]" */
	const char *summary;  /* one line for `strata --help` */
	const char *help;     /* the options, one per line, for `strata CMD --help` */
	int (*run)(struct cmd_ctx *ctx, int argc, char **argv);
};

/* `create` with the run options (cmd/run.c): prints the new container's ID. */
int cmd_create_container(struct cmd_ctx *ctx, int argc, char **argv);

/* Command tables, each ended by an entry with a NULL name. */
extern const struct command cmd_info_commands[];
extern const struct command cmd_image_commands[];
extern const struct command cmd_layer_commands[];
extern const struct command cmd_container_commands[];
extern const struct command cmd_run_commands[];
extern const struct command cmd_build_commands[];
extern const struct command cmd_registry_commands[];

/* getopt_long value of --help; every command's option table has CMD_OPT_HELP. */
#define CMD_HELP 0x1000
#define CMD_OPT_HELP { "help", no_argument, NULL, CMD_HELP }
#define CMD_OPT_END { NULL, 0, NULL, 0 }

/* Returned by cmd_getopt after --help was printed, or after a usage error was reported. */
#define CMD_GETOPT_HELP (-100)
#define CMD_GETOPT_ERROR (-101)

/*
 * getopt_long for a command: returns the next option, -1 at the end, or one
 * of CMD_GETOPT_HELP / CMD_GETOPT_ERROR once it has printed the help or the
 * one-line error. Start @shortopts with '+' to stop at the first operand.
 */
int cmd_getopt(struct cmd_ctx *ctx, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* Maps CMD_GETOPT_HELP to 0 and anything else to EXIT_STRATA (for the default: case). */
int cmd_getopt_status(int c);

/* Prints the help of the current command to stdout. */
void cmd_print_help(struct cmd_ctx *ctx);

/* Reports "strata: CMD: message (see 'strata CMD --help')" and returns EXIT_STRATA. */
int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...) FMT(2, 3);

/* Reports "strata: CMD: <err message>", frees @err and returns EXIT_STRATA. */
int cmd_fail(struct cmd_ctx *ctx, struct strata_error *err);

/* Reports "strata: CMD: message" and returns EXIT_STRATA. */
int cmd_failf(struct cmd_ctx *ctx, const char *fmt, ...) FMT(2, 3);

/* Checks that there are between @min and @max operands (max < 0: no limit) left after options. */
int cmd_check_operands(struct cmd_ctx *ctx, int argc, char **argv, int min, int max,
		       const char *what);

/* Opens the store on first use; on failure reports and returns NULL. */
struct store *cmd_store(struct cmd_ctx *ctx);

/* Parses --format: "table" (the default) or "json"; sets *json. Reports errors. */
int cmd_parse_format(struct cmd_ctx *ctx, const char *arg, bool *json);

/* Prints @j indented, then a newline. */
void cmd_print_json(const json_t *j);

/* ---- table.c: aligned columns, as docker's tabwriter ---- */

struct cmd_table;

/* A table with @ncols columns named by the NULL-terminated @headers. */
struct cmd_table *cmd_table_new(const char *const *headers);
/* Adds a row of copies of @cells (ncols entries). */
void cmd_table_add(struct cmd_table *t, const char *const *cells);
/* Prints (with the header unless @no_header) and frees the table. */
void cmd_table_print(struct cmd_table *t, bool no_header);

/* ---- progress.c: pull and push progress on stderr ---- */

struct cmd_progress;
struct registry_event;

/*
 * A progress display on stderr: on a TTY one line per blob (bytes, rate,
 * ETA) redrawn in place; otherwise one line per finished blob and per note.
 */
struct cmd_progress *cmd_progress_new(void);

/* A registry_progress_fn: @arg is the struct cmd_progress. */
void cmd_progress_event(const struct registry_event *ev, void *arg);

/* Frees @p (the lines drawn stay on the screen); NULL is fine. */
void cmd_progress_free(struct cmd_progress *p);

#endif
