/*
 * COPY and ADD (Dockerfile reference, and what docker and buildah do):
 *  - several sources need a destination ending in '/'; a directory source
 *    copies its contents; a file lands at DEST, or DEST/NAME when DEST ends
 *    in '/' or is a directory already; a relative DEST is under WORKDIR;
 *  - context files belong to 0:0 unless --chown (names looked up in the
 *    image's /etc/passwd and /etc/group; a user alone gives its UID as GID
 *    too) and lose setuid/setgid; --from keeps owners and modes; --chmod
 *    sets the permission bits; mtimes (of directories too, set once their
 *    contents are written), user.* xattrs and hard links are kept;
 *  - the directory a directory source is copied into keeps its owner and
 *    mode when it exists; when it does not, it and the missing parents of
 *    any destination are made 0755, owned by --chown's owner (else root);
 *    a directory in the way of a file or a link is replaced;
 *  - heredoc sources are files named by their delimiter, mode 0644;
 *  - ADD extracts a local tar archive (any compression libarchive reads) into
 *    DEST, keeping owners unless --chown, everything it names resolved
 *    inside DEST; a URL is downloaded (mode 0600) and checked against
 *    --checksum; git sources are refused.
 * Everything is written inside the root filesystem through util/path, so a
 * symlink in the image (or in an archive) never leads out of it; a dangling
 * one on the way to a destination has its target made, inside the rootfs.
 */
#include <archive.h>
#include <archive_entry.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "recipe/recipe-int.h"

/* A directory whose mtime is set once everything inside it is written. */
struct dir_time {
	char *path;
	struct timespec mtime;
};

/* A hard-linked source file already copied: later links to it become links to @target. */
struct link_seen {
	dev_t dev;
	ino_t ino;
	char *target;
};

struct copy_ctx {
	int rootfd;	     /* where to write */
	int srcfd;	     /* where local sources are read (context or --from rootfs) */
	bool has_owner;	     /* --chown */
	uid_t uid;
	gid_t gid;
	bool has_mode; /* --chmod */
	mode_t mode;
	bool keep_owner;   /* sources keep their owners (--from); context files become 0:0 */
	bool strip_setid;  /* context files lose setuid and setgid, as with docker */
	int64_t clamp; /* --timestamp: mtimes later than it become it; -1: kept */
	struct dir_time *dirs;
	size_t n_dirs, cap_dirs;
	struct link_seen *links;
	size_t n_links, cap_links;
	struct strata_error **err;
};

/* ---- sources ---- */

static bool is_url(const char *s)
{
	return str_has_prefix(s, "http://") || str_has_prefix(s, "https://");
}

/* The heredoc a "<<NAME" source names, or NULL. */
static const struct recipe_heredoc *heredoc_of(const struct recipe_instr *x, const char *arg)
{
	const char *p = arg;

	while (isdigit((unsigned char)*p))
		p++;
	if (!str_has_prefix(p, "<<"))
		return NULL;
	p += 2;
	if (*p == '-')
		p++;
	for (size_t i = 0; i < x->n_heredocs; i++) {
		cleanup_free char *name = recipe_expand_word(p, '\\', NULL, NULL);

		if (name && strcmp(name, x->heredocs[i].name) == 0)
			return &x->heredocs[i];
		if (strcmp(p, x->heredocs[i].name) == 0)
			return &x->heredocs[i];
	}
	return NULL;
}

/*
 * COPY/ADD --exclude: drops the entries the patterns (.dockerignore rules,
 * repeatable) match, each path taken as it lands under the destination:
 * relative to a directory source, or a file source's name.
 */
static int apply_excludes(const struct recipe_instr *x, struct recipe_sources *src,
			  struct strata_error **err)
{
	cleanup_strv char **pats = recipe_instr_flag_all(x, "exclude");
	struct recipe_ignore *ig = NULL;
	struct sbuf text = SBUF_INIT;
	size_t kept = 0;

	if (!pats[0] || !src->n_entries)
		return 0;
	for (size_t i = 0; pats[i]; i++) {
		if (!*pats[i]) {
			sbuf_release(&text);
			return strata_fail_msg(err, EINVAL, "%s --exclude: empty pattern",
					       recipe_cmd_name(x->cmd));
		}
		sbuf_addf(&text, "%s\n", pats[i]);
	}
	if (recipe_ignore_parse(text.buf, text.len, "--exclude", &ig, err) < 0) {
		sbuf_release(&text);
		return strata_wrap(err, "%s", recipe_cmd_name(x->cmd));
	}
	sbuf_release(&text);
	for (size_t i = 0; i < src->n_entries; i++) {
		struct recipe_entry *e = &src->entries[i];
		const char *m = src->matched[e->source];
		const char *slash = strrchr(m, '/');
		const char *rel = src->is_dir[e->source] ? e->rel : (slash ? slash + 1 : m);

		if (*rel && recipe_ignore_match(ig, rel)) {
			free(e->path);
			free(e->rel);
			free(e->link);
			free(e->xattrs);
			continue;
		}
		src->entries[kept++] = *e;
	}
	src->n_entries = kept;
	recipe_ignore_free(ig);
	return 0;
}

/*
 * COPY --parents: what of a matched source's path is kept under the
 * destination: all of it, or what follows a "/./" pivot in its pattern.
 */
static const char *parents_kept(const struct copy_job *job, const char *matched)
{
	for (size_t i = 0; job->patterns[i]; i++) {
		const char *p = job->patterns[i];
		const char *piv;
		cleanup_free char *raw = NULL;
		cleanup_free char *pre = NULL;
		size_t n;

		while (str_has_prefix(p, "./"))
			p += 2;
		while (*p == '/')
			p++;
		piv = strstr(p, "/./");
		if (!piv)
			continue;
		raw = xstrndup(p, (size_t)(piv - p));
		pre = path_clean(raw);
		n = strlen(pre);
		if (n && strncmp(matched, pre, n) == 0 && matched[n] == '/')
			return matched + n + 1;
	}
	return matched;
}

/* ADD of a git URL: the checkout's files are the sources, keyed by their content. */
static int prepare_git(struct builder *b, const struct recipe_instr *x, struct copy_job *job,
		       const char *url, const char *checksum, struct strata_error **err)
{
	const char *keep = recipe_instr_flag(x, "keep-git-dir");
	char dot[] = ".";
	char *root[] = { dot, NULL };

	if (recipe_git_fetch(b->s, url, keep && strcasecmp(keep, "false") != 0, &job->git_tmp,
			     &job->src_fd, job->git_commit, err) < 0)
		return strata_wrap(err, "ADD");
	/* --checksum of a git source is its commit, as the dockerfile frontend checks it */
	if (checksum && *checksum && strcmp(checksum, job->git_commit) != 0)
		return strata_fail_msg(err, EINVAL,
				       "ADD: checksum mismatch for '%s': expected %s, got commit %s",
				       url, checksum, job->git_commit);
	free(job->local.matched);
	job->local.matched = NULL;
	job->has_src_fd = job->src_fd >= 0;
	if (recipe_sources_collect_in(job->src_fd, root, "the git checkout", &job->local, err) < 0)
		return strata_wrap(err, "ADD");
	if (apply_excludes(x, &job->local, err) < 0)
		return -1;
	job->n_items = 1;
	return 0;
}

int recipe_copy_prepare(struct builder *b, size_t stage, const struct recipe_instr *x,
			struct copy_job *job, struct strata_error **err)
{
	const char *cmd = recipe_cmd_name(x->cmd);
	const char *from = recipe_instr_flag(x, "from");
	const char *checksum = recipe_instr_flag(x, "checksum");

	job->s = b->s;
	job->is_add = x->cmd == RECIPE_ADD;
	job->from_stage = -1;
	job->patterns = xcalloc(1, sizeof(char *));
	job->urls = xcalloc(1, sizeof(char *));
	job->url_files = xcalloc(1, sizeof(char *));
	job->url_digests = xcalloc(1, sizeof(char *));
	job->local.matched = xcalloc(1, sizeof(char *));
	job->dest = xstrdup(x->args[x->n_args - 1]);
	job->docs = xcalloc(x->n_args, sizeof(*job->docs));
	for (size_t i = 0; i + 1 < x->n_args; i++) {
		const char *a = x->args[i];
		const struct recipe_heredoc *h = heredoc_of(x, a);

		if (h) {
			job->docs[job->n_docs++] = h;
		} else if (recipe_git_is_url(a)) {
			if (!job->is_add)
				return strata_fail_msg(err, EINVAL,
						       "COPY: source can't be a git URL ('%s'): use ADD",
						       a);
			if (x->n_args != 2 || from)
				return strata_fail_msg(err, EINVAL,
						       "ADD: a git source must be the only source, "
						       "without --from");
			return prepare_git(b, x, job, a, checksum, err);
		} else if (is_url(a)) {
			if (!job->is_add)
				return strata_fail_msg(err, EINVAL,
						       "COPY: source can't be a URL ('%s'): use ADD", a);
			if (from)
				return strata_fail_msg(err, EINVAL, "ADD: a URL source cannot use --from");
			strv_append(&job->urls, a);
		} else {
			strv_append(&job->patterns, a);
		}
	}
	if (checksum && (!job->urls[0] || job->urls[1] || job->patterns[0]))
		return strata_fail_msg(err, EINVAL, "ADD --checksum needs exactly one URL source");
	if (checksum && (!str_has_prefix(checksum, "sha256:") || !digest_is_valid(checksum)))
		return strata_fail_msg(err, EINVAL, "ADD --checksum '%s' is not sha256:<64 hex digits>",
				       checksum);
	if (from && *from) {
		long dep = recipe_plan_find_stage(b->plan, from, stage);
		const char *ref = NULL;
		int r = recipe_build_context_open(b, from, &ref, &job->src_fd, err);

		if (r < 0)
			return strata_wrap(err, "%s --from", cmd);
		if (r > 0) {
			/* a directory given with --build-context: sources as from the context */
			cleanup_free char *where = xasprintf("build context '%s'", from);

			job->has_src_fd = true;
			free(job->local.matched);
			job->local.matched = NULL;
			if (recipe_sources_collect_in(job->src_fd, job->patterns, where, &job->local,
						      err) < 0)
				return strata_wrap(err, "%s --from", cmd);
			if (apply_excludes(x, &job->local, err) < 0)
				return -1;
		} else if (ref) {
			if (recipe_build_image_get(b, ref, &job->from, err) < 0)
				return strata_wrap(err, "%s --from (build context '%s')", cmd, from);
		} else if (dep >= 0) {
			if (!b->ss[dep].img)
				return strata_fail_msg(err, EINVAL, "COPY --from stage '%s' was not built",
						       from);
			job->from_stage = dep;
			if (store_image_load_manifest(b->s, b->ss[dep].img->manifest_digest,
						      &job->from, err) < 0)
				return -1;
		} else if (recipe_build_image_get(b, from, &job->from, err) < 0) {
			return strata_wrap(err, "COPY --from");
		}
	} else if (job->patterns[0]) {
		free(job->local.matched); /* the collect below fills it */
		job->local.matched = NULL;
		if (recipe_sources_collect(b->ctxfd, b->ig, job->patterns, &job->local, err) < 0)
			return strata_wrap(err, "%s", cmd);
		if (apply_excludes(x, &job->local, err) < 0)
			return -1;
	}
	for (size_t i = 0; job->urls[i]; i++) {
		char *file = NULL;
		char d[DIGEST_STR_LEN];

		if (recipe_fetch(b->s, job->urls[i], &file, d, err) < 0)
			return strata_wrap(err, "ADD");
		strv_append(&job->url_files, file);
		free(file);
		strv_append(&job->url_digests, d);
		if (checksum && strcmp(checksum, d) != 0)
			return strata_fail_msg(err, EINVAL,
					       "ADD: checksum mismatch for '%s': expected %s, got %s",
					       job->urls[i], checksum, d);
	}
	job->n_items = job->local.n_matched + job->n_docs + strv_len(job->urls);
	return 0;
}

void recipe_copy_digest(const struct copy_job *job, char out[DIGEST_STR_LEN])
{
	struct sbuf b = SBUF_INIT;
	char d[DIGEST_STR_LEN];

	/*
	 * A git checkout is its commit (the URL, ref, subdir and flags are in
	 * the instruction): a fresh clone's .git differs byte for byte.
	 */
	if (job->git_tmp) {
		sbuf_addf(&b, "git %s", job->git_commit);
	} else {
		recipe_sources_digest(&job->local, d);
		sbuf_addf(&b, "local %s", d);
	}
	sbuf_add(&b, "", 1);
	for (size_t i = 0; i < job->n_docs; i++) {
		sbuf_add(&b, job->docs[i]->name, strlen(job->docs[i]->name) + 1);
		sbuf_add(&b, job->docs[i]->content, strlen(job->docs[i]->content) + 1);
	}
	for (size_t i = 0; job->urls[i]; i++) {
		sbuf_add(&b, job->urls[i], strlen(job->urls[i]) + 1);
		sbuf_add(&b, job->url_digests[i], strlen(job->url_digests[i]) + 1);
	}
	if (job->from)
		sbuf_addf(&b, "from %s", job->from->id);
	sbuf_add(&b, "", 1);
	digest_buf(b.buf, b.len, out);
	sbuf_release(&b);
}

void recipe_copy_job_release(struct copy_job *job)
{
	for (size_t i = 0; job->url_files && job->url_files[i]; i++)
		unlink(job->url_files[i]);
	if (job->has_src_fd)
		close(job->src_fd);
	if (job->git_tmp) {
		store_tmp_remove(job->s, job->git_tmp, NULL);
		free(job->git_tmp);
	}
	strv_free(job->patterns);
	recipe_sources_release(&job->local);
	free(job->docs);
	strv_free(job->urls);
	strv_free(job->url_files);
	strv_free(job->url_digests);
	free(job->dest);
	store_image_free(job->from);
	memset(job, 0, sizeof(*job));
}

/* ---- --chown and --chmod ---- */

/* Looks @name up in the colon-separated database @file (passwd, group) of @rootfd. */
static int lookup_db(int rootfd, const char *file, const char *name, long *id, long *gid)
{
	cleanup_close int fd = path_open_in(rootfd, file, O_RDONLY, 0, NULL);
	cleanup_free char *buf = NULL;
	char *line, *save = NULL;

	if (fd < 0 || file_read_fd(fd, 4 << 20, &buf, NULL, NULL) < 0)
		return -1;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4] = { NULL };
		char *p = line;

		for (int i = 0; i < 4 && p; i++) {
			f[i] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		if (!f[0] || !f[2] || strcmp(f[0], name) != 0)
			continue;
		*id = strtol(f[2], NULL, 10);
		if (gid)
			*gid = f[3] ? strtol(f[3], NULL, 10) : *id;
		return 0;
	}
	return -1;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int recipe_copy_parse_chown(int rootfd, const char *spec, uid_t *uid, gid_t *gid,
			    struct strata_error **err)
{
	const char *colon = strchr(spec, ':');
	cleanup_free char *user = xstrndup(spec, colon ? (size_t)(colon - spec) : strlen(spec));
	const char *group = colon ? colon + 1 : NULL;
	long u, g = -1;

	if (all_digits(user)) {
		u = strtol(user, NULL, 10);
	} else if (lookup_db(rootfd, "etc/passwd", user, &u, &g) < 0) {
		return strata_fail_msg(err, ENOENT,
				       "unable to find user %s: no matching entries in passwd file",
				       user);
	}
	/* A user alone: its numeric UID is the GID as well (Dockerfile reference). */
	g = u;
	if (group && *group) {
		if (all_digits(group))
			g = strtol(group, NULL, 10);
		else if (lookup_db(rootfd, "etc/group", group, &g, NULL) < 0)
			return strata_fail_msg(err, ENOENT,
					       "unable to find group %s: no matching entries in group file",
					       group);
	}
	if (u < 0 || g < 0 || u > 0x7fffffff || g > 0x7fffffff)
		return strata_fail_msg(err, EINVAL, "invalid --chown '%s'", spec);
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

static int parse_chmod(const char *spec, mode_t *mode, struct strata_error **err)
{
	char *end = NULL;
	unsigned long m;

	errno = 0;
	m = strtoul(spec, &end, 8);
	if (!*spec || *end || errno || m > 07777)
		return strata_fail_msg(err, EINVAL, "invalid --chmod '%s': an octal mode is expected",
				       spec);
	*mode = (mode_t)m;
	return 0;
}

/* ---- writing into the root filesystem ---- */

static int64_t clamp_time(const struct copy_ctx *c, int64_t t)
{
	return c->clamp >= 0 && t > c->clamp ? c->clamp : t;
}

static int set_times(struct copy_ctx *c, int dirfd, const char *name, const char *path,
		     const struct timespec *mtime)
{
	struct timespec ts[2];

	ts[0] = *mtime;
	ts[1] = *mtime;
	ts[0].tv_sec = ts[1].tv_sec = clamp_time(c, mtime->tv_sec);
	if (c->clamp >= 0 && mtime->tv_sec >= c->clamp)
		ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (utimensat(dirfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return strata_fail(c->err, errno, "set times of '/%s'", path);
	return 0;
}

/*
 * Sets owner, mode and mtime. A directory's mtime waits until its contents
 * are written (copy_dir_times), or writing them would change it again.
 */
static int set_meta(struct copy_ctx *c, int dirfd, const char *name, const char *path,
		    mode_t mode, uid_t uid, gid_t gid, const struct timespec *mtime)
{
	if (c->has_owner) {
		uid = c->uid;
		gid = c->gid;
	}
	if (fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return strata_fail(c->err, errno, "chown '/%s'", path);
	if (!S_ISLNK(mode)) {
		mode_t perm = c->has_mode ? c->mode : (mode & 07777);

		if (c->strip_setid && !c->has_mode)
			perm &= ~(mode_t)(S_ISUID | S_ISGID);
		if (fchmodat(dirfd, name, perm, 0) < 0)
			return strata_fail(c->err, errno, "chmod '/%s'", path);
	}
	if (!mtime)
		return 0;
	if (S_ISDIR(mode)) {
		c->dirs = xgrow(c->dirs, &c->cap_dirs, c->n_dirs, sizeof(*c->dirs));
		c->dirs[c->n_dirs].path = xstrdup(path);
		c->dirs[c->n_dirs].mtime = *mtime;
		c->n_dirs++;
		return 0;
	}
	return set_times(c, dirfd, name, path, mtime);
}

/* Sets the directory mtimes set_meta put aside, the deepest first. */
static int copy_dir_times(struct copy_ctx *c)
{
	int r = 0;

	for (size_t i = c->n_dirs; i-- > 0;) {
		struct dir_time *d = &c->dirs[i];
		cleanup_free char *owner = NULL;
		const char *base;
		cleanup_close int dirfd = -1;

		if (r == 0) {
			dirfd = path_open_parent_in(c->rootfd, d->path, false, &owner, &base, c->err);
			if (dirfd < 0 || set_times(c, dirfd, base, d->path, &d->mtime) < 0)
				r = -1;
		}
		free(d->path);
	}
	free(c->dirs);
	c->dirs = NULL;
	c->n_dirs = c->cap_dirs = 0;
	return r;
}

static void copy_ctx_release(struct copy_ctx *c)
{
	for (size_t i = 0; i < c->n_dirs; i++)
		free(c->dirs[i].path);
	free(c->dirs);
	for (size_t i = 0; i < c->n_links; i++)
		free(c->links[i].target);
	free(c->links);
	c->dirs = NULL;
	c->links = NULL;
	c->n_dirs = c->n_links = c->cap_dirs = c->cap_links = 0;
}

/* Copies the user.* extended attributes of @src to @dst (both open fds). */
static int copy_xattrs(struct copy_ctx *c, int src, int dst, const char *path)
{
	char names[8192];
	ssize_t n = sys_flistxattr(src, names, sizeof(names));

	if (n < 0)
		return errno == ENOTSUP || errno == EBADF ? 0
							  : strata_fail(c->err, errno, "list xattrs of '%s'", path);
	for (char *k = names; k < names + n; k += strlen(k) + 1) {
		char val[65536];
		ssize_t vn;

		if (!str_has_prefix(k, "user."))
			continue;
		vn = sys_fgetxattr(src, k, val, sizeof(val));
		if (vn < 0)
			return strata_fail(c->err, errno, "read xattr %s of '%s'", k, path);
		if (sys_fsetxattr(dst, k, val, (size_t)vn, 0) < 0)
			return strata_fail(c->err, errno, "set xattr %s on '/%s'", k, path);
	}
	return 0;
}

/*
 * Opens the parent of @path (a clean path inside the root), creating the
 * missing directories (0755, the --chown owner) and following a dangling
 * symlink on the way inside the root.
 */
static int open_parent(struct copy_ctx *c, const char *path, char **owner, const char **base)
{
	char *clean = path_clean(path);
	char *slash = strrchr(clean, '/');
	int fd;

	*owner = clean;
	if (!slash) {
		*base = *clean ? clean : ".";
		fd = fcntl(c->rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return strata_fail(c->err, errno, "dup root fd");
		return fd;
	}
	*slash = '\0';
	fd = path_mkdirs_owned_in(c->rootfd, clean, 0755, c->has_owner ? c->uid : (uid_t)-1,
				  c->has_owner ? c->gid : (gid_t)-1, c->err);
	*slash = '/';
	*base = slash + 1;
	if (fd < 0)
		return strata_wrap(c->err, "create parent of '/%s'", path);
	return fd;
}

/*
 * Removes what is at @base unless it is a directory and @keep_dir; a
 * directory in the way of a file or link goes with its contents, as with
 * docker and buildah. Returns 1 when a dir was kept.
 */
static int clear_target(struct copy_ctx *c, int dirfd, const char *base, const char *path,
			bool keep_dir)
{
	struct stat st;

	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : strata_fail(c->err, errno, "stat '/%s'", path);
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir)
			return 1;
		if (path_rm_rf_at(dirfd, base, c->err) < 0)
			return strata_wrap(c->err, "replace directory '/%s'", path);
		return 0;
	}
	if (unlinkat(dirfd, base, 0) < 0)
		return strata_fail(c->err, errno, "remove '/%s'", path);
	return 0;
}

/* Creates (or keeps) the directory @path; @src (may be -1) gives its xattrs. */
static int make_dir(struct copy_ctx *c, const char *path, mode_t mode, uid_t uid, gid_t gid,
		    const struct timespec *mtime, int src)
{
	cleanup_free char *owner = NULL;
	const char *base;
	cleanup_close int dirfd = -1;
	int r;

	if (!*path) /* the root itself: keep it as it is */
		return 0;
	if ((dirfd = open_parent(c, path, &owner, &base)) < 0)
		return -1;
	r = clear_target(c, dirfd, base, path, true);
	if (r < 0)
		return -1;
	if (r == 0 && mkdirat(dirfd, base, 0755) < 0)
		return strata_fail(c->err, errno, "create directory '/%s'", path);
	if (src >= 0) {
		cleanup_close int dfd =
		    openat(dirfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (dfd < 0)
			return strata_fail(c->err, errno, "open '/%s'", path);
		if (copy_xattrs(c, src, dfd, path) < 0)
			return -1;
	}
	return set_meta(c, dirfd, base, path, S_IFDIR | (mode & 07777), uid, gid, mtime);
}

/* True when @path is a directory in the root (following links inside it). */
static bool is_dir_in(int rootfd, const char *path)
{
	cleanup_close int fd = path_open_in(rootfd, *path ? path : ".", O_PATH | O_DIRECTORY, 0,
					    NULL);

	return fd >= 0;
}

/*
 * The destination directory a directory source is copied into: an existing
 * one keeps its owner, mode and times; a missing one is made with its
 * parents, 0755, owned by --chown's owner (else root).
 */
static int make_dest_dir(struct copy_ctx *c, const char *path)
{
	cleanup_free char *owner = NULL;
	const char *base;
	cleanup_close int dirfd = -1;
	cleanup_close int fd = -1;
	struct stat st;

	if (!*path || is_dir_in(c->rootfd, path))
		return 0;
	if ((dirfd = open_parent(c, path, &owner, &base)) < 0)
		return -1;
	if (fstatat(dirfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISLNK(st.st_mode) &&
	    clear_target(c, dirfd, base, path, false) < 0)
		return -1;
	fd = path_mkdirs_owned_in(c->rootfd, path, 0755, c->has_owner ? c->uid : (uid_t)-1,
				  c->has_owner ? c->gid : (gid_t)-1, c->err);
	return fd < 0 ? strata_wrap(c->err, "create directory '/%s'", path) : 0;
}

/* Creates @path as a hard link to @first (both inside the root). */
static int make_hardlink(struct copy_ctx *c, const char *first, const char *path)
{
	cleanup_free char *o1 = NULL;
	cleanup_free char *o2 = NULL;
	const char *b1, *b2;
	cleanup_close int d1 = open_parent(c, first, &o1, &b1);
	cleanup_close int d2 = d1 >= 0 ? open_parent(c, path, &o2, &b2) : -1;

	if (d1 < 0 || d2 < 0)
		return -1;
	if (clear_target(c, d2, b2, path, false) < 0)
		return -1;
	if (linkat(d1, b1, d2, b2, 0) < 0)
		return strata_fail(c->err, errno, "hard link '/%s'", path);
	return 0;
}

/*
 * A new regular file at @path holding what @src reads (and its xattrs) or,
 * with @src -1, the @len bytes of @buf.
 */
static int write_file(struct copy_ctx *c, const char *path, int src, const char *buf, size_t len,
		      mode_t mode, uid_t uid, gid_t gid, const struct timespec *mtime)
{
	cleanup_free char *owner = NULL;
	const char *base;
	cleanup_close int dirfd = -1;
	cleanup_close int out = -1;

	if ((dirfd = open_parent(c, path, &owner, &base)) < 0)
		return -1;
	if (clear_target(c, dirfd, base, path, false) < 0)
		return -1;
	out = openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0)
		return strata_fail(c->err, errno, "create '/%s'", path);
	if (src >= 0 ? file_copy_fd(src, out, c->err) < 0 : file_write_all(out, buf, len, c->err) < 0)
		return strata_wrap(c->err, "write '/%s'", path);
	if (src >= 0 && copy_xattrs(c, src, out, path) < 0)
		return -1;
	return set_meta(c, dirfd, base, path, S_IFREG | (mode & 07777), uid, gid, mtime);
}

static int make_symlink(struct copy_ctx *c, const char *path, const char *target, uid_t uid,
			gid_t gid, const struct timespec *mtime)
{
	cleanup_free char *owner = NULL;
	const char *base;
	cleanup_close int dirfd = -1;

	if ((dirfd = open_parent(c, path, &owner, &base)) < 0)
		return -1;
	if (clear_target(c, dirfd, base, path, false) < 0)
		return -1;
	if (symlinkat(target, dirfd, base) < 0)
		return strata_fail(c->err, errno, "create symlink '/%s'", path);
	return set_meta(c, dirfd, base, path, S_IFLNK | 0777, uid, gid, mtime);
}

static int make_node(struct copy_ctx *c, const char *path, mode_t mode, dev_t dev, uid_t uid,
		     gid_t gid, const struct timespec *mtime)
{
	cleanup_free char *owner = NULL;
	const char *base;
	cleanup_close int dirfd = -1;

	if ((dirfd = open_parent(c, path, &owner, &base)) < 0)
		return -1;
	if (clear_target(c, dirfd, base, path, false) < 0)
		return -1;
	if (mknodat(dirfd, base, mode, dev) < 0)
		return strata_fail(c->err, errno, "create node '/%s'", path);
	return set_meta(c, dirfd, base, path, mode, uid, gid, mtime);
}

/* Joins the destination directory and a relative name, cleaned. */
static char *dest_join(const char *dir, const char *rel)
{
	cleanup_free char *j = path_join(dir, rel);

	return path_clean(j);
}

static int copy_entry(struct copy_ctx *c, const struct recipe_entry *e, const char *target)
{
	struct timespec mt = { 0, 0 };
	struct stat st;
	cleanup_close int fd = -1;
	uid_t uid = 0;
	gid_t gid = 0;
	int flags = S_ISREG(e->mode) ? O_RDONLY : S_ISDIR(e->mode) ? O_RDONLY | O_DIRECTORY : O_PATH;

	/* The source itself is followed (inside its root); entries below it never are. */
	fd = path_open_in(c->srcfd, e->path, flags | (*e->rel ? O_NOFOLLOW : 0), 0, c->err);
	if (fd < 0)
		return strata_wrap(c->err, "read '%s'", e->path);
	if (fstat(fd, &st) < 0)
		return strata_fail(c->err, errno, "stat '%s'", e->path);
	mt = st.st_mtim;
	if (c->keep_owner) {
		uid = st.st_uid;
		gid = st.st_gid;
	}
	if (S_ISDIR(e->mode))
		return make_dir(c, target, e->mode, uid, gid, &mt, fd);
	if (S_ISREG(e->mode)) {
		if (st.st_nlink > 1) {
			for (size_t i = 0; i < c->n_links; i++)
				if (c->links[i].dev == st.st_dev && c->links[i].ino == st.st_ino)
					return make_hardlink(c, c->links[i].target, target);
			c->links = xgrow(c->links, &c->cap_links, c->n_links, sizeof(*c->links));
			c->links[c->n_links++] =
			    (struct link_seen){ st.st_dev, st.st_ino, xstrdup(target) };
		}
		return write_file(c, target, fd, NULL, 0, e->mode, uid, gid, &mt);
	}
	if (S_ISLNK(e->mode))
		return make_symlink(c, target, e->link, uid, gid, &mt);
	if (S_ISFIFO(e->mode) || S_ISCHR(e->mode) || S_ISBLK(e->mode))
		return make_node(c, target, e->mode, st.st_rdev, uid, gid, &mt);
	return 0; /* sockets are not copied */
}

/* ---- ADD: archives ---- */

/* Sets the user.* xattrs an archive entry carries on @fd. */
static int archive_xattrs(struct copy_ctx *c, struct archive_entry *ae, int fd, const char *path)
{
	const char *name;
	const void *val;
	size_t size;

	if (archive_entry_xattr_reset(ae) == 0)
		return 0;
	while (archive_entry_xattr_next(ae, &name, &val, &size) == ARCHIVE_OK) {
		if (!str_has_prefix(name, "user."))
			continue;
		if (sys_fsetxattr(fd, name, val, size, 0) < 0)
			return strata_fail(c->err, errno, "set xattr %s on '/%s'", name, path);
	}
	return 0;
}

/*
 * Writes @len bytes at @off, past short writes (a disk that fills writes
 * some, then fails with ENOSPC: the short count alone left errno stale).
 */
static int pwrite_all(int fd, const void *buf, size_t len, la_int64_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/*
 * Extracts @a into c->rootfd, the destination directory: names, symlinks
 * and hard links in the archive all resolve inside it, never above it.
 */
static int read_archive(struct copy_ctx *c, struct archive *a)
{
	struct archive_entry *ae;
	int r;

	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		cleanup_free char *target = path_clean(archive_entry_pathname(ae)
							       ? archive_entry_pathname(ae)
							       : "");
		mode_t type = archive_entry_filetype(ae);
		mode_t mode = archive_entry_perm(ae);
		uid_t uid = (uid_t)archive_entry_uid(ae);
		gid_t gid = (gid_t)archive_entry_gid(ae);
		struct timespec mt = { archive_entry_mtime(ae), archive_entry_mtime_nsec(ae) };
		const char *hard = archive_entry_hardlink(ae);

		if (!*target)
			continue;
		if (hard) {
			cleanup_free char *first = path_clean(hard);

			if (make_hardlink(c, first, target) < 0)
				return -1;
			continue;
		}
		if (type == AE_IFDIR) {
			cleanup_close int dfd = -1;

			if (make_dir(c, target, mode, uid, gid, &mt, -1) < 0)
				return -1;
			dfd = path_open_in(c->rootfd, target, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0,
					   c->err);
			if (dfd < 0 || archive_xattrs(c, ae, dfd, target) < 0)
				return -1;
		} else if (type == AE_IFREG) {
			cleanup_free char *owner = NULL;
			const char *base;
			cleanup_close int dirfd = open_parent(c, target, &owner, &base);
			cleanup_close int out = -1;
			const void *buf;
			size_t len;
			la_int64_t off;

			if (dirfd < 0 || clear_target(c, dirfd, base, target, false) < 0)
				return -1;
			out = openat(dirfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				     0600);
			if (out < 0)
				return strata_fail(c->err, errno, "create '/%s'", target);
			while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
				if (pwrite_all(out, buf, len, off) < 0)
					return strata_fail(c->err, errno, "write '/%s'", target);
			}
			if (r != ARCHIVE_EOF)
				return strata_fail_msg(c->err, EIO, "read archive: %s",
						       archive_error_string(a));
			if (ftruncate(out, archive_entry_size(ae)) < 0)
				return strata_fail(c->err, errno, "write '/%s'", target);
			if (archive_xattrs(c, ae, out, target) < 0)
				return -1;
			if (set_meta(c, dirfd, base, target, S_IFREG | mode, uid, gid, &mt) < 0)
				return -1;
		} else if (type == AE_IFLNK) {
			if (make_symlink(c, target, archive_entry_symlink(ae), uid, gid, &mt) < 0)
				return -1;
		} else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO) {
			dev_t dev = makedev(archive_entry_rdevmajor(ae), archive_entry_rdevminor(ae));

			if (make_node(c, target, type | mode, dev, uid, gid, &mt) < 0)
				return -1;
		}
	}
	if (r != ARCHIVE_EOF)
		return strata_fail_msg(c->err, EIO, "read archive: %s", archive_error_string(a));
	return 0;
}

static struct archive *archive_open(int fd)
{
	struct archive *a = archive_read_new();

	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open_fd(a, fd, 64 * 1024) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/*
 * Extracts the local file @fd into @dest when it is a tar archive (plain or
 * compressed). Returns 1 when it was one, 0 when it is to be copied as a file.
 */
static int try_extract(struct copy_ctx *c, int fd, const char *dest)
{
	struct archive *a;
	struct archive_entry *ae;
	struct copy_ctx in = *c;
	cleanup_close int destfd = -1;
	int r;

	if (layers_libarchive_load(c->err) < 0)
		return -1;
	a = archive_open(fd);
	if (!a)
		return 0;
	r = archive_read_next_header(a, &ae);
	archive_read_free(a);
	if (r != ARCHIVE_OK)
		return 0;
	if (lseek(fd, 0, SEEK_SET) < 0)
		return strata_fail(c->err, errno, "rewind archive");
	if (make_dest_dir(c, dest) < 0)
		return -1;
	destfd = path_open_in(c->rootfd, *dest ? dest : ".", O_PATH | O_DIRECTORY, 0, c->err);
	if (destfd < 0)
		return strata_wrap(c->err, "open '/%s'", dest);
	a = archive_open(fd);
	if (!a)
		return strata_fail_msg(c->err, EIO, "read archive: cannot open it again");
	/* the destination is the root of everything the archive names; its modes are kept */
	in.rootfd = destfd;
	in.strip_setid = false;
	in.dirs = NULL;
	in.n_dirs = in.cap_dirs = 0;
	in.links = NULL;
	in.n_links = in.cap_links = 0;
	r = read_archive(&in, a);
	archive_read_free(a);
	if (r == 0)
		r = copy_dir_times(&in);
	copy_ctx_release(&in);
	return r < 0 ? -1 : 1;
}

int recipe_archive_extract(int fd, int destfd, struct strata_error **err)
{
	struct copy_ctx c = { .rootfd = destfd, .srcfd = -1, .keep_owner = true, .clamp = -1,
			      .err = err };
	struct archive *a;
	int r;

	if (layers_libarchive_load(err) < 0)
		return -1;
	a = archive_open(fd);
	if (!a)
		return strata_fail_msg(err, EINVAL, "not a tar archive");
	r = read_archive(&c, a);
	archive_read_free(a);
	if (r == 0)
		r = copy_dir_times(&c);
	copy_ctx_release(&c);
	return r;
}

/* ---- the copy ---- */

static char *url_name(const char *url)
{
	const char *p = url + strcspn(url, "?#");
	const char *start;
	cleanup_free char *path = NULL;

	path = xstrndup(url, (size_t)(p - url));
	start = strstr(path, "://");
	start = start ? strchr(start + 3, '/') : NULL;
	if (!start)
		return NULL;
	p = strrchr(start, '/');
	if (!p || !p[1])
		return NULL;
	return xstrdup(p + 1);
}

static int copy_all(struct copy_ctx *c, struct copy_job *job, const struct recipe_instr *x,
		    const char *workdir)
{
	int rootfd = c->rootfd;
	int srcfd = c->srcfd;
	struct strata_error **err = c->err;
	const char *chown_spec = recipe_instr_flag(x, "chown");
	const char *chmod_spec = recipe_instr_flag(x, "chmod");
	const char *cmd = recipe_cmd_name(x->cmd);
	/* A trailing '\\' (possible only under "# escape=`") marks a directory too, as in buildah. */
	bool dest_is_dir_syntax = str_has_suffix(job->dest, "/") || strcmp(job->dest, ".") == 0 ||
				  str_has_suffix(job->dest, "/.") || str_has_suffix(job->dest, "\\");
	cleanup_free char *abs = job->dest[0] == '/'
					 ? xstrdup(job->dest)
					 : path_join(workdir && *workdir ? workdir : "/", job->dest);
	cleanup_free char *dest = path_clean(abs);
	bool dest_is_dir;

	if (chown_spec && *chown_spec) {
		if (recipe_copy_parse_chown(rootfd, chown_spec, &c->uid, &c->gid, err) < 0)
			return strata_wrap(err, "%s --chown", cmd);
		c->has_owner = true;
	}
	if (chmod_spec && *chmod_spec) {
		if (parse_chmod(chmod_spec, &c->mode, err) < 0)
			return strata_wrap(err, "%s", cmd);
		c->has_mode = true;
	}
	bool parents = recipe_instr_flag(x, "parents") &&
		       strcasecmp(recipe_instr_flag(x, "parents"), "false") != 0;

	/* --from sources are collected once their rootfs is mounted: excluded now */
	if (apply_excludes(x, &job->local, err) < 0)
		return -1;
	if (parents && job->local.n_matched && !dest_is_dir_syntax)
		return strata_fail_msg(err, EINVAL,
				       "COPY --parents: the destination must be a directory and end "
				       "with a /");
	if (job->n_items > 1 && !dest_is_dir_syntax)
		return strata_fail_msg(err, EINVAL,
				       "when using %s with more than one source file, the destination "
				       "must be a directory and end with a /",
				       cmd);
	dest_is_dir = dest_is_dir_syntax || !*dest || is_dir_in(rootfd, dest);

	for (size_t m = 0; m < job->local.n_matched; m++) {
		const char *src = job->local.matched[m];

		if (parents) {
			/* the source's path (after a "/./" pivot) kept under the destination */
			cleanup_free char *base = dest_join(dest, parents_kept(job, src));

			for (size_t i = 0; i < job->local.n_entries; i++) {
				const struct recipe_entry *e = &job->local.entries[i];
				cleanup_free char *target = NULL;

				if (e->source != m)
					continue;
				target = dest_join(base, e->rel);
				if (copy_entry(c, e, target) < 0)
					return -1;
			}
			continue;
		}
		if (job->local.is_dir[m]) {
			for (size_t i = 0; i < job->local.n_entries; i++) {
				const struct recipe_entry *e = &job->local.entries[i];
				cleanup_free char *target = NULL;

				if (e->source != m)
					continue;
				target = dest_join(dest, e->rel);
				/* the directory copied into is the destination's, not the source's */
				if (!*e->rel ? make_dest_dir(c, target) < 0 : copy_entry(c, e, target) < 0)
					return -1;
			}
			continue;
		}
		for (size_t i = 0; i < job->local.n_entries; i++) {
			const struct recipe_entry *e = &job->local.entries[i];
			const char *slash = strrchr(src, '/');
			cleanup_free char *target = NULL;

			if (e->source != m)
				continue;
			target = dest_is_dir ? dest_join(dest, slash ? slash + 1 : src)
					     : xstrdup(dest);
			if (job->is_add && S_ISREG(e->mode)) {
				cleanup_close int fd = path_open_in(srcfd, e->path, O_RDONLY, 0, err);
				int r;

				if (fd < 0)
					return strata_wrap(err, "read '%s'", e->path);
				r = try_extract(c, fd, dest);
				if (r < 0)
					return -1;
				if (r > 0)
					continue;
			}
			if (copy_entry(c, e, target) < 0)
				return -1;
		}
	}
	for (size_t i = 0; i < job->n_docs; i++) {
		const struct recipe_heredoc *h = job->docs[i];
		cleanup_free char *target = dest_is_dir ? dest_join(dest, h->name) : xstrdup(dest);

		if (write_file(c, target, -1, h->content, strlen(h->content), 0644, 0, 0, NULL) < 0)
			return -1;
	}
	for (size_t i = 0; job->urls[i]; i++) {
		cleanup_free char *name = url_name(job->urls[i]);
		cleanup_free char *target = NULL;
		cleanup_close int fd = -1;
		struct timespec now = { time_now_ns() / 1000000000LL, 0 };

		if (dest_is_dir && !name)
			return strata_fail_msg(err, EINVAL, "ADD: cannot determine a file name from '%s'",
					       job->urls[i]);
		target = dest_is_dir ? dest_join(dest, name) : xstrdup(dest);
		fd = open(job->url_files[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return strata_fail(err, errno, "open download of '%s'", job->urls[i]);
		if (write_file(c, target, fd, NULL, 0, 0600, 0, 0, &now) < 0)
			return -1;
	}
	return 0;
}

int recipe_copy_into(struct copy_job *job, const struct recipe_instr *x, int rootfd, int srcfd,
		     const char *workdir, int64_t clamp, struct strata_error **err)
{
	struct copy_ctx c = { .rootfd = rootfd, .srcfd = srcfd, .clamp = clamp, .err = err };
	int r;

	/* --from keeps owners (and setuid bits); the context's files become root's */
	c.keep_owner = job->from_stage >= 0 || job->from;
	c.strip_setid = !c.keep_owner;
	r = copy_all(&c, job, x, workdir);
	if (r == 0)
		r = copy_dir_times(&c);
	copy_ctx_release(&c);
	return r;
}
