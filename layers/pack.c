/*
 * Packing directories into layer tars. Deterministic by construction:
 * entries in byte order of their names, a directory before its children,
 * numeric owners and no owner names, no atime or ctime, mtimes in whole
 * seconds (as GNU tar, BuildKit and containerd write them: a sub-second
 * mtime would cost each entry a pax header, doubling the tar of a tree of
 * small files) and clamped to the timestamp when one is given, xattrs
 * sorted by name, hardlinks as links to the first path packed. Format:
 * ustar headers, with a pax header only where ustar cannot hold an entry
 * (long names, large sizes or ids, SCHILY.xattr), without padding past the
 * end-of-archive blocks.
 *
 * Whiteouts are turned into the OCI tar format: overlay's 0:0 character
 * devices into .wh.NAME, trusted.overlay.opaque=y (user.overlay.opaque=y
 * from a rootless, userxattr overlay) into .wh..wh..opq right after the
 * directory; aufs's .wh. files are kept, its .wh..wh. internals
 * dropped.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "layers/layers-int.h"

#define CHUNK (1u << 20)
#define BLOCK (64u << 10)
/*
 * A directory's entries are stat'ed in batches of up to BATCH (a batch ends
 * at a subdirectory, whose walk needs the batch slots again); its regular
 * files of up to BATCH_FILE bytes are opened, read and closed together
 * through io_uring, BATCH_DATA bytes at most, so that a small file costs
 * two system calls (fstatat, flistxattr) instead of five.
 */
#define BATCH	   128u
#define BATCH_FILE (64u << 10)
#define BATCH_DATA (4u << 20)

/* What the batch found of one entry. */
struct pre {
	struct stat st;
	int err;	     /* errno of the stat, or 0 */
	int fd;		     /* kept open for its xattrs, or -1 */
	int32_t len;	     /* bytes read, or -errno */
	unsigned char *data; /* the file's data, or NULL: not read in the batch */
};

struct link {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct packer {
	struct archive *a;
	struct archive_entry *e;
	struct layers_blob_writer *w; /* blob output, or */
	int outfd;		      /* plain output */
	struct strata_error *werr;
	enum layers_whiteout wh;
	int64_t timestamp;
	const char *const *skip; /* paths left out, or NULL */
	struct link *links;
	size_t n_links, cap_links;
	struct pathset emitted; /* pack_changes: paths already in the tar */
	char *buf;
	uint64_t euid, egid;
	const struct idmap *unmap; /* owners on disk are its outside ids, or NULL */
	struct read_ahead *ahead; /* or NULL */
	struct uring *ring;	  /* or NULL: one file at a time */
	unsigned char *bdata;	  /* BATCH_DATA bytes for a batch's files */
	struct pre pre[BATCH];
	int32_t res[2 * BATCH];
};

static la_ssize_t pack_write_cb(struct archive *a, void *data, const void *buf, size_t n)
{
	struct packer *p = data;
	int r = p->w ? layers_blob_writer_write(p->w, buf, n, &p->werr)
		     : file_write_all(p->outfd, buf, n, &p->werr);

	if (r < 0) {
		archive_set_error(a, EIO, "%s", strata_error_msg(p->werr));
		return -1;
	}
	return (la_ssize_t)n;
}

static int packer_open(struct packer *p, struct strata_error **err)
{
	if (layers_libarchive_load(err) < 0)
		return -1;
	p->a = archive_write_new();
	p->e = archive_entry_new();
	if (!p->a || !p->e)
		abort();
	p->buf = xmalloc(CHUNK);
	p->euid = geteuid();
	p->egid = getegid();
	/* on one CPU the kernel's workers would only take turns with this thread */
	p->ring = uring_new(2 * BATCH, sys_ncpus() > 1 ? URING_ASYNC : 0);
	/* zeroed: memcheck does not see the kernel's writes into it (and mmap'd, it costs nothing) */
	if (p->ring)
		p->bdata = xcalloc(1, BATCH_DATA);
	else
		log_debug("pack: no io_uring (%s): one file at a time", strerror(errno));
	if (archive_write_set_format_pax(p->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(p->a, p->w ? 0 : BLOCK) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(p->a, 1) != ARCHIVE_OK ||
	    archive_write_open(p->a, p, NULL, pack_write_cb, NULL) != ARCHIVE_OK)
		return strata_fail_msg(err, EIO, "start tar: %s", archive_error_string(p->a));
	return 0;
}

static void packer_free(struct packer *p)
{
	if (p->a)
		archive_write_free(p->a);
	if (p->e)
		archive_entry_free(p->e);
	for (size_t i = 0; i < p->n_links; i++)
		free(p->links[i].path);
	free(p->links);
	layers_pathset_free(&p->emitted);
	strata_error_free(p->werr);
	free(p->buf);
	uring_free(p->ring);
	free(p->bdata);
}

static int archive_fail(struct packer *p, const char *path, struct strata_error **err)
{
	if (p->werr)
		return strata_fail_msg(err, strata_error_code(p->werr), "%s",
				       strata_error_msg(p->werr));
	return strata_fail_msg(err, EIO, "pack '%s': %s", path, archive_error_string(p->a));
}

static int packer_close(struct packer *p, struct strata_error **err)
{
	if (archive_write_close(p->a) != ARCHIVE_OK)
		return archive_fail(p, "end of archive", err);
	return 0;
}

static bool xattr_packed(const char *name)
{
	if (str_has_prefix(name, "trusted.overlay.") || str_has_prefix(name, "user.overlay."))
		return false;
	return str_has_prefix(name, "user.") || str_has_prefix(name, "trusted.") ||
	       !strcmp(name, "security.capability");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds @fd's packable xattrs, sorted by name, to the entry. */
static void add_xattrs(struct packer *p, int fd)
{
	char list[8192];
	ssize_t n = flistxattr(fd, list, sizeof(list));
	char *names[256];
	size_t k = 0;

	if (n <= 0)
		return;
	for (char *q = list; q < list + n && k < ARRAY_SIZE(names); q += strlen(q) + 1)
		if (xattr_packed(q))
			names[k++] = q;
	qsort(names, k, sizeof(*names), cmp_str);
	for (size_t i = 0; i < k; i++) {
		char val[4096];
		ssize_t vn = fgetxattr(fd, names[i], val, sizeof(val));

		if (vn >= 0)
			archive_entry_xattr_add_entry(p->e, names[i], val, (size_t)vn);
	}
}

static bool is_opaque(int fd)
{
	char v[4];
	ssize_t n = fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v));

	/* a rootless (userxattr) overlay marks opaque dirs with the user.* name */
	if (n < 0)
		n = fgetxattr(fd, "user.overlay.opaque", v, sizeof(v));
	return n == 1 && v[0] == 'y';
}

/*
 * Without root, the caller's files are what a rootless container (uid 0
 * mapped to the caller) sees as root's: they go into a layer as 0, as in
 * a podman or buildah rootless commit. Root (also in a user namespace)
 * sees ids as they are.
 */
static uint64_t packed_id(const struct packer *p, unsigned id, uint64_t self)
{
	return p->euid != 0 && id == self ? 0 : id;
}

/*
 * A container with an id map of its own wrote its files with the ids the
 * map gives them here: they go into the layer as the container saw them.
 * An id outside the map is what the container saw too: the overflow id.
 */
static uint64_t unmapped_id(const struct idrange *r, size_t n, unsigned id)
{
	unsigned in;

	return idmap_to_inside(r, n, id, &in) ? in : 65534;
}

static void set_mtime(struct packer *p, const struct stat *st)
{
	if (p->timestamp >= 0 && st->st_mtim.tv_sec >= p->timestamp)
		archive_entry_set_mtime(p->e, p->timestamp, 0);
	else
		archive_entry_set_mtime(p->e, st->st_mtim.tv_sec, 0);
}

static int write_header(struct packer *p, const char *path, struct strata_error **err)
{
	if (archive_write_header(p->a, p->e) < ARCHIVE_WARN)
		return archive_fail(p, path, err);
	return 0;
}

/* An empty regular file entry: a whiteout in the tar format. */
static int emit_marker(struct packer *p, const char *path, const struct stat *like,
		       struct strata_error **err)
{
	archive_entry_clear(p->e);
	archive_entry_set_pathname(p->e, path);
	archive_entry_set_filetype(p->e, AE_IFREG);
	archive_entry_set_perm(p->e, 0644);
	archive_entry_set_size(p->e, 0);
	if (like)
		set_mtime(p, like);
	else
		archive_entry_set_mtime(p->e, p->timestamp >= 0 ? p->timestamp : 0, 0);
	return write_header(p, path, err);
}

static const char *link_find(struct packer *p, const struct stat *st)
{
	for (size_t i = 0; i < p->n_links; i++)
		if (p->links[i].ino == st->st_ino && p->links[i].dev == st->st_dev)
			return p->links[i].path;
	return NULL;
}

static void link_add(struct packer *p, const struct stat *st, const char *path)
{
	if (p->n_links == p->cap_links) {
		p->cap_links = p->cap_links ? 2 * p->cap_links : 64;
		p->links = xrealloc(p->links, p->cap_links * sizeof(*p->links));
	}
	p->links[p->n_links++] = (struct link){ st->st_dev, st->st_ino, xstrdup(path) };
}

static int copy_data(struct packer *p, int fd, const char *path, off_t size,
		     struct strata_error **err)
{
	off_t done = 0;

	while (done < size) {
		size_t want = (size_t)(size - done < CHUNK ? size - done : CHUNK);
		ssize_t n = read_ahead_read(p->ahead, fd, p->buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return strata_fail(err, errno, "read '%s'", path);
		if (n == 0) {
			/* The file shrank while being packed: pad to the size in its header. */
			log_warn("pack: '%s' shrank while being packed", path);
			memset(p->buf, 0, want);
			n = (ssize_t)want;
		}
		if (archive_write_data(p->a, p->buf, (size_t)n) < 0)
			return archive_fail(p, path, err);
		done += n;
	}
	return 0;
}

/* A regular file whose data the batch read (pre->len bytes, or -errno). */
static int emit_read(struct packer *p, const char *path, const struct stat *st, struct pre *pre,
		     struct strata_error **err)
{
	size_t len;

	if (pre->len < 0)
		return strata_fail(err, -pre->len, "read '%s'", path);
	len = (size_t)pre->len;
	if (pre->fd >= 0) {
		add_xattrs(p, pre->fd);
		close(pre->fd);
		pre->fd = -1;
	}
	archive_entry_set_size(p->e, st->st_size);
	if (write_header(p, path, err) < 0)
		return -1;
	if (len > 0 && archive_write_data(p->a, pre->data, len) < 0)
		return archive_fail(p, path, err);
	if (len < (size_t)st->st_size) {
		/* The file shrank while being packed: pad to the size in its header. */
		log_warn("pack: '%s' shrank while being packed", path);
		memset(pre->data, 0, (size_t)st->st_size - len);
		if (archive_write_data(p->a, pre->data, (size_t)st->st_size - len) < 0)
			return archive_fail(p, path, err);
	}
	return 0;
}

/*
 * Packs the entry @name of directory @dfd as @path (its stat in @st; what a
 * batch read of it in @pre, or NULL). For a
 * directory whose children should follow, *sub is set to it, open (the
 * caller closes it); -1 otherwise.
 */
static int emit(struct packer *p, int dfd, const char *name, const char *path,
		const struct stat *st, struct pre *pre, int *sub, struct strata_error **err)
{
	cleanup_close int fd = -1;
	const char *first;

	*sub = -1;
	if (p->wh == LAYERS_WHITEOUT_AUFS && str_has_prefix(name, ".wh..wh.") &&
	    strcmp(name, ".wh..wh..opq"))
		return 0; /* aufs internals */
	if (p->wh == LAYERS_WHITEOUT_OVERLAY && S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0)) {
		cleanup_free char *wpath = NULL;
		const char *slash = strrchr(path, '/');

		wpath = slash ? xasprintf("%.*s/.wh.%s", (int)(slash - path), path, name)
			      : xasprintf(".wh.%s", name);
		return emit_marker(p, wpath, st, err);
	}
	if (S_ISSOCK(st->st_mode)) {
		log_debug("pack: skipping socket '%s'", path);
		return 0;
	}
	/*
	 * A file of the tree itself named .wh.* would be read back as a
	 * whiteout (OCI reserves the prefix): the layer would delete a file,
	 * or name none ('.wh..') and not unpack at all. aufs' own are whiteouts.
	 */
	if (p->wh != LAYERS_WHITEOUT_AUFS && str_has_prefix(name, ".wh."))
		return strata_fail_msg(err, EINVAL,
				       "'/%s': a name that begins with '.wh.' cannot be in a layer "
				       "(it means a whiteout there)", path);

	archive_entry_clear(p->e);
	archive_entry_set_pathname(p->e, path);
	archive_entry_set_mode(p->e, st->st_mode);
	archive_entry_set_uid(p->e, p->unmap ? unmapped_id(p->unmap->uid, p->unmap->n_uid, st->st_uid)
					     : packed_id(p, st->st_uid, p->euid));
	archive_entry_set_gid(p->e, p->unmap ? unmapped_id(p->unmap->gid, p->unmap->n_gid, st->st_gid)
					     : packed_id(p, st->st_gid, p->egid));
	set_mtime(p, st);

	if (S_ISREG(st->st_mode) && st->st_nlink > 1 && (first = link_find(p, st))) {
		archive_entry_set_hardlink(p->e, first);
		archive_entry_set_size(p->e, 0);
		return write_header(p, path, err);
	}
	if (S_ISREG(st->st_mode) && pre && pre->data)
		return emit_read(p, path, st, pre, err);
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) {
		fd = openat(dfd, name,
			    O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st->st_mode) ? O_DIRECTORY : 0));
		if (fd < 0)
			return strata_fail(err, errno, "open '%s'", path);
		add_xattrs(p, fd);
	}
	if (S_ISREG(st->st_mode)) {
		archive_entry_set_size(p->e, st->st_size);
		if (write_header(p, path, err) < 0 || copy_data(p, fd, path, st->st_size, err) < 0)
			return -1;
		if (st->st_nlink > 1)
			link_add(p, st, path);
		return 0;
	}
	if (S_ISLNK(st->st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return strata_fail(err, errno, "read link '%s'", path);
		target[n] = '\0';
		archive_entry_set_symlink(p->e, target);
		return write_header(p, path, err);
	}
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		archive_entry_set_rdev(p->e, st->st_rdev);
		return write_header(p, path, err);
	}
	if (S_ISFIFO(st->st_mode))
		return write_header(p, path, err);
	/* a directory */
	if (write_header(p, path, err) < 0)
		return -1;
	if (p->wh == LAYERS_WHITEOUT_OVERLAY && is_opaque(fd)) {
		cleanup_free char *opq = xasprintf("%s/.wh..wh..opq", path);

		if (emit_marker(p, opq, st, err) < 0)
			return -1;
	}
	*sub = fd;
	fd = -1;
	return 0;
}

struct name {
	char *name;
	char *key; /* what the tar calls it: ".wh.NAME" for an overlay whiteout */
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(((const struct name *)a)->key, ((const struct name *)b)->key);
}

/* True when @path is one of the paths the caller asked to leave out. */
static bool is_skipped(const struct packer *p, const char *path)
{
	for (const char *const *k = p->skip; k && *k; k++)
		if (strcmp(*k, path) == 0)
			return true;
	return false;
}

static int walk(struct packer *p, int fd, const char *path, struct strata_error **err);

/*
 * Stats the entries @names[0..n) of directory @dfd, up to BATCH of them and
 * up to the first directory, into p->pre; opens, reads and closes the small
 * regular files among them in two io_uring submissions (a file with xattrs
 * stays open for them). Returns how many entries it took, 0 on error.
 */
static size_t batch_read(struct packer *p, int dfd, const struct name *names, size_t n,
			 struct strata_error **err)
{
	size_t m = 0, used = 0;

	while (m < n && m < BATCH) {
		struct pre *e = &p->pre[m];
		size_t size;

		e->fd = -1;
		e->len = 0;
		e->data = NULL;
		e->err = fstatat(dfd, names[m].name, &e->st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0;
		m++;
		if (e->err)
			continue;
		if (S_ISDIR(e->st.st_mode))
			break;
		size = (size_t)e->st.st_size;
		if (!S_ISREG(e->st.st_mode) || e->st.st_nlink != 1 || size == 0 ||
		    size > BATCH_FILE || used + size > BATCH_DATA)
			continue;
		e->data = p->bdata + used;
		used += size;
		uring_openat(p->ring, dfd, names[m - 1].name,
			     O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, m - 1);
	}
	if (used == 0)
		return m;
	if (uring_run(p->ring, p->res, 2 * BATCH) < 0) {
		strata_fail(err, errno, "io_uring");
		return 0;
	}
	for (size_t j = 0; j < m; j++) {
		struct pre *e = &p->pre[j];
		ssize_t nx;

		if (!e->data)
			continue;
		if (p->res[j] < 0) {
			/* emit opens it again, and says what is wrong */
			e->data = NULL;
			continue;
		}
		e->fd = p->res[j];
		/* Files with xattrs stay open for them: few have any. */
		nx = flistxattr(e->fd, NULL, 0);
		if (nx == 0) {
			uring_read_close(p->ring, e->fd, e->data, (unsigned)e->st.st_size, j,
					 BATCH + j);
			e->fd = -1;
		} else {
			uring_read(p->ring, e->fd, e->data, (unsigned)e->st.st_size, 0, j);
		}
	}
	if (uring_run(p->ring, p->res, 2 * BATCH) < 0) {
		strata_fail(err, errno, "io_uring");
		for (size_t j = 0; j < m; j++)
			if (p->pre[j].fd >= 0)
				close(p->pre[j].fd);
		return 0;
	}
	for (size_t j = 0; j < m; j++)
		if (p->pre[j].data)
			p->pre[j].len = p->res[j];
	return m;
}

/* One entry of a walk: @name in directory @fd (named @path), with what a batch found, or NULL. */
static int walk_entry(struct packer *p, int fd, const char *path, const char *name,
		      struct pre *pre, struct strata_error **err)
{
	cleanup_free char *child = *path ? path_join(path, name) : xstrdup(name);
	struct stat st;
	int sub;

	if (is_skipped(p, child)) {
		read_ahead_entry_done(p->ahead);
		return 0;
	}
	if (pre && pre->err)
		return strata_fail(err, pre->err, "stat '%s'", child);
	if (pre)
		st = pre->st;
	else if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return strata_fail(err, errno, "stat '%s'", child);
	if (emit(p, fd, name, child, &st, pre, &sub, err) < 0)
		return -1;
	read_ahead_entry_done(p->ahead);
	if (sub >= 0)
		return walk(p, sub, child, err);
	return 0;
}

/*
 * Packs the children of directory @fd (named @path, "" at the top), sorted,
 * recursively. Takes @fd (-1: the open that made it failed, errno says why).
 */
static int walk(struct packer *p, int fd, const char *path, struct strata_error **err)
{
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;
	struct name *names = NULL;
	size_t n = 0, cap = 0;
	int ret = 0;

	if (!d) {
		ret = strata_fail(err, errno, "open directory '%s'", *path ? path : ".");
		if (fd >= 0)
			close(fd);
		return ret;
	}
	while ((errno = 0, de = readdir(d))) {
		struct name *nm;
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			names = xrealloc(names, cap * sizeof(*names));
		}
		nm = &names[n++];
		nm->name = xstrdup(de->d_name);
		nm->key = nm->name;
		if (p->wh == LAYERS_WHITEOUT_OVERLAY &&
		    (de->d_type == DT_CHR || de->d_type == DT_UNKNOWN) &&
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR(st.st_mode) &&
		    st.st_rdev == makedev(0, 0))
			nm->key = xasprintf(".wh.%s", de->d_name);
	}
	if (errno)
		ret = strata_fail(err, errno, "read directory '%s'", *path ? path : ".");
	if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n && ret == 0;) {
		size_t m = p->ring ? batch_read(p, fd, names + i, n - i, err) : 1;

		if (m == 0) {
			ret = -1;
			break;
		}
		for (size_t j = 0; j < m; j++) {
			struct pre *pre = p->ring ? &p->pre[j] : NULL;

			if (ret == 0)
				ret = walk_entry(p, fd, path, names[i + j].name, pre, err);
			if (pre && pre->fd >= 0)
				close(pre->fd);
		}
		i += m;
	}
	closedir(d);
	for (size_t i = 0; i < n; i++) {
		if (names[i].key != names[i].name)
			free(names[i].key);
		free(names[i].name);
	}
	free(names);
	return ret;
}

/* walk of @dirfd, which stays the caller's. */
static int walk_top(struct packer *p, int dirfd, struct strata_error **err)
{
	/* A new open file description: a dup would share (and move) @dirfd's offset. */
	return walk(p, openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "", err);
}

static int start_blob(struct packer *p, struct store *s, const struct layers_pack_opts *o,
		      struct strata_error **err)
{
	p->outfd = -1;
	p->timestamp = o->timestamp;
	p->skip = o->skip;
	p->unmap = o->unmap;
	if (layers_blob_writer_new(s, o->compression, o->level, &p->w, err) < 0)
		return -1;
	return packer_open(p, err);
}

static int finish_blob(struct packer *p, int r, struct layers_blob *out, struct strata_error **err)
{
	if (r == 0)
		r = packer_close(p, err);
	if (r == 0) {
		r = layers_blob_writer_commit(p->w, out, err);
		p->w = NULL;
	}
	layers_blob_writer_abort(p->w);
	p->w = NULL;
	packer_free(p);
	return r;
}

int layers_pack_dir(struct store *s, int dirfd, enum layers_whiteout wh,
		    const struct layers_pack_opts *o, struct layers_blob *out,
		    struct strata_error **err)
{
	struct packer p = { .wh = wh };
	int r;

	r = start_blob(&p, s, o, err);
	if (r == 0) {
		p.ahead = read_ahead_start(dirfd);
		r = walk_top(&p, dirfd, err);
		read_ahead_stop(p.ahead);
	}
	return finish_blob(&p, r, out, err);
}

int layers_pack_tar_fd(int dirfd, int outfd, int64_t timestamp, struct strata_error **err)
{
	struct packer p = { .wh = LAYERS_WHITEOUT_VFS, .outfd = outfd, .timestamp = timestamp };
	int r = packer_open(&p, err);

	if (r == 0) {
		p.ahead = read_ahead_start(dirfd);
		r = walk_top(&p, dirfd, err);
		read_ahead_stop(p.ahead);
	}
	if (r == 0)
		r = packer_close(&p, err);
	packer_free(&p);
	return r;
}

static int cmp_change(const void *a, const void *b)
{
	return strcmp(((const struct layers_change *)a)->path,
		      ((const struct layers_change *)b)->path);
}

/* Emits @path of the tree @rootfd (and, for a new directory, everything below it). */
static int emit_path(struct packer *p, int rootfd, const char *path, bool subtree,
		     bool missing_ok, struct strata_error **err)
{
	cleanup_free char *owner = NULL;
	const char *base;
	cleanup_close int pfd = -1;
	struct stat st;
	int sub;

	if (layers_pathset_has(&p->emitted, path))
		return 0;
	pfd = path_open_parent_in(rootfd, path, false, &owner, &base, missing_ok ? NULL : err);
	if (pfd < 0)
		return missing_ok ? 0 : -1;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (missing_ok && errno == ENOENT)
			return 0;
		return strata_fail(err, errno, "stat '%s'", path);
	}
	layers_pathset_add(&p->emitted, path);
	if (emit(p, pfd, base, path, &st, NULL, &sub, err) < 0)
		return -1;
	if (sub >= 0 && subtree)
		return walk(p, sub, path, err);
	if (sub >= 0)
		close(sub);
	return 0;
}

int layers_pack_changes(struct store *s, int rootfd, const struct layers_change *c, size_t n,
			const struct layers_pack_opts *o, struct layers_blob *out,
			struct strata_error **err)
{
	struct packer p = { .wh = LAYERS_WHITEOUT_VFS };
	struct layers_change *v = xmalloc((n ? n : 1) * sizeof(*v));
	int r;

	memcpy(v, c, n * sizeof(*v));
	qsort(v, n, sizeof(*v), cmp_change);
	r = start_blob(&p, s, o, err);
	for (size_t i = 0; i < n && r == 0; i++) {
		cleanup_free char *path = path_clean(v[i].path);
		char *slash;

		if (!*path)
			continue;
		/* Parent directories first, so that their modes and owners travel with the layer. */
		for (slash = strchr(path, '/'); slash && r == 0; slash = strchr(slash + 1, '/')) {
			*slash = '\0';
			r = emit_path(&p, rootfd, path, false, true, err);
			*slash = '/';
		}
		if (r < 0)
			break;
		if (v[i].kind == LAYERS_CHANGE_DELETE) {
			const char *base = strrchr(path, '/');
			cleanup_free char *wh =
				base ? xasprintf("%.*s/.wh.%s", (int)(base - path), path, base + 1)
				     : xasprintf(".wh.%s", path);

			r = emit_marker(&p, wh, NULL, err);
		} else {
			r = emit_path(&p, rootfd, path, v[i].kind == LAYERS_CHANGE_ADD, false, err);
		}
	}
	free(v);
	return finish_blob(&p, r, out, err);
}
