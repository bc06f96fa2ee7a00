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
extern const struct command cmd_volume_commands[];
extern const struct command cmd_build_commands[];
extern const struct command cmd_registry_commands[];
extern const struct command cmd_prune_commands[];

/* Prints "Usage: strata CMD SYNOPSIS" and the summary of the current command. */
void cmd_print_usage(struct cmd_ctx *ctx);

/* Reports "strata: CMD: message (see 'strata CMD --help')" and returns EXIT_STRATA. */
int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...) FMT(2, 3);

/* Reports "strata: CMD: <err message>", frees @err and returns EXIT_STRATA. */
int cmd_fail(struct cmd_ctx *ctx, struct strata_error *err);

/* Reports "strata: CMD: message" and returns EXIT_STRATA. */
int cmd_failf(struct cmd_ctx *ctx, const char *fmt, ...) FMT(2, 3);

/*
 * 0 when @fd, the archive @name, may be read to its end; else reports that
 * a character device (/dev/zero, /dev/urandom: no end) is no archive and
 * returns EXIT_STRATA.
 */
int cmd_input_check(struct cmd_ctx *ctx, int fd, const char *name);

/*
 * Without root: moves this process, once, into a user namespace where the
 * user is root and its subordinate ids (/etc/subuid, /etc/subgid) are the
 * other ids, as `podman unshare` runs; nothing for root. Must be called
 * while single-threaded.
 */
int cmd_userns_enter(struct strata_error **err);

struct launch_idmap;

/*
 * The map cmd_userns_enter entered (the caller's id at 0, its subordinate
 * ranges after) and the user's name in *user (may be NULL); NULL when none
 * was entered (root, or a command that stays outside).
 */
const struct launch_idmap *cmd_userns_map(const char **user);

/*
 * Opens the store on first use (in a command's user namespace, checking
 * the id map it was written with); on failure reports and returns NULL.
 */
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

/* A container record's status, but "exited" for a running one whose PID 1 is gone. */
const char *cmd_container_state(const json_t *rec);

/* Removes container @id (a running one only with @force, killed first) and its filesystem. */
int cmd_container_remove(struct store *s, const char *id, bool force, struct strata_error **err);

/*
 * Pulls @ref as `strata pull` does (progress on stderr unless @quiet; plain
 * http with @insecure), layer dirs made; 0 with the image ID in @id, or
 * EXIT_STRATA once reported (@silent: not reported, only logged at debug).
 */
int cmd_pull_image(struct cmd_ctx *ctx, struct store *s, const char *ref, bool quiet,
		   bool insecure, bool silent, char id[DIGEST_STR_LEN]);

/* Asks "@question [y/N]" on stderr unless @force; true for y or yes on stdin. */
bool cmd_confirm(bool force, const char *question);

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

/* ---- format.c: --format table, json, or a Go template ---- */

struct cmd_template;

/* What --format asked for: the default table, JSON, or a template (owned; cmd_format_release). */
struct cmd_format {
	bool json;
	bool noheading; /* set by the command: no header row even for "table" */
	struct cmd_template *tmpl;
};

/* --format table|json|TEMPLATE into a struct cmd_format *. */
#define OPT_TEMPLATE(s, v, h) OPT_CALLBACK((s), "format", (v), "FORMAT", (h), cmd_option_template)

/* Callback of OPT_TEMPLATE: a bad template is a one-line usage error. */
int cmd_option_template(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg);

/* Frees the template of @f. */
void cmd_format_release(struct cmd_format *f);

/* True when the template of @f refers to the field @name (or to a whole row: "."). */
bool cmd_format_uses(const struct cmd_format *f, const char *name);

/* Rows printed through a template: a header first for "table", columns aligned. */
struct cmd_rows;

/*
 * Starts the output of @f (which has a template): @fields names every field
 * of a row (a NULL-terminated list), @headers the headers that are not
 * derived from the name ("ID", "IMAGE ID", ..., NULL). A field the
 * template names that is not in @fields is reported (NULL returned).
 */
struct cmd_rows *cmd_rows_new(struct cmd_ctx *ctx, const struct cmd_format *f,
			      const char *const *fields, const char *const *headers);

/* Adds @row (an object with the fields; borrowed); -1 once reported. */
int cmd_rows_add(struct cmd_rows *r, const json_t *row);

/* Prints what was added and frees @r. */
void cmd_rows_print(struct cmd_rows *r);

/* Discards what was added and frees @r; NULL is fine. */
void cmd_rows_free(struct cmd_rows *r);

/* "2026-12-07 06:19:30.5 +0000 UTC": a time as Go prints it (podman's CreatedAt). Caller frees. */
char *cmd_go_time(int64_t sec, long nsec);


/* "2.14 MB": a size as podman prints it (three significant digits, a space). Caller frees. */
char *cmd_size_text(uint64_t n);

/* ---- filter.c: --filter KEY=VALUE, podman's way ---- */

/* The filters given, grouped by key: values of one key match any, keys all. */
struct cmd_filters {
	size_t n;
	struct cmd_filter {
		char *key;
		char **values;
	} *v;
};

/*
 * Groups @specs (KEY=VALUE or KEY, as given to --filter) by key; a key not
 * in @keys (NULL-terminated) or a malformed spec is a one-line usage error.
 */
int cmd_filters_parse(struct cmd_ctx *ctx, char *const *specs, const char *const *keys,
		      struct cmd_filters *out);

/* Frees the contents of @f. */
void cmd_filters_release(struct cmd_filters *f);

/* The values given for @key, or NULL. */
char *const *cmd_filters_get(const struct cmd_filters *f, const char *key);

/*
 * A time of an "until" filter: seconds since 1970, an RFC 3339 time, a
 * date (2006-01-02), or a duration before now (10m, 24h, 1h30m). 0 or -1.
 */
int cmd_time_parse(const char *s, int64_t *out);

/* label=KEY or label=KEY=VALUE against an object of labels (NULL: none). */
bool cmd_label_matches(const json_t *labels, const char *spec);

/* True when @labels match every label= of @f and no label!= of it. */
bool cmd_filters_labels_pass(const struct cmd_filters *f, const json_t *labels);

/* ---- image.c ---- */

/* Image ID -> how many containers' records use it (a pointer-sized count). */
void cmd_image_users_count(struct store *s, struct strmap *users);

/* The labels of image @id (a new reference; an empty object when unreadable). */
json_t *cmd_image_labels(struct store *s, const char *id);

/* ---- volume.c ---- */

/*
 * Volume name -> how many containers' records list it, and (@running, may
 * be NULL) how many running containers do (pointer-sized counts).
 */
void cmd_volume_links(struct store *s, struct strmap *links, struct strmap *running);

/*
 * Removes the volumes no container uses that pass @f (label, label!,
 * until); appends their names to *removed and adds their bytes to *bytes
 * (may be NULL). Errors are reported; returns 0 or EXIT_STRATA.
 */
int cmd_volumes_prune(struct cmd_ctx *ctx, struct store *s, const struct cmd_filters *f,
		      char ***removed, uint64_t *bytes);

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
