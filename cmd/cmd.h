/*
 * cmd: argument parsing, dispatch and output. Commands live in one file
 * per group (image.c, container.c, run.c, ...), each exporting a table of
 * `struct command` that main.c lists. No business logic here: a command
 * parses, calls the modules, and prints.
 */
#ifndef STRATA_CMD_CMD_H
#define STRATA_CMD_CMD_H

#include <stdbool.h>

#include "util/util.h"
#include "store/store.h"
#include "cmd/options.h"

/* Exit status for strata's own failures (docker and podman use 125 too). */
#define EXIT_STRATA 125

struct cmd_ctx {
	const char *name;     /* the command being run */
	char *root;	      /* --root, $STRATA_ROOT, or the default */
	char *backend;	      /* --backend or $STRATA_BACKEND; NULL picks the default */
	struct store *store;  /* opened on first use by cmd_store() */
	int status;	      /* exit status when cmd_parse_options() says to stop */
};

struct command {
	const char *name;
	const char *synopsis; /* "[options] IMAGE [IMAGE...]" */
	const char *summary;  /* one line for `strata --help` */
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

/* Prints "Usage: strata CMD SYNOPSIS" and the summary of the current command. */
void cmd_print_usage(struct cmd_ctx *ctx);

/* Reports "strata: CMD: message (see 'strata CMD --help')" and returns EXIT_STRATA. */
int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...) FMT(2, 3);

/* Reports "strata: CMD: <err message>", frees @err and returns EXIT_STRATA. */
int cmd_fail(struct cmd_ctx *ctx, struct strata_error *err);

/* Reports "strata: CMD: message" and returns EXIT_STRATA. */
int cmd_failf(struct cmd_ctx *ctx, const char *fmt, ...) FMT(2, 3);

/* Opens the store on first use; on failure reports and returns NULL. */
struct store *cmd_store(struct cmd_ctx *ctx);

/* What cmd_for_each_container does to one: @id the full ID, @name as given; -1 sets *err. */
typedef int cmd_container_fn(struct cmd_ctx *ctx, const char *id, const char *name, void *arg,
			     struct strata_error **err);

/*
 * Runs @fn on each container the operands name (at least one): a failure
 * is reported and the others still go. Returns 0, or EXIT_STRATA when any failed.
 */
int cmd_for_each_container(struct cmd_ctx *ctx, int argc, char **argv, cmd_container_fn *fn,
			   void *arg);

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
