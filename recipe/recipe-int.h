/*
 * recipe internals, in sections per .c file.
 */
#ifndef STRATA_RECIPE_RECIPE_INT_H
#define STRATA_RECIPE_RECIPE_INT_H

#include "launch/launch.h"
#include "recipe/recipe.h"

/* ---- shell.c ---- */

/*
 * Splits @rest at unquoted whitespace keeping quotes and escapes inside the
 * words (buildkit's parseWords). Never fails; caller frees with strv_free.
 */
char **recipe_split_words(const char *rest, char escape);

/* ---- instr.c ---- */

/* Deep copy of @in into @out. */
void recipe_instr_copy(struct recipe_instr *out, const struct recipe_instr *in);

/* The builder flags @c takes; a NULL-terminated static list. */
const char *const *recipe_cmd_flags(enum recipe_cmd c);

/* True when flag @name of @c may be given more than once (RUN --mount). */
bool recipe_flag_is_repeatable(enum recipe_cmd c, const char *name);

/* True when flag @name of @c is boolean (--link). */
bool recipe_flag_is_bool(enum recipe_cmd c, const char *name);

/* ---- run-mount.c ---- */

struct builder;

/* One RUN --mount while its step is prepared and run. */
struct run_mount {
	struct recipe_mount m;
	char *target;		      /* absolute (WORKDIR applied), cleaned, without the leading '/' */
	long from_stage;	      /* from= an earlier stage, or -1 */
	struct store_image *from_img; /* from= an image */
	struct recipe_sources ctx;    /* a bind of the context: its files */
	struct store_cachedir cache;  /* type=cache: the dir, locked */
	char *mounted_id;	      /* the from= image mounted read-only, to unmount */
	int fd;			      /* the bind's source, resolved; -1 */
	int ctx_fd;		      /* from= a --build-context directory; -1 */
	char *tmp_name;		      /* a copy in ROOT/tmp (rw bind, filtered context) */
};

/* A directory where a step made mount points, and its times before. */
struct stub_parent {
	char *path; /* inside the rootfs, no leading '/' ("" for the top) */
	char *stub; /* the first mount point made in it */
	struct timespec atime, mtime;
};

struct run_mounts {
	struct run_mount *v;
	size_t n;
	char *secret_dir; /* the step's secret files, on a tmpfs */
	char **stubs;	  /* mount points the step made, to remove when left empty */
	struct stub_parent *parents;
	size_t n_parents;
};

/*
 * Parses RUN @x's --mount flags with stage @stage's variables (@config: its
 * image config, for WORKDIR) into @out, checks what they need (a required
 * secret, a from= stage or image) and adds to @key what each one reads.
 */
int recipe_run_mounts_prepare(struct builder *b, size_t stage, const struct recipe_instr *x,
			      const json_t *config, struct run_mounts *out, struct sbuf *key,
			      struct strata_error **err);

/* Makes ready what the mounts of @rms show (caches locked, sources, secrets) and adds them to @spec. */
int recipe_run_mounts_setup(struct builder *b, struct run_mounts *rms, int rootfd,
			    struct launch_spec *spec, struct strata_error **err);

/* Removes the mount points the step made in @rootfd that it left empty. */
int recipe_run_mounts_unstub(struct run_mounts *rms, int rootfd, struct strata_error **err);

/* Unlocks, unmounts and removes what the mounts of @rms held; empties it. */
void recipe_run_mounts_release(struct builder *b, struct run_mounts *rms);

/* ---- build.c ---- */

/* Sets the config's "created" of a new image: --timestamp, else now. */
void recipe_build_set_created(const struct builder *b, json_t *config);

/* The --build-context value NAME has ("docker-image://REF" or a directory), or NULL. */
const char *recipe_build_context_get(const struct builder *b, const char *name);

/*
 * For a --build-context NAME=DIR: an O_DIRECTORY fd on DIR (1), else 0;
 * for NAME=docker-image://REF, *image_ref is REF (borrowed) and 0.
 */
int recipe_build_context_open(const struct builder *b, const char *name, const char **image_ref,
			      int *fd, struct strata_error **err);

/*
 * The image @spec names, pulled first as the build's pull policy says
 * (--pull): FROM, COPY --from and RUN --mount from= read images through it.
 * An image is pulled at most once per build; an ID is never pulled.
 */
int recipe_build_image_get(struct builder *b, const char *spec, struct store_image **out,
			   struct strata_error **err);

/* The PATH a stage gets when its base has none (buildkit's DefaultPathEnvUnix). */
#define RECIPE_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* A stage being built. */
struct stage_state {
	struct store_image *img; /* the current image; NULL before the first step of scratch */
	json_t *config;		 /* its config (a copy the next step changes) */
	char key[DIGEST_STR_LEN]; /* cache key of the current state */
	struct recipe_vars vars;
	bool cmd_set; /* CMD was set in this stage */
	char base_manifest[DIGEST_STR_LEN]; /* the image the stage's chain starts from; "": scratch */
};

struct builder {
	struct store *s;
	const struct recipe_build_opts *o;
	struct recipe_file *file;
	struct recipe_plan *plan;
	int ctxfd;
	struct recipe_ignore *ig;
	struct stage_state *ss;
	char **used_args;
	char **pulled; /* the images pulled (or tried, with --pull=newer) by this build */
	char settings[128]; /* build settings that change bytes, hashed into every key */
	char prefix[32];    /* "[i/n] " with several stages */
	size_t stage_no, n_needed;
	/* build-fs.c: the working container of a stage without --layers */
	char *work_id;
	char *work_merged;
	/* run-mount.c: the current RUN's mounts */
	struct run_mounts run;
	int proc_view; /* build-fs.c: RUN's /proc view: 0 not decided yet, 1 on, -1 off */
};

/*
 * Writes an image of @config with the layers of the stage's current image
 * plus @layer (may be NULL), and makes it the stage's current image.
 */
int recipe_build_write_image(struct builder *b, struct stage_state *ss, json_t *config,
			     const struct layers_blob *layer, struct strata_error **err);

/* ---- copy.c ---- */

/* The sources of one COPY/ADD, gathered before its cache key. */
struct copy_job {
	char **patterns;		    /* local source patterns, expanded */
	struct recipe_sources local;	    /* collected from the context (or the --from rootfs) */
	const struct recipe_heredoc **docs; /* heredoc sources, borrowed */
	size_t n_docs;
	char **urls;			     /* ADD URL sources */
	char **url_files;		     /* their downloads (host paths in ROOT/tmp) */
	char **url_digests;		     /* their SHA-256 */
	char *dest;			     /* the destination as written (expanded) */
	long from_stage;		     /* COPY --from a stage, or -1 */
	struct store_image *from;	     /* COPY --from: the image read */
	size_t n_items;			     /* sources before globbing, to check "dest must be a dir" */
	bool is_add;
	struct store *s;
	char *git_tmp;	     /* ADD of a git URL: its checkout's ROOT/tmp dir, or NULL */
	bool has_src_fd;     /* sources are read from @src_fd: a git checkout, a named context */
	int src_fd;
	char git_commit[41]; /* with @git_tmp: the commit checked out */
};

/* Gathers the sources of COPY/ADD @x (expanded) for stage @stage. */
int recipe_copy_prepare(struct builder *b, size_t stage, const struct recipe_instr *x,
			struct copy_job *job, struct strata_error **err);

/* The digest of everything @job would copy. */
void recipe_copy_digest(const struct copy_job *job, char out[DIGEST_STR_LEN]);

/* Frees what @job holds and removes its downloads. */
void recipe_copy_job_release(struct copy_job *job);

/*
 * Copies what @job holds into the root filesystem @rootfd at its
 * destination (relative to @workdir); local sources are read from @srcfd
 * (the context, or the --from image's rootfs). mtimes later than @clamp
 * become @clamp (-1: kept).
 */
int recipe_copy_into(struct copy_job *job, const struct recipe_instr *x, int rootfd, int srcfd,
		     const char *workdir, int64_t clamp, struct strata_error **err);

/*
 * Extracts the tar archive (any compression) read from @fd into the
 * directory @destfd, everything it names resolved inside it; owners,
 * modes, times and user.* xattrs kept.
 */
int recipe_archive_extract(int fd, int destfd, struct strata_error **err);

/*
 * Resolves --chown USER[:GROUP] (names looked up in @rootfd's /etc/passwd
 * and /etc/group; a user alone gives its UID as GID).
 */
int recipe_copy_parse_chown(int rootfd, const char *spec, uid_t *uid, gid_t *gid,
			    struct strata_error **err);

/* ---- fetch.c ---- */

/*
 * Downloads @url (http or https, redirects followed) into a new file in
 * ROOT/tmp; sets *path (caller frees and removes it) and its SHA-256.
 */
int recipe_fetch(struct store *s, const char *url, char **path, char digest[DIGEST_STR_LEN],
		 struct strata_error **err);

/* ---- git.c ---- */

/* True when @s is a git URL ADD clones (git@, git://, ssh://, or http(s)/file ending in .git). */
bool recipe_git_is_url(const char *s);

/*
 * Clones @url ("REPO[#REF[:SUBDIR]]") with the git program into a new
 * ROOT/tmp dir (*tmp_name, which the caller removes), checks REF out
 * detached (.git removed unless @keep_git_dir), sets *dirfd on the
 * checkout or SUBDIR (resolved inside it) and @commit to the commit.
 */
int recipe_git_fetch(struct store *s, const char *url, bool keep_git_dir, char **tmp_name,
		     int *dirfd, char commit[41], struct strata_error **err);

/* ---- build-fs.c ---- */

/* Runs RUN, COPY, ADD or WORKDIR @x in stage @stage and makes the resulting image current. */
int recipe_build_fs_step(struct builder *b, size_t stage, const struct recipe_instr *x,
			 struct copy_job *job, struct strata_error **err);

/* Ends stage @stage: without --layers, commits its working container. */
int recipe_build_stage_done(struct builder *b, size_t stage, struct strata_error **err);

/*
 * --squash: the layers of @img after those of @base (NULL: all of them) as
 * one layer blob in *out, made in a working container of @base. Leaves the
 * store pinned on success (the caller unpins once an image names the blob).
 */
int recipe_build_squash_layer(struct builder *b, const struct store_image *base,
			      const struct store_image *img, struct layers_blob *out,
			      struct strata_error **err);

/* Removes what build-fs.c left (the working container). */
void recipe_build_fs_release(struct builder *b);

#endif
