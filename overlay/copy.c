/*
 * Copying a directory tree with everything a layer can hold: the vfs
 * backend's container rootfs, and a committed upper dir turned into the
 * new layer's dir. Order matters per entry: content, then owner (chown
 * clears setuid/setgid and security.capability, so they come after),
 * then mode, then xattrs, and times last (directories after their
 * children, whose creation would change them).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "overlay/overlay-int.h"

/* Hardlinks: the first copy of each (dev, ino) with more than one link, by relative path. */
struct link_entry {
	dev_t dev;
	ino_t ino;
	char *path; /* NULL: empty slot */
};

struct copier {
	unsigned flags;
	const struct idmap *map; /* owners moved through it (inside to outside), or NULL */
	int dst_root;
	struct link_entry *tab;
	size_t cap, used;
};

static size_t link_hash(dev_t dev, ino_t ino, size_t cap)
{
	uint64_t h = ((uint64_t)dev * 0x9e3779b97f4a7c15ULL) ^ ((uint64_t)ino * 0xc2b2ae3d27d4eb4fULL);

	return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static const char *link_find(const struct copier *c, dev_t dev, ino_t ino)
{
	if (!c->cap)
		return NULL;
	for (size_t i = link_hash(dev, ino, c->cap);; i = (i + 1) & (c->cap - 1)) {
		if (!c->tab[i].path)
			return NULL;
		if (c->tab[i].dev == dev && c->tab[i].ino == ino)
			return c->tab[i].path;
	}
}

static void link_add(struct copier *c, dev_t dev, ino_t ino, const char *path)
{
	size_t i;

	if ((c->used + 1) * 2 > c->cap) {
		struct link_entry *old = c->tab;
		size_t oldcap = c->cap;

		c->cap = c->cap ? c->cap * 2 : 64;
		c->tab = xcalloc(c->cap, sizeof(*c->tab));
		for (size_t k = 0; k < oldcap; k++) {
			if (!old[k].path)
				continue;
			for (i = link_hash(old[k].dev, old[k].ino, c->cap); c->tab[i].path;
			     i = (i + 1) & (c->cap - 1))
				;
			c->tab[i] = old[k];
		}
		free(old);
	}
	for (i = link_hash(dev, ino, c->cap); c->tab[i].path; i = (i + 1) & (c->cap - 1))
		;
	c->tab[i].dev = dev;
	c->tab[i].ino = ino;
	c->tab[i].path = xstrdup(path);
	c->used++;
}

bool overlay_copy_xattr_skipped(const char *name, unsigned flags)
{
	/* overlayfs' private attributes (origin, impure, nlink, ...) mean nothing outside the mount. */
	if ((flags & COPY_STRIP_OVERLAY) &&
	    (str_has_prefix(name, "trusted.overlay.") || str_has_prefix(name, "user.overlay.")) &&
	    strcmp(name, "trusted.overlay.opaque") != 0 && strcmp(name, "user.overlay.opaque") != 0)
		return true;
	return false;
}

static int copy_xattrs(const char *src, const char *dst, unsigned flags, struct strata_error **err)
{
	cleanup_free char *list = NULL;
	ssize_t n = sys_llistxattr(src, NULL, 0);

	if (n < 0) {
		if (errno == ENOTSUP || errno == ENODATA)
			return 0;
		return strata_fail(err, errno, "list xattrs of '%s'", src);
	}
	if (n == 0)
		return 0;
	list = xmalloc((size_t)n);
	n = sys_llistxattr(src, list, (size_t)n);
	if (n < 0)
		return strata_fail(err, errno, "list xattrs of '%s'", src);
	for (ssize_t off = 0; off < n; off += (ssize_t)strlen(list + off) + 1) {
		const char *k = list + off;
		cleanup_free char *v = NULL;
		ssize_t vn;

		if (overlay_copy_xattr_skipped(k, flags))
			continue;
		vn = sys_lgetxattr(src, k, NULL, 0);
		if (vn < 0)
			continue; /* removed meanwhile */
		v = xmalloc((size_t)vn + 1);
		vn = sys_lgetxattr(src, k, v, (size_t)vn);
		if (vn < 0)
			continue;
		if (sys_lsetxattr(dst, k, v, (size_t)vn, 0) < 0)
			return strata_fail(err, errno, "set xattr '%s'", k);
	}
	return 0;
}

/*
 * The owner @st's file gets in the copy: its own, or moved through @map;
 * an id the map does not hold becomes the overflow id (65534), as the
 * kernel shows it through an idmapped mount.
 */
static void mapped_owner(const struct idmap *map, const struct stat *st, uid_t *uid, gid_t *gid)
{
	unsigned u = st->st_uid, g = st->st_gid;

	if (map && !idmap_to_outside(map->uid, map->n_uid, u, &u))
		u = 65534;
	if (map && !idmap_to_outside(map->gid, map->n_gid, g, &g))
		g = 65534;
	*uid = u;
	*gid = g;
}

/* Owner, mode, xattrs and times of @st (the source, at @src) onto @name in @dfd. */
static int apply_meta(int dfd, const char *name, const char *src, const struct stat *st,
		      unsigned flags, const struct idmap *map, struct strata_error **err)
{
	cleanup_free char *dst = dfd == AT_FDCWD ? xstrdup(name) : overlay_fd_path(dfd, name);
	struct timespec ts[2] = { st->st_atim, st->st_mtim };
	uid_t uid = 0;
	gid_t gid = 0;

	mapped_owner(map, st, &uid, &gid);
	if (fchownat(dfd, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return strata_fail(err, errno, "chown '%s'", name);
	if (!S_ISLNK(st->st_mode) && fchmodat(dfd, name, st->st_mode & 07777, 0) < 0)
		return strata_fail(err, errno, "chmod '%s'", name);
	if (copy_xattrs(src, dst, flags, err) < 0)
		return -1;
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return strata_fail(err, errno, "set times of '%s'", name);
	return 0;
}

static int copy_dir(struct copier *c, int sfd, int dfd, const char *rel, struct strata_error **err);

static int copy_entry(struct copier *c, int sfd, int dfd, const char *name, const char *rel,
		      struct strata_error **err)
{
	cleanup_free char *src = overlay_fd_path(sfd, name);
	struct stat st;

	if (fstatat(sfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return strata_fail(err, errno, "stat '%s'", rel);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
		const char *first = link_find(c, st.st_dev, st.st_ino);

		if (first) {
			if (linkat(c->dst_root, first, dfd, name, 0) < 0)
				return strata_fail(err, errno, "link '%s'", rel);
			return 0;
		}
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG: {
		cleanup_close int in = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		cleanup_close int out = -1;

		if (in < 0)
			return strata_fail(err, errno, "open '%s'", rel);
		out = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0)
			return strata_fail(err, errno, "create '%s'", rel);
		if (c->flags & COPY_REFLINK_ONLY) {
			/* ext4 and the like cannot share data: the caller then copies nothing */
			if (st.st_size > 0 && ioctl(out, FICLONE, in) < 0)
				return strata_fail(err,
						   errno == EXDEV || errno == EINVAL || errno == ENOTTY
							   ? EOPNOTSUPP
							   : errno,
						   "reflink '%s'", rel);
		} else if (file_copy_fd(in, out, err) < 0) {
			return strata_wrap(err, "'%s'", rel);
		}
		break;
	}
	case S_IFDIR: {
		cleanup_close int s2 = -1;
		cleanup_close int d2 = -1;

		if (mkdirat(dfd, name, 0700) < 0)
			return strata_fail(err, errno, "mkdir '%s'", rel);
		s2 = openat(sfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		d2 = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (s2 < 0 || d2 < 0)
			return strata_fail(err, errno, "open '%s'", rel);
		if (copy_dir(c, s2, d2, rel, err) < 0)
			return -1;
		break;
	}
	case S_IFLNK: {
		char target[4097];
		ssize_t n = readlinkat(sfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return strata_fail(err, errno, "read link '%s'", rel);
		target[n] = '\0';
		if (symlinkat(target, dfd, name) < 0)
			return strata_fail(err, errno, "symlink '%s'", rel);
		break;
	}
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		if (mknodat(dfd, name, st.st_mode, st.st_rdev) < 0)
			return strata_fail(err, errno, "mknod '%s'", rel);
		break;
	default:
		return strata_fail_msg(err, EINVAL, "'%s' has an unknown file type", rel);
	}
	if (apply_meta(dfd, name, src, &st, c->flags, c->map, err) < 0)
		return strata_wrap(err, "'%s'", rel);
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1)
		link_add(c, st.st_dev, st.st_ino, rel);
	return 0;
}

static int copy_dir(struct copier *c, int sfd, int dfd, const char *rel, struct strata_error **err)
{
	int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return strata_fail(err, errno, "read '%s'", *rel ? rel : "/");
	}
	while ((errno = 0, de = readdir(d))) {
		cleanup_free char *sub = NULL;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		/* aufs' own: hardlink pool, xino and orphan dirs; the opaque marker is layer data. */
		if ((c->flags & COPY_SKIP_AUFS_META) && str_has_prefix(de->d_name, ".wh..wh.") &&
		    strcmp(de->d_name, ".wh..wh..opq") != 0)
			continue;
		sub = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (copy_entry(c, sfd, dfd, de->d_name, sub, err) < 0)
			return -1;
	}
	if (errno)
		return strata_fail(err, errno, "read '%s'", *rel ? rel : "/");
	return 0;
}

int overlay_copy_tree(int srcfd, int dstfd, unsigned flags, struct strata_error **err)
{
	return overlay_copy_tree_mapped(srcfd, dstfd, flags, NULL, err);
}

int overlay_copy_tree_mapped(int srcfd, int dstfd, unsigned flags, const struct idmap *map,
			     struct strata_error **err)
{
	struct copier c = { .flags = flags, .map = map, .dst_root = dstfd };
	cleanup_free char *src = overlay_fd_path(srcfd, ".");
	struct stat st;
	int ret = -1;

	if (fstat(srcfd, &st) < 0) {
		strata_fail(err, errno, "stat the source dir");
		goto out;
	}
	if (copy_dir(&c, srcfd, dstfd, "", err) < 0)
		goto out;
	if (apply_meta(dstfd, ".", src, &st, flags, map, err) < 0)
		goto out;
	ret = 0;
out:
	for (size_t i = 0; i < c.cap; i++)
		free(c.tab[i].path);
	free(c.tab);
	return ret;
}

int overlay_copy_meta_path(const char *src_path, const char *dst_path, unsigned flags,
		   struct strata_error **err)
{
	struct stat st;

	if (lstat(src_path, &st) < 0)
		return strata_fail(err, errno, "stat '%s'", src_path);
	return apply_meta(AT_FDCWD, dst_path, src_path, &st, flags, NULL, err);
}

int overlay_tree_copy(int srcfd, int dstfd, struct strata_error **err)
{
	return overlay_copy_tree(srcfd, dstfd, COPY_STRIP_OVERLAY, err);
}
