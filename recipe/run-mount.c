/*
 * RUN --mount at build time, as the dockerfile frontend does it.
 *
 * Before the cache key: every --mount is parsed with the step's variables,
 * its target made absolute against WORKDIR, and what it reads named for
 * the key: a bind's sources (the digest of the context files under
 * source=, or the key of the stage / the manifest of the image from=
 * names), a secret's or ssh agent's presence (never its content). A cache
 * dir's content is no input: the step's key is its instruction.
 *
 * Before the step runs: cache dirs opened under their lock
 * (store_cachedir_open: a locked id waits for its holder, in any process)
 * and seeded from from=/source= when new; binds from a stage or image
 * read in its read-only mount, resolved inside it; a context bind the
 * ignore file filters is a copy of what it lets through; a rw bind is a
 * copy in ROOT/tmp, dropped after the step; secrets are files in a
 * private directory on a tmpfs (/dev/shm), never in the store. All go to
 * the launcher as bind or tmpfs mounts, made in the step's own mount
 * namespace, so none reaches the upper dir; the mount points the step had
 * to create are removed after it when left empty (buildkit's stubs).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "launch/launch.h"
#include "overlay/overlay.h"
#include "recipe/recipe-int.h"

#define TMPFS_MAGIC_NUMBER 0x01021994

static const struct recipe_secret *find_secret(const struct builder *b, const char *id)
{
	for (size_t i = 0; i < b->o->n_secrets; i++)
		if (strcmp(b->o->secrets[i].id, id) == 0)
			return &b->o->secrets[i];
	return NULL;
}

static const char *find_ssh(const struct builder *b, const char *id)
{
	size_t len = strlen(id);

	for (size_t i = 0; b->o->ssh && b->o->ssh[i]; i++)
		if (strncmp(b->o->ssh[i], id, len) == 0 && b->o->ssh[i][len] == '=')
			return b->o->ssh[i] + len + 1;
	return NULL;
}

/* The stage or image from= names, for a bind or a cache seed. */
static int resolve_from(struct builder *b, size_t stage, struct run_mount *rm,
			struct sbuf *key, struct strata_error **err)
{
	long dep = recipe_plan_find_stage(b->plan, rm->m.from, stage);
	const char *ref = NULL;
	int r = recipe_build_context_open(b, rm->m.from, &ref, &rm->ctx_fd, err);

	if (r < 0)
		return strata_wrap(err, "--mount from='%s'", rm->m.from);
	if (r > 0) {
		/* a directory given with --build-context: its files under source= are the input */
		cleanup_free char *src = path_clean(rm->m.source ? rm->m.source : "");
		char dot[] = ".";
		char *srcs[] = { *src ? src : dot, NULL };
		char d[DIGEST_STR_LEN];

		if (recipe_sources_collect_in(rm->ctx_fd, srcs, "the build context", &rm->ctx,
					      err) < 0)
			return strata_wrap(err, "--mount from='%s'", rm->m.from);
		recipe_sources_digest(&rm->ctx, d);
		sbuf_addf(key, "from-context=%s", d);
		return 0;
	}
	if (ref) {
		if (recipe_build_image_get(b, ref, &rm->from_img, err) < 0)
			return strata_wrap(err, "--mount from='%s' (build context)", rm->m.from);
		sbuf_addf(key, "from-image=%s", rm->from_img->manifest_digest);
		return 0;
	}
	if (dep >= 0) {
		if (!b->ss[dep].img)
			return strata_fail_msg(err, EINVAL, "--mount from='%s': the stage has no "
					       "filesystem", rm->m.from);
		rm->from_stage = dep;
		sbuf_addf(key, "from-stage=%s", b->ss[dep].key);
		return 0;
	}
	if (recipe_build_image_get(b, rm->m.from, &rm->from_img, err) < 0)
		return strata_wrap(err, "--mount from='%s' (neither a stage nor an image in the "
				   "store)", rm->m.from);
	sbuf_addf(key, "from-image=%s", rm->from_img->manifest_digest);
	return 0;
}

/* A bind of the context: its files under source= (after the ignore file) are the input. */
static int prepare_context_bind(struct builder *b, struct run_mount *rm, struct sbuf *key,
				struct strata_error **err)
{
	cleanup_free char *src = path_clean(rm->m.source ? rm->m.source : "");
	char *srcs[] = { *src ? src : (char *)".", NULL };
	char d[DIGEST_STR_LEN];

	if (recipe_sources_collect(b->ctxfd, b->ig, srcs, &rm->ctx, err) < 0)
		return strata_wrap(err, "--mount source='%s'", rm->m.source ? rm->m.source : ".");
	if (rm->ctx.n_matched != 1)
		return strata_fail_msg(err, EINVAL, "--mount source='%s' names %zu paths, not one",
				       rm->m.source, rm->ctx.n_matched);
	recipe_sources_digest(&rm->ctx, d);
	sbuf_addf(key, "context=%s", d);
	return 0;
}

static int prepare_one(struct builder *b, size_t stage, const char *wd, struct run_mount *rm,
		       size_t n_ssh, struct sbuf *key, struct strata_error **err)
{
	struct recipe_mount *m = &rm->m;

	rm->from_stage = -1;
	if (!m->target && m->type == RECIPE_MOUNT_SSH)
		m->target = xasprintf("/run/buildkit/ssh_agent.%zu", n_ssh);
	if (m->target) {
		cleanup_free char *abs = m->target[0] == '/' ? xstrdup(m->target)
							     : path_join(wd, m->target);

		rm->target = path_clean(abs);
		if (!*rm->target)
			return strata_fail_msg(err, EINVAL, "--mount target='%s': cannot mount over /",
					       m->target);
	}
	sbuf_addf(key, "\nmount=%s:%s:", recipe_mount_type_name(m->type),
		  rm->target ? rm->target : "");
	switch (m->type) {
	case RECIPE_MOUNT_BIND:
		if (m->from)
			return resolve_from(b, stage, rm, key, err);
		return prepare_context_bind(b, rm, key, err);
	case RECIPE_MOUNT_CACHE:
		/* the seed's source is an input (its stage's key, its image), the content not */
		if (m->from && resolve_from(b, stage, rm, key, err) < 0)
			return -1;
		return 0;
	case RECIPE_MOUNT_TMPFS:
		return 0;
	case RECIPE_MOUNT_SECRET: {
		bool has = find_secret(b, m->id) != NULL;

		if (!has && m->required)
			return strata_fail_msg(err, ENOENT,
					       "secret '%s' is required: give it with --secret id=%s,"
					       "src=FILE",
					       m->id, m->id);
		sbuf_addf(key, "secret=%s:%s", m->id, has ? "present" : "absent");
		return 0;
	}
	case RECIPE_MOUNT_SSH: {
		bool has = find_ssh(b, m->id) != NULL;

		/* the agent's own socket is bound: its owner and mode are the host's */
		if (m->uid >= 0 || m->gid >= 0 || m->mode != 0600)
			return strata_fail_msg(err, ENOTSUP,
					       "type=ssh: uid, gid and mode are not supported (the "
					       "socket is the agent's own)");

		if (!has && m->required)
			return strata_fail_msg(err, ENOENT,
					       "ssh agent '%s' is required: give it with --ssh %s",
					       m->id, m->id);
		sbuf_addf(key, "ssh=%s:%s", m->id, has ? "present" : "absent");
		return 0;
	}
	}
	return 0;
}

int recipe_run_mounts_prepare(struct builder *b, size_t stage, const struct recipe_instr *x,
			      const json_t *config, struct run_mounts *out, struct sbuf *key,
			      struct strata_error **err)
{
	cleanup_strv char **specs = recipe_instr_flag_all(x, "mount");
	const char *wd = jv_str(json_object_get(config, "config"), "WorkingDir");
	size_t n_ssh = 0;

	memset(out, 0, sizeof(*out));
	out->n = strv_len(specs);
	out->v = out->n ? xcalloc(out->n, sizeof(*out->v)) : NULL;
	for (size_t i = 0; i < out->n; i++) {
		out->v[i].fd = -1;
		out->v[i].ctx_fd = -1;
		out->v[i].cache.lock_fd = -1;
	}
	for (size_t i = 0; i < out->n; i++) {
		struct run_mount *rm = &out->v[i];

		if (recipe_mount_parse(specs[i], b->file->escape, &b->ss[stage].vars, &rm->m, err) <
		    0)
			return strata_wrap(err, "RUN");
		if (prepare_one(b, stage, wd && *wd ? wd : "/", rm, n_ssh, key, err) < 0)
			return strata_wrap(err, "RUN");
		n_ssh += rm->m.type == RECIPE_MOUNT_SSH;
	}
	return 0;
}

static int remove_stubs(struct run_mounts *rms, int rootfd, struct strata_error **err);

/* Records the components of @target that @rootfd lacks, deepest last, as stubs to remove. */
static void note_stubs(struct run_mounts *rms, int rootfd, const char *target)
{
	cleanup_free char *p = xstrdup(target);
	bool missing = false;

	for (char *s = p;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			struct stat st;
			cleanup_free char *owner = NULL;
			const char *base;
			cleanup_close int dfd = -1;

			*s = '\0';
			if (!missing) {
				dfd = path_open_parent_in(rootfd, p, false, &owner, &base, NULL);
				missing = dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0;
				/* its parent's times, put back once the stubs are gone */
				if (missing && dfd >= 0 && fstat(dfd, &st) == 0) {
					const char *slash = strrchr(p, '/');

					rms->parents = xrealloc(rms->parents, (rms->n_parents + 1) *
									  sizeof(*rms->parents));
					rms->parents[rms->n_parents++] = (struct stub_parent){
						xstrndup(p, slash ? (size_t)(slash - p) : 0),
						xstrdup(p), st.st_atim, st.st_mtim
					};
				}
			}
			if (missing)
				strv_append(&rms->stubs, p);
			*s = c;
			if (!c)
				break;
		}
	}
}

int recipe_run_mounts_unstub(struct run_mounts *rms, int rootfd, struct strata_error **err)
{
	int r = remove_stubs(rms, rootfd, err);

	/* the directories that held them keep their times, as buildkit's stub cleaner does */
	for (size_t i = r == 0 ? rms->n_parents : 0; i-- > 0;) {
		const struct stub_parent *sp = &rms->parents[i];
		cleanup_close int fd = *sp->path ? path_open_in(rootfd, sp->path,
								O_RDONLY | O_DIRECTORY, 0, NULL)
						 : openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		const char *slash = strrchr(sp->stub, '/');
		struct timespec ts[2] = { sp->atime, sp->mtime };
		struct stat st;

		/* only where the stub went: what the step made there keeps its mark */
		if (fd >= 0 && fstatat(fd, slash ? slash + 1 : sp->stub, &st, AT_SYMLINK_NOFOLLOW) < 0)
			futimens(fd, ts);
	}
	return r;
}

static int remove_stubs(struct run_mounts *rms, int rootfd, struct strata_error **err)
{
	/* deepest first: the later a stub was noted under a target, the deeper it is */
	for (size_t i = strv_len(rms->stubs); i-- > 0;) {
		cleanup_free char *owner = NULL;
		const char *base;
		cleanup_close int dfd = path_open_parent_in(rootfd, rms->stubs[i], false, &owner,
							     &base, NULL);
		struct stat st;

		if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) && st.st_size == 0 && unlinkat(dfd, base, 0) < 0)
			return strata_fail(err, errno, "remove the mount point '/%s'",
					   rms->stubs[i]);
		if (S_ISDIR(st.st_mode) && unlinkat(dfd, base, AT_REMOVEDIR) < 0 &&
		    errno != ENOTEMPTY && errno != EEXIST)
			return strata_fail(err, errno, "remove the mount point '/%s'",
					   rms->stubs[i]);
	}
	return 0;
}

static void add_mount(struct launch_spec *spec, const char *source, const char *target,
		      bool ro, bool tmpfs, uint64_t size)
{
	spec->mounts = xrealloc(spec->mounts, (spec->n_mounts + 1) * sizeof(*spec->mounts));
	spec->mounts[spec->n_mounts++] = (struct launch_mount){
		.source = source ? xstrdup(source) : NULL,
		.destination = xasprintf("/%s", target),
		.readonly = ro,
		.tmpfs = tmpfs,
		.tmpfs_size = size,
	};
}

/* The rootfs from= names, mounted read-only; an fd on its root. */
static int open_from_root(struct builder *b, struct run_mount *rm, struct strata_error **err)
{
	const struct store_image *img = rm->from_stage >= 0 ? b->ss[rm->from_stage].img
							    : rm->from_img;
	cleanup_free char *merged = NULL;
	int fd;

	if (overlay_image_mount(b->s, b->o->backend, img, &merged, err) < 0)
		return -1;
	rm->mounted_id = xstrdup(img->id);
	fd = open(merged, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", merged);
	return fd;
}

/* A copy of @srcfd (a directory or a file) in a new ROOT/tmp dir; the path to bind. */
static char *copy_to_tmp(struct builder *b, struct run_mount *rm, int srcfd,
			 struct strata_error **err)
{
	cleanup_close int dfd = store_tmp_mkdir(b->s, ".mount", 0755, &rm->tmp_name, err);
	struct stat st;

	if (dfd < 0 || fstat(srcfd, &st) < 0)
		return NULL;
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int rd = openat(srcfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (rd < 0 || overlay_tree_copy(rd, dfd, err) < 0)
			return NULL;
		return xasprintf("%s/tmp/%s", store_root(b->s), rm->tmp_name);
	}
	{
		cleanup_free char *p = xasprintf("/proc/self/fd/%d", srcfd);
		cleanup_close int in = open(p, O_RDONLY | O_CLOEXEC);
		cleanup_close int out = -1;

		out = openat(dfd, "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
		if (in < 0 || out < 0) {
			strata_fail(err, errno, "copy the bind source");
			return NULL;
		}
		if (file_copy_fd(in, out, err) < 0)
			return NULL;
	}
	return xasprintf("%s/tmp/%s/file", store_root(b->s), rm->tmp_name);
}

/* The context files a filtered bind shows: those the ignore file lets through, copied. */
static int materialise_context(struct builder *b, struct run_mount *rm, int *out,
			       struct strata_error **err)
{
	cleanup_close int dfd = store_tmp_mkdir(b->s, ".mount", 0755, &rm->tmp_name, err);

	if (dfd < 0)
		return -1;
	for (size_t i = 0; i < rm->ctx.n_entries; i++) {
		const struct recipe_entry *e = &rm->ctx.entries[i];
		const char *rel = *e->rel ? e->rel : NULL;

		if (S_ISDIR(e->mode)) {
			if (rel && mkdirat(dfd, rel, e->mode & 07777) < 0)
				return strata_fail(err, errno, "copy '%s'", e->path);
		} else if (S_ISLNK(e->mode)) {
			if (symlinkat(e->link, dfd, rel ? rel : "file") < 0)
				return strata_fail(err, errno, "copy '%s'", e->path);
		} else if (S_ISREG(e->mode)) {
			cleanup_close int in = path_open_in(b->ctxfd, e->path, O_RDONLY | O_NOFOLLOW,
							    0, err);
			cleanup_close int o = -1;

			if (in < 0)
				return -1;
			o = openat(dfd, rel ? rel : "file", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
				   e->mode & 07777);
			if (o < 0)
				return strata_fail(err, errno, "copy '%s'", e->path);
			if (file_copy_fd(in, o, err) < 0)
				return -1;
		}
	}
	if (rm->ctx.n_entries && !S_ISDIR(rm->ctx.entries[0].mode))
		*out = openat(dfd, "file", O_PATH | O_NOFOLLOW | O_CLOEXEC);
	else
		*out = openat(dfd, ".", O_PATH | O_CLOEXEC);
	if (*out < 0)
		return strata_fail(err, errno, "open the copy of '%s'", rm->m.source);
	return 0;
}

/* A bind: an fd on its source, resolved inside the context or the from= rootfs. */
static int setup_bind(struct builder *b, struct run_mount *rm, struct launch_spec *spec,
		      struct strata_error **err)
{
	cleanup_free char *src = path_clean(rm->m.source ? rm->m.source : "");
	cleanup_close int rootfd = -1;
	cleanup_free char *host = NULL;

	if (rm->ctx_fd >= 0) {
		rm->fd = *src ? path_open_in(rm->ctx_fd, src, O_PATH, 0, err)
			      : openat(rm->ctx_fd, ".", O_PATH | O_CLOEXEC);
		if (rm->fd < 0)
			return strata_wrap(err, "--mount source='%s'", *src ? src : "/");
	} else if (!rm->m.from && !recipe_ignore_is_empty(b->ig)) {
		if (materialise_context(b, rm, &rm->fd, err) < 0)
			return -1;
	} else {
		int base = b->ctxfd;

		if (rm->m.from) {
			rootfd = open_from_root(b, rm, err);
			if (rootfd < 0)
				return -1;
			base = rootfd;
		}
		rm->fd = *src ? path_open_in(base, src, O_PATH, 0, err)
			      : openat(base, ".", O_PATH | O_CLOEXEC);
		if (rm->fd < 0)
			return strata_wrap(err, "--mount source='%s'", *src ? src : "/");
	}
	if (!rm->m.readonly && !rm->tmp_name) {
		/* rw: writes go to a copy, dropped after the step (a filtered context is one) */
		if (!(host = copy_to_tmp(b, rm, rm->fd, err)))
			return strata_wrap(err, "--mount source='%s' (rw)", *src ? src : "/");
	} else {
		/*
		 * The path it resolved to: the step's mount namespace is a copy of
		 * ours, where an fd of ours names a mount of another namespace,
		 * which bind refuses (EINVAL), while the same path resolves.
		 */
		char p[64];

		snprintf(p, sizeof(p), "/proc/self/fd/%d", rm->fd);
		host = realpath(p, NULL);
		if (!host)
			return strata_fail(err, errno, "--mount source='%s'", *src ? src : "/");
	}
	add_mount(spec, host, rm->target, rm->m.readonly, false, 0);
	return 0;
}

static int setup_cache(struct builder *b, struct run_mount *rm, struct launch_spec *spec,
		       struct strata_error **err)
{
	static const enum store_cachedir_sharing sh[] = {
		[RECIPE_SHARING_SHARED] = STORE_CACHEDIR_SHARED,
		[RECIPE_SHARING_PRIVATE] = STORE_CACHEDIR_PRIVATE,
		[RECIPE_SHARING_LOCKED] = STORE_CACHEDIR_LOCKED,
	};

	if (store_cachedir_open(b->s, rm->m.id, sh[rm->m.sharing], &rm->cache, err) < 0)
		return -1;
	if (rm->cache.is_new) {
		cleanup_close int cfd = open(rm->cache.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (cfd < 0)
			return strata_fail(err, errno, "open '%s'", rm->cache.path);
		if (rm->m.from) {
			cleanup_free char *src = path_clean(rm->m.source ? rm->m.source : "");
			cleanup_close int rootfd = rm->ctx_fd >= 0
							   ? fcntl(rm->ctx_fd, F_DUPFD_CLOEXEC, 3)
							   : open_from_root(b, rm, err);
			cleanup_close int sfd = -1;

			if (rootfd < 0)
				return -1;
			sfd = *src ? path_open_in(rootfd, src, O_RDONLY | O_DIRECTORY, 0, err)
				   : openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sfd < 0 || overlay_tree_copy(sfd, cfd, err) < 0)
				return strata_wrap(err, "seed cache '%s' from '%s'", rm->m.id,
						   rm->m.from);
		}
		if (fchown(cfd, rm->m.uid < 0 ? 0 : (uid_t)rm->m.uid,
			   rm->m.gid < 0 ? 0 : (gid_t)rm->m.gid) < 0 ||
		    fchmod(cfd, (mode_t)rm->m.mode) < 0)
			return strata_fail(err, errno, "cache '%s': set its owner and mode", rm->m.id);
	}
	if (store_cachedir_ready(&rm->cache, err) < 0)
		return -1;
	add_mount(spec, rm->cache.path, rm->target, rm->m.readonly, false, 0);
	return 0;
}

/*
 * A private directory for the step's secret files on a tmpfs (/dev/shm),
 * so that no secret byte is ever written to the store's disk.
 */
static int secret_dir(struct run_mounts *rms, struct strata_error **err)
{
	static const char *const bases[] = { "/dev/shm", "/run" };
	struct statfs sf;

	if (rms->secret_dir)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		char *t;

		if (statfs(bases[i], &sf) < 0 || (unsigned long)sf.f_type != TMPFS_MAGIC_NUMBER)
			continue;
		t = xasprintf("%s/strata-secrets-XXXXXX", bases[i]);
		if (mkdtemp(t)) {
			rms->secret_dir = t;
			return 0;
		}
		free(t);
	}
	return strata_fail_msg(err, ENOTSUP, "no tmpfs (/dev/shm or /run) to hold secrets in");
}

static int setup_secret(struct builder *b, struct run_mounts *rms, size_t i,
			struct launch_spec *spec, struct strata_error **err)
{
	struct run_mount *rm = &rms->v[i];
	const struct recipe_secret *sec = find_secret(b, rm->m.id);
	cleanup_free char *path = NULL;
	cleanup_close int fd = -1;

	if (!sec)
		return 0; /* not required, not given: no file, as buildkit */
	if (rm->m.env) {
		cleanup_free char *kv = xasprintf("%s=%.*s", rm->m.env, (int)sec->len, sec->data);

		strv_append(&spec->env, kv);
		explicit_bzero(kv, strlen(kv));
	}
	if (!rm->target)
		return 0;
	if (secret_dir(rms, err) < 0)
		return -1;
	path = xasprintf("%s/%zu", rms->secret_dir, i);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || file_write_all(fd, sec->data, sec->len, err) < 0 ||
	    fchown(fd, rm->m.uid < 0 ? 0 : (uid_t)rm->m.uid, rm->m.gid < 0 ? 0 : (gid_t)rm->m.gid) <
		0 ||
	    fchmod(fd, (mode_t)rm->m.mode) < 0)
		return strata_fail(err, errno, "secret '%s'", rm->m.id);
	add_mount(spec, path, rm->target, true, false, 0);
	return 0;
}

static int setup_ssh(struct builder *b, struct run_mount *rm, struct launch_spec *spec,
		     bool *sock_set, struct strata_error **err)
{
	const char *sock = find_ssh(b, rm->m.id);
	struct stat st;

	if (!sock)
		return 0;
	if (stat(sock, &st) < 0 || !S_ISSOCK(st.st_mode))
		return strata_fail_msg(err, EINVAL, "--ssh %s: '%s' is not an agent socket", rm->m.id,
				       sock);
	add_mount(spec, sock, rm->target, false, false, 0);
	if (!*sock_set) {
		cleanup_free char *kv = xasprintf("SSH_AUTH_SOCK=/%s", rm->target);

		strv_append(&spec->env, kv);
		*sock_set = true;
	}
	return 0;
}

/* Shallower targets first, so that a mount inside another is made after it. */
static int by_depth(const void *a, const void *b)
{
	const struct launch_mount *x = a, *y = b;
	size_t dx = 0, dy = 0;

	for (const char *s = x->destination; *s; s++)
		dx += *s == '/';
	for (const char *s = y->destination; *s; s++)
		dy += *s == '/';
	return dx < dy ? -1 : dx > dy;
}

int recipe_run_mounts_setup(struct builder *b, struct run_mounts *rms, int rootfd,
			    struct launch_spec *spec, struct strata_error **err)
{
	bool sock_set = false;
	size_t first = spec->n_mounts;

	for (size_t i = 0; i < rms->n; i++) {
		struct run_mount *rm = &rms->v[i];
		int r = 0;

		switch (rm->m.type) {
		case RECIPE_MOUNT_BIND:
			r = setup_bind(b, rm, spec, err);
			break;
		case RECIPE_MOUNT_CACHE:
			r = setup_cache(b, rm, spec, err);
			break;
		case RECIPE_MOUNT_TMPFS:
			add_mount(spec, NULL, rm->target, false, true, rm->m.size);
			break;
		case RECIPE_MOUNT_SECRET:
			r = setup_secret(b, rms, i, spec, err);
			break;
		case RECIPE_MOUNT_SSH:
			r = setup_ssh(b, rm, spec, &sock_set, err);
			break;
		}
		if (r < 0)
			return strata_wrap(err, "RUN --mount '%s'", rm->target ? rm->target : rm->m.id);
	}
	for (size_t i = first; i < spec->n_mounts; i++)
		note_stubs(rms, rootfd, spec->mounts[i].destination + 1);
	if (spec->n_mounts > first)
		qsort(spec->mounts + first, spec->n_mounts - first, sizeof(*spec->mounts), by_depth);
	return 0;
}

void recipe_run_mounts_release(struct builder *b, struct run_mounts *rms)
{
	for (size_t i = 0; i < rms->n; i++) {
		struct run_mount *rm = &rms->v[i];

		if (rm->fd >= 0)
			close(rm->fd);
		if (rm->ctx_fd >= 0)
			close(rm->ctx_fd);
		if (rm->cache.lock_fd >= 0 || rm->cache.path)
			store_cachedir_close(&rm->cache);
		if (rm->mounted_id)
			overlay_image_umount(b->s, b->o->backend, rm->mounted_id, false, NULL);
		if (rm->tmp_name)
			store_tmp_remove(b->s, rm->tmp_name, NULL);
		store_image_free(rm->from_img);
		recipe_sources_release(&rm->ctx);
		free(rm->mounted_id);
		free(rm->tmp_name);
		free(rm->target);
		recipe_mount_release(&rm->m);
	}
	if (rms->secret_dir) {
		cleanup_close int fd = open(rms->secret_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		/* the files go, then the dir */
		for (size_t i = 0; fd >= 0 && i < rms->n; i++) {
			char name[32];

			snprintf(name, sizeof(name), "%zu", i);
			unlinkat(fd, name, 0);
		}
		rmdir(rms->secret_dir);
		free(rms->secret_dir);
	}
	strv_free(rms->stubs);
	for (size_t i = 0; i < rms->n_parents; i++) {
		free(rms->parents[i].path);
		free(rms->parents[i].stub);
	}
	free(rms->parents);
	free(rms->v);
	memset(rms, 0, sizeof(*rms));
}
