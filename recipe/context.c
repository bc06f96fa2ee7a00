/*
 * COPY/ADD sources in the build context, and cache keys.
 *
 * A source is a path relative to the context, possibly with globs in any
 * component (Go's filepath.Match per component, as Docker; a "**" component
 * is any number of directories; a glob character escaped in the recipe is
 * literal). A glob that matches nothing is an error only when the
 * instruction's other sources match nothing either. It is resolved
 * inside the context only (util/path, RESOLVE_IN_ROOT): a symlink as the
 * source itself is followed, but never out of the context; symlinks inside a
 * copied directory are copied as links. What the ignore file excludes is not
 * there at all, as if it had never been sent to a daemon; an excluded
 * directory is still walked when a "!" exception begins with its path (as
 * docker decides), and is then not copied itself: what comes back out of it
 * gets a plain parent directory.
 *
 * The entries found are exactly what the builder copies, and their sorted
 * (path, type, mode, owner, size, content hash, link target, user.* xattrs,
 * hard-link group) list is what the cache key of the step hashes: the same
 * list, the same layer.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "recipe/recipe-int.h"

/* Deeper trees than this are refused rather than walked with one fd per level. */
#define MAX_WALK_DEPTH 256

struct collector {
	int ctxfd;
	const struct recipe_ignore *ig;
	struct recipe_sources *out;
	size_t cap;
	struct strata_error **err;
	const char *where; /* "the build context", "stage 'NAME'": for messages */
};

static bool excluded(const struct collector *c, const char *path)
{
	return *path && recipe_ignore_match(c->ig, path);
}

static char *join(const char *a, const char *b)
{
	if (!*a)
		return xstrdup(b);
	if (!*b)
		return xstrdup(a);
	return xasprintf("%s/%s", a, b);
}

/* The user.* xattrs of @fd as "name=hex\n" lines (COPY keeps them), or NULL. */
static char *user_xattrs(int fd)
{
	char names[8192];
	ssize_t n = sys_flistxattr(fd, names, sizeof(names));
	struct sbuf b = SBUF_INIT;

	for (char *k = names; n > 0 && k < names + n; k += strlen(k) + 1) {
		unsigned char val[65536];
		ssize_t vn;

		if (!str_has_prefix(k, "user."))
			continue;
		vn = sys_fgetxattr(fd, k, val, sizeof(val));
		if (vn < 0)
			continue;
		sbuf_addf(&b, "%s=", k);
		for (ssize_t i = 0; i < vn; i++)
			sbuf_addf(&b, "%02x", val[i]);
		sbuf_addstr(&b, "\n");
	}
	return b.len ? sbuf_detach(&b, NULL) : (sbuf_release(&b), NULL);
}

/*
 * Records one entry. Content is read from @content_fd when it is not -1,
 * else from @name in @dirfd (never following a symlink).
 */
static int add_entry(struct collector *c, int dirfd, const char *name, int content_fd,
		     const char *path, const char *rel, size_t source, const struct stat *st)
{
	struct recipe_sources *o = c->out;
	struct recipe_entry *e;

	if (o->n_entries == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		o->entries = xrealloc(o->entries, c->cap * sizeof(*o->entries));
	}
	e = &o->entries[o->n_entries];
	memset(e, 0, sizeof(*e));
	e->path = xstrdup(path);
	e->rel = xstrdup(rel);
	e->source = source;
	e->mode = st->st_mode;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	e->dev = st->st_dev;
	e->ino = st->st_ino;
	e->nlink = st->st_nlink;
	o->n_entries++;
	if (S_ISLNK(st->st_mode)) {
		char buf[4096];
		ssize_t n = readlinkat(dirfd, name, buf, sizeof(buf) - 1);

		if (n < 0)
			return strata_fail(c->err, errno, "read link '%s'", path);
		buf[n] = '\0';
		e->link = xstrdup(buf);
	} else if (S_ISREG(st->st_mode)) {
		cleanup_close int fd = -1;
		uint64_t size = 0;

		if (content_fd < 0) {
			fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				return strata_fail(c->err, errno, "open '%s'", path);
			content_fd = fd;
		}
		if (digest_fd(content_fd, e->digest, &size, c->err) < 0)
			return strata_wrap(c->err, "read '%s'", path);
		e->size = size;
		e->xattrs = user_xattrs(content_fd);
	} else if (S_ISDIR(st->st_mode)) {
		cleanup_close int fd = *name ? openat(dirfd, name, O_RDONLY | O_DIRECTORY |
							      O_NOFOLLOW | O_CLOEXEC)
					     : fcntl(dirfd, F_DUPFD_CLOEXEC, 3);

		e->xattrs = fd >= 0 ? user_xattrs(fd) : NULL;
	}
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in @dirfd, sorted. */
static int list_dir(int dirfd, const char *path, char ***names, struct strata_error **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	size_t n = 0, cap = 1;
	char **v = xcalloc(cap, sizeof(char *));

	if (fd < 0 || !(d = fdopendir(fd))) {
		int e = errno;

		if (fd >= 0)
			close(fd);
		strv_free(v);
		return strata_fail(err, e, "read directory '%s'", *path ? path : ".");
	}
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* room for the NULL after it too */
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	qsort(v, n, sizeof(char *), cmp_names);
	*names = v;
	return 0;
}

/* Walks the directory @dirfd (the context path @path); returns the entries added or -1. */
static long walk(struct collector *c, int dirfd, const char *path, const char *rel, size_t source,
		 int depth)
{
	cleanup_strv char **names = NULL;
	long total = 0;

	if (depth > MAX_WALK_DEPTH)
		return strata_fail_msg(c->err, ELOOP, "'%s': directories nested too deeply", path);
	if (list_dir(dirfd, path, &names, c->err) < 0)
		return -1;
	for (size_t i = 0; names[i]; i++) {
		cleanup_free char *p = join(path, names[i]);
		cleanup_free char *r = join(rel, names[i]);
		bool is_excluded = excluded(c, p);
		struct stat st;

		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0)
			return strata_fail(c->err, errno, "stat '%s'", p);
		/* an excluded directory is walked only when an exception begins with its path */
		if (is_excluded && !(S_ISDIR(st.st_mode) && recipe_ignore_may_reinclude(c->ig, p)))
			continue;
		if (S_ISDIR(st.st_mode)) {
			cleanup_close int sub = openat(
			    dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			long n;

			if (sub < 0)
				return strata_fail(c->err, errno, "open '%s'", p);
			/* an excluded one is not copied itself: what comes back gets a plain parent */
			if (!is_excluded && add_entry(c, dirfd, names[i], -1, p, r, source, &st) < 0)
				return -1;
			n = walk(c, sub, p, r, source, depth + 1);
			if (n < 0)
				return -1;
			total += n + !is_excluded;
			continue;
		}
		if (add_entry(c, dirfd, names[i], -1, p, r, source, &st) < 0)
			return -1;
		total++;
	}
	return total;
}

static void add_match(struct recipe_sources *o, const char *path, bool is_dir)
{
	o->matched = xgrow(o->matched, &o->cap_matched, o->n_matched + 1, sizeof(*o->matched));
	o->matched[o->n_matched] = xstrdup(path);
	o->matched[o->n_matched + 1] = NULL;
	o->is_dir = xgrow(o->is_dir, &o->cap_is_dir, o->n_matched, sizeof(*o->is_dir));
	o->is_dir[o->n_matched++] = is_dir;
}

/* Adds the source @path (a context path that exists): itself, and its tree when a directory. */
static int add_source(struct collector *c, const char *path)
{
	cleanup_close int fd = -1;
	size_t idx = c->out->n_matched;
	struct stat st;

	/* The source itself is followed when it is a symlink, but only inside the context. */
	fd = path_open_in(c->ctxfd, *path ? path : ".", O_RDONLY | O_NONBLOCK, 0, c->err);
	if (fd < 0)
		return strata_wrap(c->err, "source '%s' in %s", *path ? path : ".", c->where);
	if (fstat(fd, &st) < 0)
		return strata_fail(c->err, errno, "stat '%s'", path);
	add_match(c->out, path, S_ISDIR(st.st_mode));
	if (add_entry(c, fd, "", fd, path, "", idx, &st) < 0)
		return -1;
	if (S_ISDIR(st.st_mode))
		return walk(c, fd, path, "", idx, 0) < 0 ? -1 : 0;
	return 0;
}

/* Expands the glob components of @pattern under @dir (a context path) into *out. */
static int expand_glob(struct collector *c, const char *dir, const char *pattern, char ***out,
		       int depth)
{
	size_t len = strcspn(pattern, "/");
	cleanup_free char *seg = xstrndup(pattern, len);
	const char *rest = pattern[len] ? pattern + len + 1 : NULL;
	cleanup_strv char **names = NULL;
	cleanup_close int fd = -1;

	if (depth > MAX_WALK_DEPTH)
		return strata_fail_msg(c->err, ELOOP, "pattern '%s' is too deep", pattern);
	if (strcmp(seg, "**") == 0 && rest) {
		/* any number of directories, none included; "**" after "**" adds nothing */
		while (str_has_prefix(rest, "**/"))
			rest += 3;
		if (expand_glob(c, dir, rest, out, depth + 1) < 0)
			return -1;
		fd = path_open_in(c->ctxfd, *dir ? dir : ".", O_RDONLY | O_DIRECTORY, 0, NULL);
		if (fd < 0)
			return 0;
		if (list_dir(fd, dir, &names, c->err) < 0)
			return -1;
		for (size_t i = 0; names[i]; i++) {
			cleanup_free char *p = join(dir, names[i]);
			struct stat st;

			if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
			    excluded(c, p))
				continue;
			if (expand_glob(c, p, pattern, out, depth + 1) < 0)
				return -1;
		}
		return 0;
	}
	if (!recipe_glob_has_magic(seg)) {
		cleanup_free char *p = join(dir, seg);
		struct stat st;

		/* Literal components may be symlinks inside the context. */
		fd = path_open_in(c->ctxfd, p, O_PATH, 0, NULL);
		if (fd < 0 || fstat(fd, &st) < 0 || excluded(c, p))
			return 0;
		if (!rest) {
			strv_append(out, p);
			return 0;
		}
		if (!S_ISDIR(st.st_mode))
			return 0;
		return expand_glob(c, p, rest, out, depth + 1);
	}
	fd = path_open_in(c->ctxfd, *dir ? dir : ".", O_RDONLY | O_DIRECTORY, 0, NULL);
	if (fd < 0)
		return 0;
	if (list_dir(fd, dir, &names, c->err) < 0)
		return -1;
	for (size_t i = 0; names[i]; i++) {
		cleanup_free char *p = join(dir, names[i]);
		int m = recipe_glob_match(seg, names[i]);
		struct stat st;

		if (m < 0)
			return strata_fail_msg(c->err, EINVAL, "syntax error in pattern '%s'", seg);
		if (!m || excluded(c, p))
			continue;
		if (!rest) {
			strv_append(out, p);
			continue;
		}
		if (fstatat(fd, names[i], &st, 0) < 0 || !S_ISDIR(st.st_mode))
			continue;
		if (expand_glob(c, p, rest, out, depth + 1) < 0)
			return -1;
	}
	return 0;
}

/* Sorts @v and drops repeated names ("**" can reach a path more than one way). */
static void dedup_sorted(char **v)
{
	size_t n = strv_len(v), k = 0;

	if (n < 2)
		return;
	qsort(v, n, sizeof(char *), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (k && strcmp(v[k - 1], v[i]) == 0) {
			free(v[i]);
			continue;
		}
		v[k++] = v[i];
	}
	v[k] = NULL;
}

/* Cleans a source path; NULL when it leaves the context. */
static char *clean_source(const char *src)
{
	int depth = 0;

	for (const char *p = src; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return NULL;
		} else if (n && !(n == 1 && p[0] == '.')) {
			depth++;
		}
		p += n;
		if (*p)
			p++;
	}
	return path_clean(src);
}

static int cmp_entries(const void *a, const void *b)
{
	const struct recipe_entry *x = a, *y = b;
	int r = strcmp(x->path, y->path);

	if (r)
		return r;
	return x->source < y->source ? -1 : x->source > y->source;
}

static int collect(int ctxfd, const struct recipe_ignore *ig, char *const *srcs, const char *where,
		   struct recipe_sources *out, struct strata_error **err)
{
	struct collector c = {ctxfd, ig, out, 0, err, where};
	const char *unmatched = NULL;

	memset(out, 0, sizeof(*out));
	out->matched = xcalloc(1, sizeof(char *));
	for (size_t i = 0; srcs && srcs[i]; i++) {
		cleanup_free char *clean = clean_source(srcs[i]);
		cleanup_strv char **found = xcalloc(1, sizeof(char *));

		if (!clean) {
			recipe_sources_release(out);
			return strata_fail_msg(
			    err, EPERM, "forbidden path outside the build context: '%s'", srcs[i]);
		}
		if (recipe_glob_has_magic(clean)) {
			if (expand_glob(&c, "", clean, &found, 0) < 0) {
				recipe_sources_release(out);
				return -1;
			}
			/* a glob may match nothing when another source matches something */
			if (!found[0] && !unmatched)
				unmatched = srcs[i];
			dedup_sorted(found);
		} else {
			/* An excluded directory may still hold files an exception brings back. */
			if (excluded(&c, clean) && !recipe_ignore_may_reinclude(ig, clean)) {
				recipe_sources_release(out);
				return strata_fail_msg(
				    err, ENOENT, "'%s' is excluded by the ignore file", srcs[i]);
			}
			strv_append(&found, clean);
		}
		for (size_t k = 0; found[k]; k++) {
			size_t before = out->n_entries;

			if (add_source(&c, found[k]) < 0) {
				recipe_sources_release(out);
				return -1;
			}
			/* Excluded, and no exception brought anything inside it back. */
			if (excluded(&c, found[k]) && out->n_entries - before <= 1) {
				recipe_sources_release(out);
				return strata_fail_msg(
				    err, ENOENT, "'%s' is excluded by the ignore file", srcs[i]);
			}
		}
	}
	if (unmatched && !out->n_matched) {
		recipe_sources_release(out);
		return strata_fail_msg(err, ENOENT, "no files match '%s' in %s", unmatched, where);
	}
	if (out->entries)
		qsort(out->entries, out->n_entries, sizeof(*out->entries), cmp_entries);
	return 0;
}

int recipe_sources_collect(int ctxfd, const struct recipe_ignore *ig, char *const *srcs,
			   struct recipe_sources *out, struct strata_error **err)
{
	return collect(ctxfd, ig, srcs, "the build context", out, err);
}

int recipe_sources_collect_in(int rootfd, char *const *srcs, const char *where,
			      struct recipe_sources *out, struct strata_error **err)
{
	return collect(rootfd, NULL, srcs, where, out, err);
}

void recipe_sources_release(struct recipe_sources *s)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		free(s->entries[i].path);
		free(s->entries[i].rel);
		free(s->entries[i].link);
		free(s->entries[i].xattrs);
	}
	free(s->entries);
	strv_free(s->matched);
	free(s->is_dir);
	memset(s, 0, sizeof(*s));
}

static char type_char(mode_t m)
{
	if (S_ISREG(m))
		return 'f';
	if (S_ISDIR(m))
		return 'd';
	if (S_ISLNK(m))
		return 'l';
	if (S_ISFIFO(m))
		return 'p';
	if (S_ISCHR(m))
		return 'c';
	if (S_ISBLK(m))
		return 'b';
	return 's';
}

void recipe_sources_digest(const struct recipe_sources *s, char out[DIGEST_STR_LEN])
{
	struct sbuf b = SBUF_INIT;
	char one[DIGEST_STR_LEN];

	/* Fields are NUL-separated so that no name can forge another list. */
	for (size_t i = 0; i < s->n_matched; i++) {
		sbuf_addf(&b, "source %zu %c", i, s->is_dir[i] ? 'd' : '-');
		sbuf_add(&b, "", 1);
		sbuf_add(&b, s->matched[i], strlen(s->matched[i]) + 1);
	}
	for (size_t i = 0; i < s->n_entries; i++) {
		const struct recipe_entry *e = &s->entries[i];

		sbuf_add(&b, e->path, strlen(e->path) + 1);
		sbuf_add(&b, e->rel, strlen(e->rel) + 1);
		sbuf_addf(&b, "%zu %c %04o %u:%u %llu %s", e->source, type_char(e->mode),
			  (unsigned)(e->mode & 07777), (unsigned)e->uid, (unsigned)e->gid,
			  (unsigned long long)e->size, e->digest);
		sbuf_add(&b, "", 1);
		sbuf_add(&b, e->link ? e->link : "", strlen(e->link ? e->link : "") + 1);
		sbuf_add(&b, e->xattrs ? e->xattrs : "", strlen(e->xattrs ? e->xattrs : "") + 1);
		/* a hard link names the first entry of its group */
		for (size_t k = 0; S_ISREG(e->mode) && e->nlink > 1 && k < i; k++) {
			if (s->entries[k].dev == e->dev && s->entries[k].ino == e->ino) {
				sbuf_add(&b, s->entries[k].path, strlen(s->entries[k].path) + 1);
				break;
			}
		}
	}
	digest_buf(b.buf ? b.buf : "", b.len, one);
	sbuf_release(&b);
	memcpy(out, one, DIGEST_STR_LEN);
}

void recipe_cache_key(const char *parent, const char *instr, const char *extra,
		      char out[DIGEST_STR_LEN])
{
	struct digester *d = digester_new();

	/* Bumped when what a step produces for the same inputs changes. */
	digester_update(d, "strata-build-v2", 16);
	digester_update(d, parent ? parent : "", strlen(parent ? parent : "") + 1);
	digester_update(d, instr, strlen(instr) + 1);
	digester_update(d, extra ? extra : "", strlen(extra ? extra : "") + 1);
	digester_final(d, out);
	digester_free(d);
}
