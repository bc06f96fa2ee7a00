/*
 * Unpacking a layer tar into a directory. libarchive parses the stream; we
 * write every entry ourselves, relative to directory fds resolved inside the
 * layer root (path_open_in: openat2 RESOLVE_IN_ROOT, or an O_NOFOLLOW walk),
 * with O_NOFOLLOW/O_EXCL on the last component, so no entry can write,
 * link or follow anything outside the root. Owners are the tar's numeric
 * IDs: no user or group name is ever looked up. The diffID is hashed from
 * the same uncompressed bytes libarchive reads.
 *
 * Order per entry: content, owner (chown clears setuid and
 * security.capability), mode, xattrs, times. Directory modes and times are
 * set last, deepest first, since creating children changes them.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/layers-int.h"

#define CHUNK (1u << 20)
/* Past this many uncompressed bytes, a stream expanding more than RATIO_MAX times is refused. */
#define RATIO_FLOOR (1ULL << 30)
#define RATIO_MAX 200

struct dir_meta {
	char *path;
	mode_t mode;
	struct timespec times[2];
};

struct unpacker {
	int rootfd;
	enum layers_whiteout wh;
	uint64_t max_bytes;
	struct layers_source *src;
	struct digester *dg;
	struct strata_error *read_err;
	char *buf;
	bool privileged;
	bool warned_dev, warned_owner, warned_xattr;
	char *parent_path; /* cached parent directory (relative) and its O_PATH fd */
	int parent_fd;
	gid_t parent_new_gid; /* the group a new entry in that parent gets */
	uid_t euid;
	gid_t egid;
	mode_t umask; /* the process's, read once: a file made with its final mode needs no chmod */
	struct dir_meta *dirs;
	size_t n_dirs, cap_dirs;
	struct pathset seen; /* vfs: paths this layer wrote */
	uint64_t entries;
};

int layers_whiteout_parse(const char *s, enum layers_whiteout *out)
{
	if (!strcmp(s, "overlay"))
		*out = LAYERS_WHITEOUT_OVERLAY;
	else if (!strcmp(s, "aufs"))
		*out = LAYERS_WHITEOUT_AUFS;
	else if (!strcmp(s, "vfs"))
		*out = LAYERS_WHITEOUT_VFS;
	else
		return -1;
	return 0;
}

static la_ssize_t unpack_read_cb(struct archive *a, void *data, const void **buff)
{
	struct unpacker *u = data;
	ssize_t n = layers_source_read(u->src, u->buf, CHUNK, &u->read_err);
	uint64_t total = layers_source_bytes(u->src);
	uint64_t raw = layers_source_raw_bytes(u->src);

	if (n < 0) {
		archive_set_error(a, EIO, "%s", strata_error_msg(u->read_err));
		return -1;
	}
	if (total > u->max_bytes) {
		strata_fail_msg(&u->read_err, EFBIG,
				"layer is larger than the limit of %llu bytes uncompressed",
				(unsigned long long)u->max_bytes);
		archive_set_error(a, EFBIG, "too large");
		return -1;
	}
	if (total > RATIO_FLOOR && raw > 0 && total / raw > RATIO_MAX) {
		strata_fail_msg(&u->read_err, EFBIG,
				"layer expands more than %d times its compressed size past %llu MiB "
				"(a decompression bomb?)",
				RATIO_MAX, (unsigned long long)(RATIO_FLOOR >> 20));
		archive_set_error(a, EFBIG, "too large");
		return -1;
	}
	if (n > 0)
		digester_update(u->dg, u->buf, (size_t)n);
	*buff = u->buf;
	return n;
}

/* A printable, bounded form of an entry name for messages. */
static const char *shown(const char *name, char buf[96])
{
	size_t len = strlen(name);

	if (len < 80)
		return name;
	snprintf(buf, 96, "%.40s...(%zu bytes)", name, len);
	return buf;
}

/*
 * Cleans an entry name: drops leading '/', "." and empty components, resolves
 * "..". A name that climbs above the top is refused, as is one too long for
 * the kernel. "" stands for the top itself.
 */
static char *clean_name(const char *raw, const char *what, struct strata_error **err)
{
	size_t len = strlen(raw);
	char *out = xmalloc(len + 1);
	size_t o = 0;
	const char *p = raw;
	char b[96];

	while (*p) {
		const char *q = strchrnul(p, '/');
		size_t n = (size_t)(q - p);

		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (o == 0) {
				free(out);
				strata_fail_msg(err, EPERM, "%s '%s' leaves the layer root", what,
						shown(raw, b));
				return NULL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
		} else {
			if (n > NAME_MAX) {
				free(out);
				strata_fail_msg(err, ENAMETOOLONG,
						"%s '%s' has a component longer than %d bytes", what,
						shown(raw, b), NAME_MAX);
				return NULL;
			}
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *q ? q + 1 : q;
	}
	out[o] = '\0';
	if (o >= PATH_MAX) {
		free(out);
		strata_fail_msg(err, ENAMETOOLONG, "%s '%s' is longer than %d bytes", what,
				shown(raw, b), PATH_MAX - 1);
		return NULL;
	}
	return out;
}

/* Makes the next parent_fd() resolve again; the open fd stays valid until then. */
static void forget_parent(struct unpacker *u)
{
	free(u->parent_path);
	u->parent_path = NULL;
}

static void drop_parent(struct unpacker *u)
{
	if (u->parent_fd >= 0)
		close(u->parent_fd);
	u->parent_fd = -1;
	free(u->parent_path);
	u->parent_path = NULL;
}

/* The O_PATH fd of directory @dir (relative; "" is the root), created when missing. Borrowed. */
static int parent_fd(struct unpacker *u, const char *dir, struct strata_error **err)
{
	int fd;

	if (u->parent_path && !strcmp(u->parent_path, dir))
		return u->parent_fd;
	drop_parent(u);
	if (!*dir)
		fd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 3);
	else
		fd = path_mkdirs_in(u->rootfd, dir, 0755, err);
	if (fd < 0)
		return *dir ? -1 : strata_fail(err, errno, "dup root fd");
	u->parent_fd = fd;
	u->parent_path = xstrdup(dir);
	/* New entries get the parent's group when it is setgid, ours otherwise. */
	{
		struct stat st;

		u->parent_new_gid = fstat(fd, &st) == 0 && (st.st_mode & S_ISGID) ? st.st_gid
										  : u->egid;
	}
	return fd;
}

/* True when an entry made just now in the cached parent already has the entry's owner. */
static bool owner_is_ours(const struct unpacker *u, struct archive_entry *e)
{
	return (uid_t)archive_entry_uid(e) == u->euid &&
	       (gid_t)archive_entry_gid(e) == u->parent_new_gid;
}

/* The umask, from /proc/self/status (umask(2) cannot read it without changing it). */
static mode_t read_umask(void)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	const char *p;

	if (file_read_at(AT_FDCWD, "/proc/self/status", 1 << 16, &buf, &len, NULL) < 0 ||
	    !(p = strstr(buf, "\nUmask:")))
		return 0777; /* unknown: every file is made 0 and then chmod'ed */
	return (mode_t)strtoul(p + strlen("\nUmask:"), NULL, 8) & 0777;
}

/* Splits @path into its directory (written into @dir) and its last component. */
static const char *split(const char *path, char *dir)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		dir[0] = '\0';
		return path;
	}
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	return slash + 1;
}

/* Removes what is at @base in @pfd unless it is a directory and @keep_dir. */
static int clear_slot(struct unpacker *u, int pfd, const char *base, bool keep_dir, bool *is_dir,
		      struct strata_error **err)
{
	struct stat st;

	*is_dir = false;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return strata_fail(err, errno, "stat '%s'", base);
	}
	if (S_ISDIR(st.st_mode)) {
		if (keep_dir) {
			*is_dir = true;
			return 0;
		}
		forget_parent(u); /* the cached path may lead through what goes away */
		return path_rm_rf_at(pfd, base, err);
	}
	forget_parent(u);
	if (unlinkat(pfd, base, 0) < 0 && errno != ENOENT)
		return strata_fail(err, errno, "remove '%s'", base);
	return 0;
}

static bool xattr_allowed(const char *name)
{
	/* overlayfs' own (user.overlay.* with userxattr): a layer must not steer the mount */
	if (str_has_prefix(name, "trusted.overlay.") || str_has_prefix(name, "user.overlay."))
		return false;
	return str_has_prefix(name, "user.") || str_has_prefix(name, "trusted.") ||
	       !strcmp(name, "security.capability");
}

static void apply_xattrs(struct unpacker *u, int fd, struct archive_entry *e, const char *path)
{
	const char *name;
	const void *val;
	size_t size;

	if (archive_entry_xattr_reset(e) == 0)
		return;
	while (archive_entry_xattr_next(e, &name, &val, &size) == ARCHIVE_OK) {
		if (!xattr_allowed(name)) {
			log_debug("unpack: '%s': dropping xattr %s", path, name);
			continue;
		}
		if (fsetxattr(fd, name, val, size, 0) < 0 && !u->warned_xattr) {
			u->warned_xattr = true;
			log_warn("unpack: cannot set xattr %s on '%s': %s (further failures not shown)",
				 name, path, strerror(errno));
		}
	}
}

static void set_owner(struct unpacker *u, int fd, const char *base, struct archive_entry *e,
		      const char *path)
{
	uid_t uid = (uid_t)archive_entry_uid(e);
	gid_t gid = (gid_t)archive_entry_gid(e);
	int r;

	/*
	 * Without root (also as root of a user namespace that maps one uid)
	 * every file is the caller's, which a rootless container sees as
	 * root: the owners of the tar cannot be kept, and that is expected.
	 * With subordinate ids an owner beyond them fails (EINVAL): said once.
	 */
	if (!u->privileged)
		return;
	r = base ? fchownat(fd, base, uid, gid, AT_SYMLINK_NOFOLLOW) : fchown(fd, uid, gid);
	if (r < 0 && !u->warned_owner) {
		u->warned_owner = true;
		log_warn("unpack: cannot set owner %u:%u of '%s': %s (further failures not shown)",
			 (unsigned)uid, (unsigned)gid, path, strerror(errno));
	}
}

static void entry_times(struct archive_entry *e, struct timespec ts[2])
{
	ts[1].tv_sec = archive_entry_mtime(e);
	ts[1].tv_nsec = archive_entry_mtime_nsec(e);
	if (archive_entry_atime_is_set(e)) {
		ts[0].tv_sec = archive_entry_atime(e);
		ts[0].tv_nsec = archive_entry_atime_nsec(e);
	} else {
		ts[0] = ts[1];
	}
}

static int write_data(struct archive *a, int fd, struct archive_entry *e, const char *path,
		      struct strata_error **err)
{
	const void *blk;
	size_t len;
	la_int64_t off, pos = 0;
	int64_t size = archive_entry_size(e);
	int r;

	while ((r = archive_read_data_block(a, &blk, &len, &off)) == ARCHIVE_OK) {
		if (off != pos && lseek(fd, off, SEEK_SET) < 0)
			return strata_fail(err, errno, "seek in '%s'", path);
		if (len && file_write_all(fd, blk, len, err) < 0)
			return strata_wrap(err, "write '%s'", path);
		pos = off + (la_int64_t)len;
	}
	if (r != ARCHIVE_EOF)
		return -1; /* the caller reports the archive's error */
	if (size > pos && ftruncate(fd, size) < 0)
		return strata_fail(err, errno, "truncate '%s'", path);
	return 0;
}

static void remember_dir(struct unpacker *u, const char *path, struct archive_entry *e)
{
	struct dir_meta *d;

	if (u->n_dirs == u->cap_dirs) {
		u->cap_dirs = u->cap_dirs ? 2 * u->cap_dirs : 64;
		u->dirs = xrealloc(u->dirs, u->cap_dirs * sizeof(*u->dirs));
	}
	d = &u->dirs[u->n_dirs++];
	d->path = xstrdup(path);
	d->mode = archive_entry_mode(e) & 07777;
	entry_times(e, d->times);
}

static int finish_dirs(struct unpacker *u, struct strata_error **err)
{
	for (size_t i = u->n_dirs; i-- > 0;) {
		struct dir_meta *d = &u->dirs[i];
		int fd = *d->path ? path_open_in(u->rootfd, d->path, O_RDONLY | O_DIRECTORY |
							 O_NOFOLLOW, 0, NULL)
				  : fcntl(u->rootfd, F_DUPFD_CLOEXEC, 3);

		if (fd < 0)
			continue; /* replaced by a later entry */
		if (fchmod(fd, d->mode) < 0 || futimens(fd, d->times) < 0) {
			strata_fail(err, errno, "set mode and times of '%s'", d->path);
			close(fd);
			return -1;
		}
		close(fd);
	}
	return 0;
}

/* vfs: empties @path of everything this layer did not write, recursively. */
static int vfs_opaque(struct unpacker *u, int dfd, const char *path, struct strata_error **err)
{
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", path);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return strata_fail(err, errno, "open '%s'", path);
	}
	while ((de = readdir(d))) {
		cleanup_free char *child = NULL;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = *path ? path_join(path, de->d_name) : xstrdup(de->d_name);
		if (!layers_pathset_has(&u->seen, child)) {
			if (path_rm_rf_at(dirfd(d), de->d_name, err) < 0) {
				ret = -1;
				break;
			}
		} else if (de->d_type == DT_DIR) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub < 0 || vfs_opaque(u, sub, child, err) < 0) {
				if (sub < 0)
					strata_fail(err, errno, "open '%s'", child);
				else
					close(sub);
				ret = -1;
				break;
			}
			close(sub);
		}
	}
	closedir(d);
	return ret;
}

static int do_whiteout(struct unpacker *u, const char *dir, const char *base, const char *path,
		       struct archive_entry *e, struct strata_error **err)
{
	const char *name = base + 4; /* after ".wh." */
	char b[96];
	int pfd;

	if (!strcmp(base, ".wh..wh..opq")) {
		int dfd;

		if (u->wh == LAYERS_WHITEOUT_AUFS)
			return 1; /* kept as a file */
		dfd = *dir ? path_mkdirs_in(u->rootfd, dir, 0755, err)
			   : fcntl(u->rootfd, F_DUPFD_CLOEXEC, 3);
		if (dfd < 0)
			return -1;
		if (u->wh == LAYERS_WHITEOUT_OVERLAY) {
			int rfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			int r;

			close(dfd);
			if (rfd < 0)
				return strata_fail(err, errno, "open '%s'", dir);
			r = fsetxattr(rfd, layers_opaque_xattr(), "y", 1, 0);
			close(rfd);
			if (r < 0)
				return strata_fail(err, errno, "mark '%s' opaque", dir);
			return 0;
		}
		layers_pathset_add(&u->seen, dir);
		forget_parent(u);
		{
			int r = vfs_opaque(u, dfd, dir, err);

			close(dfd);
			return r;
		}
	}
	if (str_has_prefix(base, ".wh..wh.")) {
		log_debug("unpack: skipping aufs metadata '%s'", path);
		return 0;
	}
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strchr(name, '/'))
		return strata_fail_msg(err, EPERM, "whiteout '%s' names no file in its directory",
				       shown(path, b));
	if (u->wh == LAYERS_WHITEOUT_AUFS)
		return 1;
	if (u->wh == LAYERS_WHITEOUT_VFS) {
		cleanup_free char *victim = *dir ? path_join(dir, name) : xstrdup(name);
		cleanup_free char *owner = NULL;
		const char *vb;
		int fd, r;

		if (layers_pathset_has(&u->seen, victim))
			return 0; /* only lower layers' files are whited out */
		fd = path_open_parent_in(u->rootfd, victim, false, &owner, &vb, NULL);
		if (fd < 0)
			return 0; /* nothing there to delete */
		forget_parent(u);
		r = path_rm_rf_at(fd, vb, err);
		close(fd);
		return r;
	}
	pfd = parent_fd(u, dir, err);
	if (pfd < 0)
		return -1;
	{
		bool is_dir;

		if (clear_slot(u, pfd, name, false, &is_dir, err) < 0)
			return -1;
	}
	if (mknodat(pfd, name, S_IFCHR, makedev(0, 0)) < 0)
		return strata_fail(err, errno, "make whiteout for '%s'", shown(path, b));
	{
		struct timespec ts[2];

		entry_times(e, ts);
		utimensat(pfd, name, ts, AT_SYMLINK_NOFOLLOW);
	}
	return 0;
}

/* One entry being made: where it goes and what the tar says of it. */
struct slot {
	struct unpacker *u;
	struct archive_entry *e;
	const char *path; /* cleaned, relative to the root */
	int pfd;	  /* its parent dir, resolved inside the root */
	const char *base; /* its name in pfd */
	mode_t mode;	  /* permission bits */
	char b[96];	  /* for shown() */
};

/* Clears what is in the way of @s (EEXIST on making it); -1 with *err. */
static int clear_for(struct slot *s, struct strata_error **err)
{
	bool is_dir = false;

	if (clear_slot(s->u, s->pfd, s->base, false, &is_dir, err) < 0)
		return strata_wrap(err, "entry '%s'", shown(s->path, s->b));
	return 0;
}

/*
 * A hard link to @hard, an earlier entry of the layer (or of a lower one
 * under vfs): 0 made, 1 nothing to make, -1 failed.
 */
static int unpack_hardlink(struct slot *s, const char *hard, struct strata_error **err)
{
	cleanup_free char *target = clean_name(hard, "hardlink target", err);
	cleanup_free char *owner = NULL;
	cleanup_close int tfd = -1;
	const char *tb;
	int r;

	if (!target)
		return strata_wrap(err, "entry '%s'", shown(s->path, s->b));
	if (!strcmp(target, s->path))
		return 1; /* a link to itself: nothing to make */
	tfd = path_open_parent_in(s->u->rootfd, target, false, &owner, &tb, err);
	if (tfd < 0)
		return strata_wrap(err, "hardlink '%s' to '%s'", shown(s->path, s->b), target);
	r = linkat(tfd, tb, s->pfd, s->base, 0);
	if (r < 0 && errno == EEXIST) {
		if (clear_for(s, err) < 0)
			return -1;
		r = linkat(tfd, tb, s->pfd, s->base, 0);
	}
	if (r < 0)
		return strata_fail(err, errno, "hardlink '%s' to '%s'", shown(s->path, s->b), target);
	return 0;
}

static int unpack_dir(struct slot *s, struct strata_error **err)
{
	bool made = mkdirat(s->pfd, s->base, 0700) == 0;
	bool is_dir = false;
	int fd;

	if (!made && errno != EEXIST)
		return strata_fail(err, errno, "mkdir '%s'", shown(s->path, s->b));
	if (!made) {
		if (clear_slot(s->u, s->pfd, s->base, true, &is_dir, err) < 0)
			return strata_wrap(err, "entry '%s'", shown(s->path, s->b));
		if (!is_dir && mkdirat(s->pfd, s->base, 0700) < 0)
			return strata_fail(err, errno, "mkdir '%s'", shown(s->path, s->b));
		made = !is_dir;
	}
	fd = openat(s->pfd, s->base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", shown(s->path, s->b));
	if (!made || !owner_is_ours(s->u, s->e))
		set_owner(s->u, fd, NULL, s->e, s->path);
	apply_xattrs(s->u, fd, s->e, s->path);
	close(fd);
	remember_dir(s->u, s->path, s->e);
	return 0;
}

static int unpack_file(struct slot *s, struct archive *a, struct strata_error **err)
{
	const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	cleanup_close int fd = -1;
	struct timespec ts[2];

	/*
	 * Made with its final permission bits when the umask leaves them
	 * (most files): then neither chmod nor, for files of our own
	 * owner, chown is needed. Special bits are set by the chmod after
	 * the chown, which would clear them.
	 */
	fd = openat(s->pfd, s->base, flags, s->mode & 0777);
	if (fd < 0 && errno == EEXIST) {
		if (clear_for(s, err) < 0)
			return -1;
		fd = openat(s->pfd, s->base, flags, s->mode & 0777);
	}
	if (fd < 0)
		return strata_fail(err, errno, "create '%s'", shown(s->path, s->b));
	if (write_data(a, fd, s->e, s->path, err) < 0)
		return -1;
	if (!owner_is_ours(s->u, s->e))
		set_owner(s->u, fd, NULL, s->e, s->path);
	if (s->mode != (s->mode & 0777 & ~s->u->umask) && fchmod(fd, s->mode) < 0)
		return strata_fail(err, errno, "chmod '%s'", shown(s->path, s->b));
	apply_xattrs(s->u, fd, s->e, s->path);
	entry_times(s->e, ts);
	futimens(fd, ts);
	return 0;
}

static int unpack_symlink(struct slot *s, struct strata_error **err)
{
	const char *target = archive_entry_symlink(s->e);
	struct timespec ts[2];
	int r;

	if (!target)
		return strata_fail_msg(err, EINVAL, "symlink '%s' has no target", shown(s->path, s->b));
	if (strlen(target) >= PATH_MAX)
		return strata_fail_msg(err, ENAMETOOLONG,
				       "symlink '%s' has a target longer than %d bytes",
				       shown(s->path, s->b), PATH_MAX - 1);
	r = symlinkat(target, s->pfd, s->base);
	if (r < 0 && errno == EEXIST) {
		if (clear_for(s, err) < 0)
			return -1;
		r = symlinkat(target, s->pfd, s->base);
	}
	if (r < 0)
		return strata_fail(err, errno, "symlink '%s'", shown(s->path, s->b));
	if (!owner_is_ours(s->u, s->e))
		set_owner(s->u, s->pfd, s->base, s->e, s->path);
	entry_times(s->e, ts);
	utimensat(s->pfd, s->base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/* A device or a FIFO: 0 made, 1 skipped (devices need privileges), -1 failed. */
static int unpack_node(struct slot *s, mode_t type, struct strata_error **err)
{
	struct timespec ts[2];
	dev_t rdev = type == AE_IFIFO ? 0 : archive_entry_rdev(s->e);
	int r = mknodat(s->pfd, s->base, type | s->mode, rdev);

	if (r < 0 && errno == EEXIST) {
		if (clear_for(s, err) < 0)
			return -1;
		r = mknodat(s->pfd, s->base, type | s->mode, rdev);
	}
	if (r < 0) {
		if (errno == EPERM && type != AE_IFIFO) {
			if (!s->u->warned_dev) {
				s->u->warned_dev = true;
				log_warn("unpack: skipping device nodes: creating them needs "
					 "privileges (first: '%s')",
					 shown(s->path, s->b));
			}
			return 1;
		}
		return strata_fail(err, errno, "make node '%s'", shown(s->path, s->b));
	}
	set_owner(s->u, s->pfd, s->base, s->e, s->path);
	if (fchmodat(s->pfd, s->base, s->mode, 0) < 0)
		return strata_fail(err, errno, "chmod '%s'", shown(s->path, s->b));
	entry_times(s->e, ts);
	utimensat(s->pfd, s->base, ts, AT_SYMLINK_NOFOLLOW);
	return 0;
}

/*
 * One tar entry: its name cleaned and checked, whiteouts handed to
 * do_whiteout, then made by the function for its type, each with O_EXCL
 * semantics (never through what is there); only when something is in the
 * way (EEXIST: a duplicate, or a lower layer's file under vfs) is the slot
 * cleared and the entry made again. A fresh layer dir thus costs no stat
 * per entry.
 */
static int unpack_entry(struct unpacker *u, struct archive *a, struct archive_entry *e,
			struct strata_error **err)
{
	const char *raw = archive_entry_pathname(e);
	const char *hard = archive_entry_hardlink(e);
	cleanup_free char *path = NULL;
	cleanup_free char *dir = NULL;
	mode_t type = archive_entry_filetype(e);
	struct slot s = { .u = u, .e = e, .mode = archive_entry_mode(e) & 07777 };
	int r;

	if (!raw)
		return strata_fail_msg(err, EINVAL, "layer entry without a name");
	path = clean_name(raw, "entry", err);
	if (!path)
		return -1;
	s.path = path;
	if (archive_entry_size(e) > 0 && (uint64_t)archive_entry_size(e) > u->max_bytes)
		return strata_fail_msg(err, EFBIG,
				       "entry '%s' claims %lld bytes, more than the limit of %llu",
				       shown(path, s.b), (long long)archive_entry_size(e),
				       (unsigned long long)u->max_bytes);
	if (!*path) {
		if (type == AE_IFDIR && !hard)
			remember_dir(u, "", e);
		return 0;
	}
	dir = xmalloc(strlen(path) + 1);
	s.base = split(path, dir);

	if (str_has_prefix(s.base, ".wh.")) {
		r = do_whiteout(u, dir, s.base, path, e, err);
		if (r <= 0)
			return r;
		/* aufs: kept as a plain file below */
		type = AE_IFREG;
		hard = NULL;
	}

	s.pfd = parent_fd(u, dir, err);
	if (s.pfd < 0)
		return strata_wrap(err, "entry '%s'", shown(path, s.b));
	if (hard) {
		r = unpack_hardlink(&s, hard, err);
	} else {
		switch (type) {
		case AE_IFDIR:
			r = unpack_dir(&s, err);
			break;
		case AE_IFREG:
			r = unpack_file(&s, a, err);
			break;
		case AE_IFLNK:
			r = unpack_symlink(&s, err);
			break;
		case AE_IFCHR:
		case AE_IFBLK:
		case AE_IFIFO:
			r = unpack_node(&s, type, err);
			break;
		case AE_IFSOCK:
			log_debug("unpack: skipping socket '%s'", path);
			return 0;
		default:
			return strata_fail_msg(err, EINVAL, "entry '%s' has an unknown type 0%o",
					       shown(path, s.b), (unsigned)type);
		}
	}
	if (r != 0)
		return r < 0 ? -1 : 0;
	if (u->wh == LAYERS_WHITEOUT_VFS)
		layers_pathset_add(&u->seen, path);
	return 0;
}

const char *layers_opaque_xattr(void)
{
	/* trusted.* needs CAP_SYS_ADMIN in the initial namespace; a rootless mount uses userxattr */
	return sys_is_host_root() ? "trusted.overlay.opaque" : "user.overlay.opaque";
}

int layers_unpack(int fd, int dirfd, enum layers_whiteout wh, const struct layers_unpack_opts *opts,
		  struct layers_unpack_stats *st, struct strata_error **err)
{
	struct unpacker u = { .rootfd = dirfd, .wh = wh, .parent_fd = -1 };
	struct archive *a = NULL;
	struct archive_entry *e;
	int r, ret = -1;

	memset(st, 0, sizeof(*st));
	u.max_bytes = opts && opts->max_bytes ? opts->max_bytes : LAYERS_UNPACK_DEFAULT_MAX;
	/* root of a namespace with subordinate ids keeps owners too (those it maps) */
	u.privileged = sys_may_chown();
	u.euid = geteuid();
	u.egid = getegid();
	u.umask = read_umask();
	if (layers_source_open_follow(fd, opts ? opts->follow : NULL, &u.src, err) < 0)
		return -1;
	u.dg = digester_new();
	u.buf = xmalloc(CHUNK);
	a = archive_read_new();
	if (!a)
		abort();
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open(a, &u, NULL, unpack_read_cb, NULL) != ARCHIVE_OK)
		goto fail_archive;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		struct strata_error *e2 = NULL;

		u.entries++;
		if (unpack_entry(&u, a, e, &e2) < 0) {
			if (!e2)
				goto fail_archive; /* data read failed inside libarchive */
			if (u.read_err) {
				strata_error_free(e2);
				goto fail_archive;
			}
			strata_fail_msg(err, strata_error_code(e2), "%s", strata_error_msg(e2));
			strata_error_free(e2);
			goto out;
		}
	}
	if (r != ARCHIVE_EOF)
		goto fail_archive;
	/* What follows the end-of-archive marker is part of the stream and its diffID. */
	for (;;) {
		ssize_t n = layers_source_read(u.src, u.buf, CHUNK, err);

		if (n < 0)
			goto out;
		if (n == 0)
			break;
		digester_update(u.dg, u.buf, (size_t)n);
	}
	if (finish_dirs(&u, err) < 0)
		goto out;
	digester_final(u.dg, st->diff_id);
	st->entries = u.entries;
	st->bytes = layers_source_bytes(u.src);
	log_debug("unpack: %llu entries, %llu bytes (%s)", (unsigned long long)st->entries,
		  (unsigned long long)st->bytes, layers_source_compression(u.src));
	ret = 0;
	goto out;

fail_archive:
	if (u.read_err) {
		strata_fail_msg(err, strata_error_code(u.read_err), "%s",
				strata_error_msg(u.read_err));
	} else {
		const char *msg = archive_error_string(a);

		strata_fail_msg(err, EINVAL, "not a valid layer tar: %s",
				msg ? msg : "unrecognized format");
	}
out:
	if (a)
		archive_read_free(a);
	drop_parent(&u);
	for (size_t i = 0; i < u.n_dirs; i++)
		free(u.dirs[i].path);
	free(u.dirs);
	layers_pathset_free(&u.seen);
	strata_error_free(u.read_err);
	digester_free(u.dg);
	layers_source_free(u.src);
	free(u.buf);
	return ret;
}

int layers_apply_image(struct store *s, const struct store_image *img, int dirfd,
		       struct strata_error **err)
{
	for (size_t i = 0; i < img->manifest->n_layers; i++) {
		const struct store_desc *l = &img->manifest->layers[i];
		struct layers_unpack_stats st;
		int fd = store_blob_open(s, l->digest, err);
		int r;

		if (fd < 0)
			return strata_wrap(err, "layer %zu", i + 1);
		r = layers_unpack(fd, dirfd, LAYERS_WHITEOUT_VFS, NULL, &st, err);
		close(fd);
		if (r < 0)
			return strata_wrap(err, "layer %zu (%.19s)", i + 1, l->digest);
		if (i < img->n_layers && img->diff_ids[i] && strcmp(img->diff_ids[i], st.diff_id))
			return strata_fail_msg(err, EINVAL,
					       "layer %zu (%.19s): its content has diffID %s, the "
					       "image config says %s",
					       i + 1, l->digest, st.diff_id, img->diff_ids[i]);
	}
	return 0;
}
