/*
 * Change lists, as `docker diff` prints them.
 *
 * With an upper dir (overlay, aufs) only the upper dir is walked: each
 * entry is an addition, or a modification when a lower layer has the
 * path; a whiteout is a deletion; an opaque directory hides what the
 * lowers had in it, so those names are deletions too. The lowers are only
 * looked up, path by path, and not at all below a directory that is new,
 * so the cost follows the size of the change.
 *
 * vfs has no upper dir: the container's tree is compared with the image's
 * top snapshot, as Docker's ChangesDirs does (directories by mode and
 * owner only; a directory with changes inside is listed as changed).
 *
 * A container's list (container.c) leaves out the mount points the
 * launcher made where the image had none, while they are still empty.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

struct changes {
	struct layers_change *v;
	size_t len, cap;
};

static void add_change(struct changes *c, const char *path, enum layers_change_kind k)
{
	if (c->len == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->v = xrealloc(c->v, c->cap * sizeof(*c->v));
	}
	c->v[c->len].path = xstrdup(path);
	c->v[c->len].kind = k;
	c->len++;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct layers_change *)a)->path,
		      ((const struct layers_change *)b)->path);
}

void overlay_changes_free(struct layers_change *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].path);
	free(c);
}

const char *overlay_change_letter(enum layers_change_kind k)
{
	switch (k) {
	case LAYERS_CHANGE_ADD:
		return "A";
	case LAYERS_CHANGE_MODIFY:
		return "C";
	case LAYERS_CHANGE_DELETE:
		return "D";
	}
	return "?";
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The names in directory @fd (not "." and ".."), sorted. Does not close @fd. */
static int read_names(int fd, char ***out, struct strata_error **err)
{
	int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	char **v = xcalloc(1, sizeof(char *));
	size_t n = 0, cap = 1;

	if (dfd < 0 || !(d = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		free(v);
		return strata_fail(err, errno, "read directory");
	}
	while ((errno = 0, de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n + 1 >= cap) {
			cap *= 2;
			v = xrealloc(v, (cap + 1) * sizeof(char *));
		}
		v[n++] = xstrdup(de->d_name);
		v[n] = NULL;
	}
	if (errno) {
		int e = errno;

		strv_free(v);
		return strata_fail(err, e, "read directory");
	}
	if (v)
		qsort(v, n, sizeof(char *), cmp_str);
	*out = v;
	return 0;
}

static bool sorted_contains(char *const *v, size_t n, const char *s)
{
	return n && bsearch(&s, v, n, sizeof(char *), cmp_str) != NULL;
}

static char *join_rel(const char *rel, const char *name)
{
	return *rel ? xasprintf("%s/%s", rel, name) : xstrdup(name);
}

/* ---- lookups in lower layers ---- */

struct lowers {
	int *fds; /* O_PATH fds on the lower dirs, top first */
	size_t n;
	enum layers_whiteout wh;
};

enum lstate {
	L_MISSING, /* not in this layer; look further down */
	L_HIDDEN,  /* whited out, or under an opaque dir or a non-directory: stop */
	L_FOUND,
};

/* Looks @path up in one layer as overlayfs would: whiteouts and opaque dirs on the way count. */
static enum lstate layer_lookup(int lfd, const char *path, enum layers_whiteout wh, struct stat *st)
{
	cleanup_free char *cur = xstrdup(path);
	bool opaque_above = false;
	char *p = cur;

	for (;;) {
		char *slash = strchr(p, '/');
		bool last = !slash;

		if (slash)
			*slash = '\0';
		if (wh == LAYERS_WHITEOUT_AUFS) {
			/* .wh.NAME beside NAME's place hides it. */
			char *base = strrchr(cur, '/');
			cleanup_free char *whp =
				base ? xasprintf("%.*s/.wh.%s", (int)(base - cur), cur, base + 1)
				     : xasprintf(".wh.%s", cur);

			if (faccessat(lfd, whp, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
				return L_HIDDEN;
		}
		if (fstatat(lfd, cur, st, AT_SYMLINK_NOFOLLOW) < 0)
			return opaque_above ? L_HIDDEN : L_MISSING;
		{
			const char *base = strrchr(cur, '/');

			base = base ? base + 1 : cur;
			if (overlay_whiteout_target(lfd, base, st, wh))
				return L_HIDDEN;
		}
		if (last)
			return L_FOUND;
		if (!S_ISDIR(st->st_mode))
			return L_HIDDEN;
		if (overlay_whiteout_dir_is_opaque(lfd, cur, wh))
			opaque_above = true;
		*slash = '/';
		p = slash + 1;
	}
}

static bool lower_has(const struct lowers *lw, const char *path)
{
	struct stat st;

	for (size_t i = 0; i < lw->n; i++) {
		switch (layer_lookup(lw->fds[i], path, lw->wh, &st)) {
		case L_FOUND:
			return true;
		case L_HIDDEN:
			return false;
		case L_MISSING:
			break;
		}
	}
	return false;
}

/* The names the lowers show in directory @path (merged as overlayfs would), sorted. */
static int lower_list(const struct lowers *lw, const char *path, char ***out,
		      struct strata_error **err)
{
	cleanup_strv char **seen = xcalloc(1, sizeof(char *));
	char **present = xcalloc(1, sizeof(char *));
	struct stat st;

	for (size_t i = 0; i < lw->n; i++) {
		enum lstate s = layer_lookup(lw->fds[i], path, lw->wh, &st);
		cleanup_strv char **names = NULL;
		cleanup_close int dfd = -1;

		if (s == L_MISSING)
			continue;
		if (s == L_HIDDEN || !S_ISDIR(st.st_mode))
			break;
		dfd = openat(lw->fds[i], path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0 || read_names(dfd, &names, err) < 0) {
			strv_free(present);
			return strata_fail(err, errno, "read lower dir '%s'", path);
		}
		for (size_t k = 0; names[k]; k++) {
			struct stat cst;
			const char *t;

			if (overlay_whiteout_is_meta(names[k], lw->wh) || strv_contains(seen, names[k]))
				continue;
			if (fstatat(dfd, names[k], &cst, AT_SYMLINK_NOFOLLOW) < 0)
				continue;
			t = overlay_whiteout_target(dfd, names[k], &cst, lw->wh);
			strv_append(&seen, t ? t : names[k]);
			if (!t)
				strv_append(&present, names[k]);
		}
		if (overlay_whiteout_dir_is_opaque(lw->fds[i], path, lw->wh))
			break;
	}
	if (present)
		qsort(present, strv_len(present), sizeof(char *), cmp_str);
	*out = present;
	return 0;
}

/* ---- upper dirs ---- */

struct upper_walk {
	struct lowers lw;
	enum layers_whiteout wh;
	struct changes c;
};

static int walk_upper(struct upper_walk *w, int dirfd, const char *rel, bool in_lower,
		      struct strata_error **err)
{
	cleanup_strv char **names = NULL;
	size_t n;

	if (read_names(dirfd, &names, err) < 0)
		return strata_wrap(err, "'%s'", *rel ? rel : "/");
	n = strv_len(names);
	for (size_t i = 0; i < n; i++) {
		const char *name = names[i];
		cleanup_free char *path = join_rel(rel, name);
		cleanup_close int sub = -1;
		bool exists, opaque;
		const char *deleted;
		struct stat st;

		if (overlay_whiteout_is_meta(name, w->wh))
			continue;
		if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return strata_fail(err, errno, "stat '%s'", path);
		deleted = overlay_whiteout_target(dirfd, name, &st, w->wh);
		if (deleted) {
			cleanup_free char *dp = join_rel(rel, deleted);

			add_change(&w->c, dp, LAYERS_CHANGE_DELETE);
			continue;
		}
		exists = in_lower && lower_has(&w->lw, path);
		add_change(&w->c, path, exists ? LAYERS_CHANGE_MODIFY : LAYERS_CHANGE_ADD);
		if (!S_ISDIR(st.st_mode))
			continue;
		sub = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return strata_fail(err, errno, "open '%s'", path);
		opaque = overlay_whiteout_dir_is_opaque(dirfd, name, w->wh);
		if (opaque && exists) {
			/* What the lowers had here is gone, unless the upper has it again. */
			cleanup_strv char **had = NULL;
			cleanup_strv char **now = NULL;
			size_t n_now;

			if (lower_list(&w->lw, path, &had, err) < 0 || read_names(sub, &now, err) < 0)
				return -1;
			n_now = strv_len(now);
			for (size_t k = 0; had[k]; k++) {
				if (!sorted_contains(now, n_now, had[k])) {
					cleanup_free char *dp = join_rel(path, had[k]);

					add_change(&w->c, dp, LAYERS_CHANGE_DELETE);
				}
			}
		}
		if (walk_upper(w, sub, path, exists, err) < 0)
			return -1;
	}
	return 0;
}

int overlay_diff_upper(int upperfd, enum layers_whiteout wh, char *const *lowers, size_t n_lowers,
		       enum layers_whiteout lower_wh, struct layers_change **out, size_t *n,
		       struct strata_error **err)
{
	struct upper_walk w = { .lw = { .n = 0, .wh = lower_wh }, .wh = wh };
	int ret = -1;

	w.lw.fds = xcalloc(n_lowers + 1, sizeof(int));
	for (size_t i = 0; i < n_lowers; i++) {
		w.lw.fds[i] = open(lowers[i], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (w.lw.fds[i] < 0) {
			strata_fail(err, errno, "open lower dir '%s'", lowers[i]);
			goto out;
		}
		w.lw.n++;
	}
	if (walk_upper(&w, upperfd, "", true, err) < 0)
		goto out;
	if (w.c.v)
		qsort(w.c.v, w.c.len, sizeof(*w.c.v), cmp_change);
	*out = steal_ptr(&w.c.v);
	*n = w.c.len;
	ret = 0;
out:
	for (size_t i = 0; i < w.lw.n; i++)
		close(w.lw.fds[i]);
	free(w.lw.fds);
	if (ret < 0)
		overlay_changes_free(w.c.v, w.c.len);
	return ret;
}

/* ---- full trees (vfs) ---- */

/* The xattrs of @name in @dirfd as "name\0value-length:value..." for comparison. Caller frees. */
static char *xattr_blob(int dirfd, const char *name, size_t *len)
{
	cleanup_free char *p = overlay_fd_path(dirfd, name);
	cleanup_free char *list = NULL;
	struct sbuf b = SBUF_INIT;
	ssize_t n = sys_llistxattr(p, NULL, 0);

	if (n > 0) {
		list = xmalloc((size_t)n);
		n = sys_llistxattr(p, list, (size_t)n);
	}
	/* The list comes in the order the filesystem keeps; good enough for equal copies. */
	for (ssize_t off = 0; n > 0 && off < n; off += (ssize_t)strlen(list + off) + 1) {
		const char *k = list + off;
		ssize_t vn = sys_lgetxattr(p, k, NULL, 0);
		char *v;

		if (vn < 0)
			continue;
		v = xmalloc((size_t)vn + 1);
		vn = sys_lgetxattr(p, k, v, (size_t)vn);
		if (vn >= 0) {
			sbuf_addf(&b, "%s=%zd:", k, vn);
			sbuf_add(&b, v, (size_t)vn);
		}
		free(v);
	}
	return sbuf_detach(&b, len);
}

static bool entry_changed(int nfd, int ofd, const char *name, const struct stat *a,
			  const struct stat *b)
{
	cleanup_free char *xa = NULL;
	cleanup_free char *xb = NULL;
	size_t la, lb;

	if (a->st_mode != b->st_mode || a->st_uid != b->st_uid || a->st_gid != b->st_gid ||
	    a->st_rdev != b->st_rdev)
		return true;
	/* A directory's size and mtime say nothing useful (moby #9874). */
	/*
	 * A new hardlink to an old file changes only the old file's link
	 * count; listing it keeps the link a link in the committed layer.
	 */
	if (!S_ISDIR(a->st_mode) &&
	    (a->st_size != b->st_size || a->st_mtim.tv_sec != b->st_mtim.tv_sec ||
	     a->st_mtim.tv_nsec != b->st_mtim.tv_nsec || a->st_nlink != b->st_nlink))
		return true;
	if (S_ISLNK(a->st_mode)) {
		char ta[4096], tb[4096];
		ssize_t na = readlinkat(nfd, name, ta, sizeof(ta));
		ssize_t nb = readlinkat(ofd, name, tb, sizeof(tb));

		if (na != nb || (na > 0 && memcmp(ta, tb, (size_t)na) != 0))
			return true;
	}
	xa = xattr_blob(nfd, name, &la);
	xb = xattr_blob(ofd, name, &lb);
	return la != lb || memcmp(xa, xb, la) != 0;
}

static int add_all(struct changes *c, int dirfd, const char *rel, struct strata_error **err)
{
	cleanup_strv char **names = NULL;

	if (read_names(dirfd, &names, err) < 0)
		return strata_wrap(err, "'%s'", rel);
	for (size_t i = 0; names[i]; i++) {
		cleanup_free char *path = join_rel(rel, names[i]);
		cleanup_close int sub = -1;
		struct stat st;

		add_change(c, path, LAYERS_CHANGE_ADD);
		if (fstatat(dirfd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
			continue;
		sub = openat(dirfd, names[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return strata_fail(err, errno, "open '%s'", path);
		if (add_all(c, sub, path, err) < 0)
			return -1;
	}
	return 0;
}

static int walk_trees(struct changes *c, int nfd, int ofd, const char *rel,
		      struct strata_error **err)
{
	cleanup_strv char **nn = NULL;
	cleanup_strv char **on = NULL;
	size_t i = 0, k = 0, ln, lo;

	if (read_names(nfd, &nn, err) < 0 || read_names(ofd, &on, err) < 0)
		return strata_wrap(err, "'%s'", *rel ? rel : "/");
	ln = strv_len(nn);
	lo = strv_len(on);
	while (i < ln || k < lo) {
		int cmp = i >= ln ? 1 : k >= lo ? -1 : strcmp(nn[i], on[k]);
		const char *name = cmp <= 0 ? nn[i] : on[k];
		cleanup_free char *path = join_rel(rel, name);
		struct stat sn, so;

		if (cmp > 0) {
			add_change(c, path, LAYERS_CHANGE_DELETE);
			k++;
			continue;
		}
		if (fstatat(nfd, name, &sn, AT_SYMLINK_NOFOLLOW) < 0)
			return strata_fail(err, errno, "stat '%s'", path);
		if (cmp < 0) {
			cleanup_close int sub = -1;

			add_change(c, path, LAYERS_CHANGE_ADD);
			i++;
			if (!S_ISDIR(sn.st_mode))
				continue;
			sub = openat(nfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || add_all(c, sub, path, err) < 0)
				return sub < 0 ? strata_fail(err, errno, "open '%s'", path) : -1;
			continue;
		}
		i++;
		k++;
		if (fstatat(ofd, name, &so, AT_SYMLINK_NOFOLLOW) < 0)
			return strata_fail(err, errno, "stat '%s'", path);
		if (S_ISDIR(sn.st_mode) && S_ISDIR(so.st_mode)) {
			cleanup_close int a = -1;
			cleanup_close int b = -1;
			size_t before = c->len;
			size_t at = c->len;

			if (entry_changed(nfd, ofd, name, &sn, &so))
				add_change(c, path, LAYERS_CHANGE_MODIFY);
			else
				at = SIZE_MAX;
			a = openat(nfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			b = openat(ofd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (a < 0 || b < 0)
				return strata_fail(err, errno, "open '%s'", path);
			if (walk_trees(c, a, b, path, err) < 0)
				return -1;
			/* Changes inside make the directory a change too, as Docker lists it. */
			if (at == SIZE_MAX && c->len > before)
				add_change(c, path, LAYERS_CHANGE_MODIFY);
			continue;
		}
		if ((sn.st_mode & S_IFMT) != (so.st_mode & S_IFMT) ||
		    entry_changed(nfd, ofd, name, &sn, &so))
			add_change(c, path, LAYERS_CHANGE_MODIFY);
		if (S_ISDIR(sn.st_mode)) {
			/* A file became a directory: all of it is new. */
			cleanup_close int sub =
				openat(nfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0 || add_all(c, sub, path, err) < 0)
				return sub < 0 ? strata_fail(err, errno, "open '%s'", path) : -1;
		}
	}
	return 0;
}

int overlay_diff_trees(int newfd, int oldfd, struct layers_change **out, size_t *n,
		       struct strata_error **err)
{
	struct changes c = { 0 };

	if (walk_trees(&c, newfd, oldfd, "", err) < 0) {
		overlay_changes_free(c.v, c.len);
		return -1;
	}
	if (c.v)
		qsort(c.v, c.len, sizeof(*c.v), cmp_change);
	*out = c.v;
	*n = c.len;
	return 0;
}
