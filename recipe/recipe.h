/*
 * recipe: Containerfile/Dockerfile builds.
 *
 * parse.c     the file: parser directives, comments, line continuations,
 *             heredocs, builder flags, exec (JSON) and shell forms; every
 *             instruction checked for its arguments and flags
 * shell.c     variable substitution and word splitting, as Docker's shell lexer
 * instr.c     instructions: names, flags, expansion with the ARG/ENV scoping rules
 * plan.c      stages: build args, ARGs before FROM, names, indexes, --target,
 *             the stages a target needs
 * ignore.c    .containerignore/.dockerignore patterns and source globs
 * context.c   COPY/ADD sources in the build context and the cache keys of steps
 * config.c    what each instruction does to an image config
 * build.c     the builder: stages, steps, the cache, output
 * copy.c      COPY and ADD: sources (context, stages, images, heredocs, URLs,
 *             archives) copied into a root filesystem
 * fetch.c     ADD's downloads (libcurl)
 * build-fs.c  steps that change the filesystem: a container per step, RUN
 *             through the launcher, the upper dir committed as a layer
 *
 * Every error of a file is "FILE:LINE: message". Nothing here crashes or hangs
 * on any input: the parser is fuzzed (tests/fuzz/fuzz-recipe.c).
 */
#ifndef STRATA_RECIPE_RECIPE_H
#define STRATA_RECIPE_RECIPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"
#include "store/store.h"
#include "layers/layers.h"
#include "registry/registry.h"

/* Largest recipe file read. */
#define RECIPE_FILE_MAX (8u << 20)

/* ---- instructions (parse.c, instr.c) ---- */

enum recipe_cmd {
	RECIPE_ADD,
	RECIPE_ARG,
	RECIPE_CMD,
	RECIPE_COPY,
	RECIPE_ENTRYPOINT,
	RECIPE_ENV,
	RECIPE_EXPOSE,
	RECIPE_FROM,
	RECIPE_HEALTHCHECK,
	RECIPE_LABEL,
	RECIPE_MAINTAINER,
	RECIPE_ONBUILD,
	RECIPE_RUN,
	RECIPE_SHELL,
	RECIPE_STOPSIGNAL,
	RECIPE_USER,
	RECIPE_VOLUME,
	RECIPE_WORKDIR,
};

/* A builder flag "--name=value"; @value is NULL for a bare "--name". */
struct recipe_flag {
	char *name;
	char *value;
};

/* A KEY=VALUE pair of ENV, LABEL or ARG; @value is NULL for "ARG NAME". */
struct recipe_kv {
	char *key;
	char *value;
};

/* A here-document of RUN, COPY or ADD. */
struct recipe_heredoc {
	char *name;    /* the delimiter, quotes removed */
	char *content; /* each line with its '\n'; leading tabs removed for <<- */
	bool expand;   /* unquoted delimiter: COPY/ADD expand variables in @content */
	bool chomp;    /* <<- */
};

/*
 * One instruction as written. What @args holds depends on @cmd:
 *  RUN, CMD, ENTRYPOINT, SHELL: the JSON elements (@is_json), else the whole text;
 *  COPY, ADD, VOLUME: the JSON elements, else the whitespace-separated words;
 *  FROM, EXPOSE: the whitespace-separated words;
 *  USER, WORKDIR, STOPSIGNAL, MAINTAINER: the whole text;
 *  HEALTHCHECK: "CMD" then the command as for CMD, or "NONE";
 *  ONBUILD: the trigger's text (parsed into @sub);
 *  ENV, LABEL, ARG: none (see @kvs).
 * Nothing is expanded: see recipe_instr_expand().
 */
struct recipe_instr {
	enum recipe_cmd cmd;
	unsigned line;	/* first line of the instruction, from 1 */
	char *original; /* the instruction with continuations joined */
	struct recipe_flag *flags;
	size_t n_flags, cap_flags; /* cap_*: room allocated while parsing (xgrow) */
	char **args; /* NULL-terminated */
	size_t n_args, cap_args;
	bool is_json; /* exec form */
	struct recipe_kv *kvs;
	size_t n_kvs, cap_kvs;
	struct recipe_heredoc *heredocs;
	size_t n_heredocs, cap_heredocs;
	struct recipe_instr *sub; /* ONBUILD's trigger */
};

/* A parsed file. */
struct recipe_file {
	char *name;  /* as given to recipe_parse, for messages */
	char escape; /* '\\' or '`' (# escape=) */
	struct recipe_instr *instrs;
	size_t n_instrs, cap_instrs;
};

/*
 * Parses @len bytes of @buf (a Containerfile) named @name in messages into
 * *out (free with recipe_file_free). Checks every instruction's arguments and
 * flags and the syntax of every variable reference. Errors are
 * "NAME:LINE: message" with EINVAL.
 */
int recipe_parse(const char *buf, size_t len, const char *name, struct recipe_file **out,
		 struct strata_error **err);

/* Reads the file @path (at most RECIPE_FILE_MAX bytes; "-" is stdin) and parses it. */
int recipe_parse_path(const char *path, struct recipe_file **out, struct strata_error **err);

/*
 * Parses one ONBUILD trigger (the text stored in a base image's config) as
 * an instruction; @what names it in messages. FROM, MAINTAINER and ONBUILD are
 * refused as triggers. Free with recipe_instr_free.
 */
int recipe_parse_trigger(const char *text, const char *what, struct recipe_instr **out,
			 struct strata_error **err);

/* Frees @f; NULL is fine. */
void recipe_file_free(struct recipe_file *f);

/* Frees the contents of @in. */
void recipe_instr_release(struct recipe_instr *in);

/* Frees the contents of @in and @in; NULL is fine. */
void recipe_instr_free(struct recipe_instr *in);

/* The upper-case name of @c ("COPY"). */
const char *recipe_cmd_name(enum recipe_cmd c);

/* Finds an instruction by name, any case. Returns -1 when unknown. */
int recipe_cmd_parse(const char *name, enum recipe_cmd *out);

/* The value of flag @name ("" for a bare flag), or NULL when absent. Borrowed. */
const char *recipe_instr_flag(const struct recipe_instr *in, const char *name);

/*
 * The instruction as text, as history and cache keys record it: the name, the
 * flags, then the arguments (a JSON array for the exec form). Caller frees.
 */
char *recipe_instr_string(const struct recipe_instr *in);

/* Every value of the repeatable flag @name (RUN --mount, COPY --exclude), in order. Caller frees. */
char **recipe_instr_flag_all(const struct recipe_instr *in, const char *name);

/* Parses a Go duration ("30s", "1m30s", "1.5h", "250ms") into nanoseconds. -1 when bad. */
int recipe_duration_parse(const char *s, int64_t *ns);

/* ---- variables (shell.c, instr.c) ---- */

/*
 * The variables an instruction sees: @env (KEY=VALUE, the image's Env and
 * ENV so far) always wins over @args (KEY=VALUE of the ARGs in scope, or KEY
 * alone for an ARG declared without a value, which is unset).
 */
struct recipe_vars {
	char **env;
	char **args;
};

/* Looks @key up in @v: env first, then args. Sets *is_set; returns the value (borrowed) or "". */
const char *recipe_vars_get(const struct recipe_vars *v, const char *key, bool *is_set);

/* Sets KEY=VALUE in the NULL-terminated array *list, replacing KEY; @value NULL stores "KEY". */
void recipe_vars_set(char ***list, const char *key, const char *value);

/* Frees both arrays of @v and empties it. */
void recipe_vars_release(struct recipe_vars *v);

/* Deep copy of @v into @out. */
void recipe_vars_copy(struct recipe_vars *out, const struct recipe_vars *v);

/*
 * Expands one word as Docker does: 'single' and "double" quotes removed,
 * @escape escaping the next character, $NAME, ${NAME}, ${NAME:-word},
 * ${NAME-word}, ${NAME:+word}, ${NAME+word}, ${NAME:?msg}, ${NAME?msg}.
 * @vars NULL checks only the syntax. Returns a new string or NULL with EINVAL.
 */
char *recipe_expand_word(const char *word, char escape, const struct recipe_vars *vars,
			 struct strata_error **err);

/*
 * As recipe_expand_word for a COPY/ADD source: an escaped glob character
 * (*, ?, [, ], \\) keeps a '\\' before it, so the glob matches it literally.
 */
char *recipe_expand_glob_word(const char *word, char escape, const struct recipe_vars *vars,
			      struct strata_error **err);

/* As recipe_expand_word, but splits the result into words at unquoted whitespace. */
char **recipe_expand_words(const char *word, char escape, const struct recipe_vars *vars,
			   struct strata_error **err);

/*
 * Expands a heredoc body as a shell does with an unquoted delimiter: $
 * references, escape before '$', the escape character or a newline; quotes
 * stay. Returns a new string or NULL.
 */
char *recipe_expand_heredoc(const char *text, char escape, const struct recipe_vars *vars,
			    struct strata_error **err);

/*
 * A copy of @in with what Docker expands expanded using @vars: FROM, COPY,
 * ADD (sources, destination, heredoc bodies, --from, --chown, --chmod,
 * --checksum), ENV and LABEL (keys and values), ARG (values), EXPOSE and
 * VOLUME (re-split into words), USER, WORKDIR, STOPSIGNAL. RUN, CMD,
 * ENTRYPOINT, SHELL, HEALTHCHECK, ONBUILD and MAINTAINER are copied as they
 * are. Errors are "FILE:LINE: message" with @file the recipe's name.
 */
int recipe_instr_expand(const struct recipe_instr *in, const char *file, char escape,
			const struct recipe_vars *vars, struct recipe_instr **out,
			struct strata_error **err);

/* ---- RUN --mount (mount.c) ---- */

enum recipe_mount_type {
	RECIPE_MOUNT_BIND,
	RECIPE_MOUNT_CACHE,
	RECIPE_MOUNT_TMPFS,
	RECIPE_MOUNT_SECRET,
	RECIPE_MOUNT_SSH,
};

enum recipe_mount_sharing {
	RECIPE_SHARING_SHARED,	/* any number of steps at once */
	RECIPE_SHARING_PRIVATE, /* a step finding it in use gets a cache dir of its own */
	RECIPE_SHARING_LOCKED,	/* a second step waits for the first */
};

/* One RUN --mount, defaults filled in (the dockerfile frontend's). */
struct recipe_mount {
	enum recipe_mount_type type;
	char *target; /* as written (relative: to WORKDIR); NULL for a secret given only as env */
	char *source; /* inside @from (or the context); NULL: its root */
	char *from;   /* a stage or an image; NULL: the context (bind), nothing (cache) */
	char *id;     /* cache: default @target; secret: default basename of @target; ssh: "default" */
	char *env;    /* secret: also (or only) in this environment variable */
	enum recipe_mount_sharing sharing;
	bool readonly; /* bind: true unless rw; secret and ssh: always */
	bool required; /* secret, ssh: the build fails without it */
	long mode;     /* cache 0755, secret 0400, ssh 0600; -1 elsewhere */
	long long uid, gid; /* -1: 0 */
	uint64_t size;	    /* tmpfs: at most this many bytes; 0: no limit */
};

/*
 * Parses the value of one RUN --mount into *out (free with
 * recipe_mount_release), each value expanded with @vars; @vars NULL (parse
 * time) leaves values holding '$' to be checked when expanded. EINVAL
 * naming the key or value not understood.
 */
int recipe_mount_parse(const char *spec, char escape, const struct recipe_vars *vars,
		       struct recipe_mount *out, struct strata_error **err);

/* Frees the strings of @m. */
void recipe_mount_release(struct recipe_mount *m);

/* "bind", "cache", ... */
const char *recipe_mount_type_name(enum recipe_mount_type t);

/* ---- stages (plan.c) ---- */

struct recipe_stage {
	size_t index;
	char *name;	 /* AS name, lower case, or NULL */
	char *base;	 /* FROM's image, expanded with the ARGs before the first FROM */
	char *platform;	 /* --platform, expanded, or NULL */
	long base_stage; /* the earlier stage FROM names, or -1 for an image ("scratch" included) */
	const struct recipe_instr *from;    /* borrowed from the file */
	const struct recipe_instr **instrs; /* the instructions after FROM (borrowed) */
	size_t n_instrs, cap_instrs;
	bool is_needed; /* the target needs it */
};

struct recipe_plan {
	const struct recipe_file *file; /* borrowed */
	char **meta_args;		/* KEY=VALUE (or KEY) of the ARGs before the first FROM */
	char **build_args;		/* KEY=VALUE given with --build-arg */
	char **meta_used;		/* build args the ARGs before the first FROM consumed */
	struct recipe_stage *stages;
	size_t n_stages;
	size_t target; /* the stage built last */
};

/*
 * Splits @f into stages: evaluates the ARGs before the first FROM (with
 * @build_args, KEY=VALUE, overriding their defaults), expands each FROM with
 * them, names stages, resolves a FROM naming an earlier stage, picks the
 * @target stage (by name or index; NULL: the last) and marks the stages it
 * needs through FROM and COPY --from. Errors are "FILE:LINE: message" or
 * name the unknown target.
 */
int recipe_plan_new(const struct recipe_file *f, char *const *build_args, const char *target,
		    struct recipe_plan **out, struct strata_error **err);

/* Frees @p; NULL is fine. */
void recipe_plan_free(struct recipe_plan *p);

/*
 * The stage named @ref (a name, any case, or a decimal index) among the
 * stages before @before. Returns its index or -1.
 */
long recipe_plan_find_stage(const struct recipe_plan *p, const char *ref, size_t before);

/*
 * The variables a stage starts with: the build args for the predefined proxy
 * ARGs (HTTP_PROXY, ...), which need no declaration, and none other. The
 * caller adds the base image's Env as @env.
 */
void recipe_plan_stage_vars(const struct recipe_plan *p, struct recipe_vars *out);

/*
 * Applies an ARG instruction (already expanded) to @vars: each name gets
 * its build arg, else its default, else the value of the ARG of that name
 * before the first FROM (or the platform ARGs TARGETARCH, TARGETOS,
 * TARGETPLATFORM, BUILDARCH, ...), else stays declared and unset. Names the
 * consumed build args in *used (may be NULL).
 */
void recipe_plan_apply_arg(const struct recipe_plan *p, const struct recipe_instr *arg,
			   struct recipe_vars *vars, char ***used);

/* Build args that no ARG declared (to warn about). Caller frees with strv_free. */
char **recipe_plan_unused_args(const struct recipe_plan *p, char *const *used);

/* ---- ignore files and globs (ignore.c) ---- */

struct recipe_ignore;

/*
 * Parses an ignore file with Docker's rules: '#' comments, blank lines
 * skipped, patterns cleaned and made relative, "!" exceptions, "**" any number
 * of directories; the last matching pattern decides. @name names it in errors.
 */
int recipe_ignore_parse(const char *buf, size_t len, const char *name, struct recipe_ignore **out,
			struct strata_error **err);

/*
 * Loads CONTEXT/.containerignore, else CONTEXT/.dockerignore, from the
 * context directory @ctxfd; an empty set when there is neither.
 */
int recipe_ignore_load(int ctxfd, struct recipe_ignore **out, struct strata_error **err);

/* True when @path (relative to the context, '/'-separated) is excluded. */
bool recipe_ignore_match(const struct recipe_ignore *ig, const char *path);

/* True when some "!" exception exists (an excluded directory may then hold included files). */
bool recipe_ignore_has_exceptions(const struct recipe_ignore *ig);

/*
 * True when an excluded directory @dir is to be walked all the same: some
 * "!" exception begins with its path ("DIR/..."), as docker decides.
 */
bool recipe_ignore_may_reinclude(const struct recipe_ignore *ig, const char *dir);

/* True when @ig (may be NULL) has no pattern: it excludes nothing. */
bool recipe_ignore_is_empty(const struct recipe_ignore *ig);

/* Frees @ig; NULL is fine. */
void recipe_ignore_free(struct recipe_ignore *ig);

/*
 * Matches @name against @pattern as Go's filepath.Match: '*' and '?' never
 * match '/', "[...]" classes with ranges and '^' or '!' negation, '\\' escapes.
 * Returns 1 on a match, 0 when none, -1 for a malformed pattern.
 */
int recipe_glob_match(const char *pattern, const char *name);

/* True when @s has glob characters ('*', '?', '['). */
bool recipe_glob_has_magic(const char *s);

/* ---- build context sources and cache keys (context.c) ---- */

/* One file, directory or symlink of a COPY/ADD source. */
struct recipe_entry {
	char *path;    /* relative to the context */
	char *rel;     /* relative to the source it belongs to ("" for the source itself) */
	size_t source; /* index of the matched source */
	mode_t mode;   /* st_mode: type and permissions */
	uid_t uid;
	gid_t gid;
	uint64_t size;
	char *link;		     /* symlink target, or NULL */
	char digest[DIGEST_STR_LEN]; /* regular files: SHA-256 of the content */
	char *xattrs;		     /* user.* xattrs as "name=hex\n" lines, or NULL */
	dev_t dev;		     /* with @ino and @nlink: hard links */
	ino_t ino;
	nlink_t nlink;
};

/* The sources of one COPY/ADD after globbing and ignore rules. */
struct recipe_sources {
	char **matched; /* the matched source paths, relative to the context ("" = the context) */
	bool *is_dir;	/* per matched path */
	struct recipe_entry *entries; /* every entry under them, sorted by path */
	size_t n_matched, n_entries;
	size_t cap_matched, cap_is_dir; /* room in @matched and @is_dir (xgrow) */
};

/*
 * Resolves the source patterns @srcs (expanded, relative to the context;
 * globs allowed) inside the context directory @ctxfd, never leaving it, and
 * walks them, leaving out what @ig excludes (@ig may be NULL). A source that
 * matches nothing is an error naming it. Regular files are hashed.
 */
int recipe_sources_collect(int ctxfd, const struct recipe_ignore *ig, char *const *srcs,
			   struct recipe_sources *out, struct strata_error **err);

/*
 * As recipe_sources_collect, for COPY --from: in the root filesystem
 * @rootfd, no ignore file; @where names it in messages ("stage 'build'").
 */
int recipe_sources_collect_in(int rootfd, char *const *srcs, const char *where,
			      struct recipe_sources *out, struct strata_error **err);

/* Frees the contents of @s. */
void recipe_sources_release(struct recipe_sources *s);

/*
 * The digest of the sorted (path, type, mode, owner, size, content hash, link
 * target, user.* xattrs, hard-link group) list of @s: equal when the sources
 * would copy the same way.
 */
void recipe_sources_digest(const struct recipe_sources *s, char out[DIGEST_STR_LEN]);

/*
 * A step's cache key: SHA-256 over @parent (the previous state's key or the
 * base image's manifest digest), @instr (the resolved instruction text) and
 * @extra (sources digest, build settings; may be NULL).
 */
void recipe_cache_key(const char *parent, const char *instr, const char *extra,
		      char out[DIGEST_STR_LEN]);

/* ---- the builder (build.c) ---- */

/* A build secret (--secret): RUN --mount=type=secret shows it; never stored. */
struct recipe_secret {
	const char *id;
	const char *data;
	size_t len;
};

/* When a build pulls an image it reads (FROM, COPY --from, RUN --mount from=), as buildah. */
enum recipe_pull {
	RECIPE_PULL_MISSING, /* only when the store has no image of that name (the default) */
	RECIPE_PULL_ALWAYS,  /* every time; a failed pull fails the build */
	RECIPE_PULL_NEVER,   /* never; a missing image fails the build */
	RECIPE_PULL_NEWER,   /* every time, but a failed pull falls back to the stored image */
};

/* --squash: which layers of the result are made one. */
enum recipe_squash {
	RECIPE_SQUASH_NONE,
	RECIPE_SQUASH_NEW, /* the layers the build made (over the target stage's base) */
	RECIPE_SQUASH_ALL, /* all, the base image's too */
};

struct recipe_build_opts {
	const char *context;	  /* the build context directory */
	const char *file;	  /* the recipe; NULL: CONTEXT/Containerfile, else CONTEXT/Dockerfile; "-": stdin */
	char *const *tags;	  /* NAME[:TAG] to tag the result with; NULL-terminated or NULL */
	char *const *build_args;  /* KEY=VALUE */
	const char *target;	  /* the stage to build; NULL: the last */
	bool no_cache;		  /* run every step */
	bool layers;		  /* one image per step, cached; false: no cache */
	int64_t timestamp;	  /* created times and layer mtimes; -1: now and real mtimes */
	const char *network;	  /* RUN's network: "host" or "none" */
	enum layers_compression compression;
	char *const *labels;	  /* KEY=VALUE set on the final image */
	const char *backend;	  /* union backend; NULL: the default */
	const char *platform;	  /* --platform OS/ARCH[/VARIANT]; only this machine's is built */
	FILE *out;		  /* "STEP i/N: ...", "--> ID" lines; NULL: quiet */
	int run_stdout, run_stderr; /* where RUN's output goes (-1: discarded) */
	const struct recipe_secret *secrets; /* --secret */
	size_t n_secrets;
	char *const *ssh; /* --ssh: ID=AGENT-SOCKET; NULL-terminated or NULL */
	char *const *build_contexts; /* --build-context NAME=DIR|docker-image://REF; or NULL */
	enum recipe_pull pull;
	const struct registry_opts *registry; /* how pulls reach registries; NULL: the defaults */
	char *const *annotations; /* KEY=VALUE set on the final image's manifest; or NULL */
	enum recipe_squash squash;
};

/*
 * Builds the recipe of @o in @s: parses it, plans its stages, runs the steps
 * of the stages the target needs (from the cache where it can), tags the
 * result and writes its image ID (config digest) to @id. Recipe errors are
 * "FILE:LINE: message"; a failing RUN names its exit status.
 */
int recipe_build(struct store *s, const struct recipe_build_opts *o, char id[DIGEST_STR_LEN],
		 struct strata_error **err);

/* ---- image configs (config.c) ---- */

/* The "Shell" of @config, else ["/bin/sh", "-c"]. Caller frees with strv_free. */
char **recipe_config_shell(const json_t *config);

/*
 * Applies the expanded instruction @x to the image config @config as Docker
 * does: ENV, LABEL, CMD, ENTRYPOINT, WORKDIR (the path only), USER, EXPOSE,
 * VOLUME, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, MAINTAINER; ARG changes
 * nothing. *cmd_set says whether this stage set CMD (an ENTRYPOINT resets an
 * inherited one). A bad port or signal is "FILE:LINE: message".
 */
int recipe_config_apply(json_t *config, const struct recipe_instr *x, const char *file,
			bool *cmd_set, struct strata_error **err);

/* True when @c only changes the config (no layer): everything but FROM, RUN, COPY, ADD, WORKDIR. */
bool recipe_cmd_is_config_only(enum recipe_cmd c);

/*
 * The history "created_by" of step @x: the shell command line of a RUN,
 * else "/bin/sh -c #(nop) INSTRUCTION" as buildah writes it. Caller frees.
 */
char *recipe_history_created_by(const json_t *config, const struct recipe_instr *x);

#endif
