/*
 * Path resolution confined to a root directory. Image content is hostile:
 * a layer may plant symlinks to "/" or "..", so nothing here follows a path
 * string the way open(2) would. openat2(RESOLVE_IN_ROOT) makes the kernel
 * treat the root fd as "/"; where it is missing (before Linux 5.6, or under
 * a seccomp filter that hides it) a component-by-component walk with
 * O_NOFOLLOW does the same, re-anchoring absolute symlinks at the root.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/util.h"

#define MAX_SYMLINKS 40

static int openat2_state; /* 0 unknown, 1 works, -1 missing */
static unsigned long walks; /* resolutions done by walk_in_root */

unsigned long path_walk_count(void)
{
	return __atomic_load_n(&walks, __ATOMIC_RELAXED);
}

static bool use_openat2(void)
{
	if (openat2_state == 0) {
		const char *e = getenv("STRATA_TEST_NO_OPENAT2");

		openat2_state = (e && strcmp(e, "1") == 0) ? -1 : 1;
	}
	return openat2_state > 0;
}

char *path_clean(const char *p)
{
	size_t n = strlen(p);
	char *out = xmalloc(n + 1);
	size_t len = 0;
	const char *s = p;

	while (*s) {
		const char *e;
		size_t clen;

		while (*s == '/')
			s++;
		if (!*s)
			break;
		e = strchr(s, '/');
		clen = e ? (size_t)(e - s) : strlen(s);
		if (clen == 1 && s[0] == '.') {
			/* skip */
		} else if (clen == 2 && s[0] == '.' && s[1] == '.') {
			/* Pop one component; at the top ".." stays at the top. */
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
		} else {
			if (len > 0)
				out[len++] = '/';
			memcpy(out + len, s, clen);
			len += clen;
		}
		s += clen;
	}
	out[len] = '\0';
	return out;
}

char *path_join(const char *a, const char *b)
{
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (la == 0)
		return xstrdup(b);
	if (!*b)
		return xstrndup(a, la);
	if (la == 1 && a[0] == '/')
		return xasprintf("/%s", b);
	return xasprintf("%.*s/%s", (int)la, a, b);
}

/*
 * The fallback resolver's state: a stack of directory fds (the root at
 * the bottom, so ".." never climbs above it) and the path still to walk.
 */
struct walk {
	int stack[4096 / 2];
	size_t depth;
	int symlinks;
	struct sbuf rest; /* what is left of the path, symlink targets spliced in */
	const char *path; /* as asked, for messages */
	int flags;
	mode_t mode;
};

/*
 * Takes the next component off the front of w->rest into @comp; *@last
 * when nothing but slashes follows. Returns 1 when the rest is empty (the
 * path named the current directory itself), 0, or -1 (ENAMETOOLONG).
 */
static int walk_next(struct walk *w, char comp[256], bool *last, struct strata_error **err)
{
	char *s = w->rest.buf;
	const char *t;
	size_t clen, consumed;
	char *slash;

	while (*s == '/')
		s++;
	if (!*s)
		return 1;
	slash = strchr(s, '/');
	clen = slash ? (size_t)(slash - s) : strlen(s);
	if (clen >= 256)
		return strata_fail(err, ENAMETOOLONG, "open '%s'", w->path);
	memcpy(comp, s, clen);
	comp[clen] = '\0';
	/* Trailing slashes do not make a component last-but-one. */
	for (t = slash; t && *t == '/'; t++)
		;
	*last = !t || !*t;
	consumed = (size_t)(s - w->rest.buf) + clen;
	memmove(w->rest.buf, w->rest.buf + consumed, w->rest.len - consumed + 1);
	w->rest.len -= consumed;
	return 0;
}

/* The path named the directory the walk is in: opens it (not with O_CREAT|O_EXCL). */
static int walk_open_here(struct walk *w, struct strata_error **err)
{
	int fd;

	if (w->flags & O_CREAT && w->flags & O_EXCL)
		return strata_fail(err, EEXIST, "open '%s'", w->path);
	fd = openat(w->stack[w->depth], ".",
		    (w->flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC, w->mode);
	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", w->path);
	return fd;
}

/*
 * Splices the target of symlink @comp in front of what is left; an
 * absolute target restarts the walk at the root.
 */
static int walk_symlink(struct walk *w, const char *comp, bool last, struct strata_error **err)
{
	struct sbuf nrest = SBUF_INIT;
	char target[4096];
	ssize_t n;

	if (++w->symlinks > MAX_SYMLINKS)
		return strata_fail(err, ELOOP, "open '%s'", w->path);
	n = readlinkat(w->stack[w->depth], comp, target, sizeof(target) - 1);
	if (n < 0)
		return strata_fail(err, errno, "readlink in '%s'", w->path);
	target[n] = '\0';
	if (target[0] == '/') {
		while (w->depth > 0)
			close(w->stack[w->depth--]);
	}
	sbuf_addstr(&nrest, target);
	sbuf_addstr(&nrest, "/");
	sbuf_add(&nrest, w->rest.buf, w->rest.len);
	if (last && nrest.len > 0 && !w->rest.len) {
		/* No trailing slash: the link target is the last component. */
		nrest.buf[--nrest.len] = '\0';
	}
	sbuf_release(&w->rest);
	w->rest = nrest;
	return 0;
}

/* Steps into directory @comp (@st its lstat). */
static int walk_descend(struct walk *w, const char *comp, const struct stat *st,
			struct strata_error **err)
{
	int fd;

	if (!S_ISDIR(st->st_mode))
		return strata_fail(err, ENOTDIR, "open '%s'", w->path);
	if (w->depth + 1 >= ARRAY_SIZE(w->stack))
		return strata_fail(err, ENAMETOOLONG, "open '%s'", w->path);
	fd = openat(w->stack[w->depth], comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", w->path);
	w->stack[++w->depth] = fd;
	return 0;
}

/*
 * Fallback resolver: walks @path below @rootfd one component at a time.
 * Symlinks are read and their targets spliced into the remaining path,
 * absolute ones restarting at the root; ".." never climbs above the root
 * because the walk keeps its own stack of directory fds.
 */
static int walk_in_root(int rootfd, const char *path, int flags, mode_t mode,
			struct strata_error **err)
{
	struct walk w = { .rest = SBUF_INIT, .path = path, .flags = flags, .mode = mode };
	bool nofollow_last = (flags & O_NOFOLLOW) != 0;
	int result = -1;

	__atomic_add_fetch(&walks, 1, __ATOMIC_RELAXED);
	w.stack[0] = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (w.stack[0] < 0)
		return strata_fail(err, errno, "dup root fd");
	sbuf_addstr(&w.rest, path);

	for (;;) {
		char comp[256];
		bool last = false;
		int cur = w.stack[w.depth];
		struct stat st;
		int r = walk_next(&w, comp, &last, err);

		if (r < 0)
			break;
		if (r > 0) {
			result = walk_open_here(&w, err);
			break;
		}
		if (strcmp(comp, ".") == 0) {
			if (last) {
				sbuf_release(&w.rest);
				sbuf_addstr(&w.rest, "");
			}
			continue;
		}
		if (strcmp(comp, "..") == 0) {
			if (w.depth > 0)
				close(w.stack[w.depth--]);
			continue;
		}
		if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT && last && (flags & O_CREAT)) {
				result = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
				if (result < 0)
					strata_fail(err, errno, "open '%s'", path);
				break;
			}
			strata_fail(err, errno, "open '%s'", path);
			break;
		}
		if (S_ISLNK(st.st_mode) && !(last && nofollow_last)) {
			if (walk_symlink(&w, comp, last, err) < 0)
				break;
			continue;
		}
		if (last) {
			/* A symlink here is the last component asked for with O_NOFOLLOW. */
			result = openat(cur, comp, flags | O_CLOEXEC | (S_ISLNK(st.st_mode) ? 0 : O_NOFOLLOW),
					mode);
			if (result < 0)
				strata_fail(err, errno, "open '%s'", path);
			break;
		}
		if (walk_descend(&w, comp, &st, err) < 0)
			break;
	}
	for (size_t i = 0; i <= w.depth; i++)
		close(w.stack[i]);
	sbuf_release(&w.rest);
	return result;
}

int path_open_in(int rootfd, const char *path, int flags, mode_t mode, struct strata_error **err)
{
	struct open_how how = { 0 };
	const char *p = path;
	int fd;

	while (*p == '/')
		p++;
	if (!*p)
		p = ".";
	if (use_openat2()) {
		how.flags = (uint64_t)(flags | O_CLOEXEC);
		how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
		how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
		do {
			fd = sys_openat2(rootfd, p, &how, sizeof(how));
		} while (fd < 0 && errno == EAGAIN);
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS)
			return strata_fail(err, errno, "open '%s'", path);
		openat2_state = -1;
	}
	return walk_in_root(rootfd, p, flags, mode, err);
}

int path_open_parent_in(int rootfd, const char *path, bool create, char **base_owner,
			const char **base, struct strata_error **err)
{
	cleanup_free char *clean = path_clean(path);
	char *slash;
	int fd;

	*base_owner = NULL;
	*base = NULL;
	if (!*clean) {
		fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return strata_fail(err, errno, "dup root fd");
		*base_owner = xstrdup(".");
		*base = *base_owner;
		return fd;
	}
	slash = strrchr(clean, '/');
	if (!slash) {
		fd = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
		if (fd < 0)
			return strata_fail(err, errno, "dup root fd");
		*base_owner = steal_ptr(&clean);
		*base = *base_owner;
		return fd;
	}
	*slash = '\0';
	if (create)
		fd = path_mkdirs_in(rootfd, clean, 0755, err);
	else
		fd = path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, err);
	if (fd < 0)
		return -1;
	*base_owner = steal_ptr(&clean);
	*base = slash + 1;
	return fd;
}

/*
 * Opens the directory holding the last component of @clean (a cleaned path
 * inside @rootfd) and points *@comp at that component; -1 with errno set.
 */
static int open_last_parent(int rootfd, char *clean, char **comp, struct strata_error **err)
{
	char *slash = strrchr(clean, '/');
	int fd;

	if (!slash) {
		*comp = clean;
		return fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	}
	*slash = '\0';
	fd = path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, err);
	*slash = '/';
	*comp = slash + 1;
	return fd;
}

int path_mkdirs_in(int rootfd, const char *path, mode_t mode, struct strata_error **err)
{
	cleanup_free char *clean = path_clean(path);
	size_t len = strlen(clean);
	int fd;

	fd = path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, NULL);
	if (fd >= 0 || len == 0)
		return fd >= 0 ? fd : path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, err);

	/* Walk from the top, creating each missing component below its resolved parent. */
	for (size_t i = 0; i <= len; i++) {
		cleanup_close int parent = -1;
		char saved;
		char *comp;
		int r;

		if (clean[i] != '/' && clean[i] != '\0')
			continue;
		saved = clean[i];
		clean[i] = '\0';
		parent = open_last_parent(rootfd, clean, &comp, err);
		if (parent < 0) {
			clean[i] = saved;
			return strata_fail(err, errno, "mkdir '%s'", path);
		}
		r = mkdirat(parent, comp, mode);
		if (r < 0 && errno != EEXIST) {
			int e = errno;

			clean[i] = saved;
			return strata_fail(err, e, "mkdir '%s'", path);
		}
		clean[i] = saved;
	}
	return path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, err);
}

/* Depth of dangling symlinks path_mkdirs_owned_in follows before it gives up (ELOOP). */
#define MKDIRS_MAX_LINKS 40

static int mkdirs_owned(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid, int links,
			struct strata_error **err)
{
	cleanup_free char *clean = path_clean(path);
	size_t len = strlen(clean);
	int fd;

	fd = path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, NULL);
	if (fd >= 0 || len == 0)
		return fd >= 0 ? fd : path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, err);
	for (size_t i = 0; i <= len; i++) {
		cleanup_close int parent = -1;
		cleanup_close int probe = -1;
		char saved;
		char *comp;
		struct stat st;

		if (clean[i] != '/' && clean[i] != '\0')
			continue;
		saved = clean[i];
		clean[i] = '\0';
		parent = open_last_parent(rootfd, clean, &comp, err);
		if (parent < 0) {
			clean[i] = saved;
			return strata_fail(err, errno, "mkdir '%s'", path);
		}
		if (mkdirat(parent, comp, mode) == 0) {
			if (uid != (uid_t)-1 && fchownat(parent, comp, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
				clean[i] = saved;
				return strata_fail(err, errno, "chown '%s'", clean);
			}
		} else if (errno != EEXIST) {
			int e = errno;

			clean[i] = saved;
			return strata_fail(err, e, "mkdir '%s'", path);
		} else if (fstatat(parent, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode) &&
			   (probe = path_open_in(rootfd, clean, O_PATH, 0, NULL)) < 0 && errno == ENOENT) {
			/* A dangling symlink: create its target, inside the root. */
			char target[4096];
			ssize_t n = readlinkat(parent, comp, target, sizeof(target) - 1);
			cleanup_free char *dir = NULL;
			cleanup_free char *joined = NULL;
			int tfd;

			if (n < 0) {
				clean[i] = saved;
				return strata_fail(err, errno, "read link '%s'", clean);
			}
			target[n] = '\0';
			if (links >= MKDIRS_MAX_LINKS) {
				clean[i] = saved;
				return strata_fail(err, ELOOP, "mkdir '%s'", path);
			}
			dir = xstrndup(clean, comp > clean ? (size_t)(comp - 1 - clean) : 0);
			joined = target[0] == '/' ? xstrdup(target) : path_join(dir, target);
			tfd = mkdirs_owned(rootfd, joined, mode, uid, gid, links + 1, err);
			if (tfd < 0) {
				clean[i] = saved;
				return -1;
			}
			close(tfd);
		}
		clean[i] = saved;
	}
	return path_open_in(rootfd, clean, O_PATH | O_DIRECTORY, 0, err);
}

int path_mkdirs_owned_in(int rootfd, const char *path, mode_t mode, uid_t uid, gid_t gid,
			 struct strata_error **err)
{
	return mkdirs_owned(rootfd, path, mode, uid, gid, 0, err);
}

static int rm_rf_children(int dfd, const char *what, struct strata_error **err)
{
	DIR *d;
	struct dirent *de;
	int ret = 0;

	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return strata_fail(err, errno, "opendir '%s'", what);
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (path_rm_rf_at(dirfd(d), de->d_name, err) < 0) {
			ret = -1;
			break;
		}
	}
	closedir(d);
	return ret;
}

int path_rm_rf_at(int dirfd, const char *name, struct strata_error **err)
{
	int fd;

	if (unlinkat(dirfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return strata_fail(err, errno, "remove '%s'", name);
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/*
	 * A directory of ours that we may not read (overlayfs makes work/work
	 * mode 0; without root nothing overrides that): open it up first.
	 */
	if (fd < 0 && errno == EACCES && fchmodat(dirfd, name, 0700, 0) == 0)
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		return strata_fail(err, errno, "open '%s'", name);
	}
	if (rm_rf_children(fd, name, err) < 0)
		return -1;
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return strata_fail(err, errno, "remove '%s'", name);
	return 0;
}

int path_mkdir_p(const char *path, mode_t mode, struct strata_error **err)
{
	cleanup_free char *p = xstrdup(path);
	size_t len = strlen(p);

	for (size_t i = 1; i <= len; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		p[i] = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return strata_fail(err, errno, "mkdir '%s'", p);
		if (i < len)
			p[i] = '/';
	}
	return 0;
}
