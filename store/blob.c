/*
 * Content-addressed blobs. A blob is streamed into ROOT/tmp while SHA-256
 * is computed over the same bytes; only a complete, fsynced file whose hash
 * matches what was expected is renamed into blobs/sha256/. A short read, a
 * mismatch or a full disk leaves nothing behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

/*
 * Writeback is started every this many bytes, so the final fsync has little
 * left to do (16 MiB steps left it 6 ms on a 40 MB blob, 4 MiB steps 2 ms).
 */
#define WRITEBACK_STEP (4u << 20)

/*
 * A blob that is not read back before its commit (a layer being packed or
 * imported) is written past its first DIRECT_AFTER bytes with O_DIRECT, in
 * DIRECT_BUF pieces from DIRECT_NBUF aligned buffers, by a thread of its
 * own. Through the page cache, each byte was copied into a page the kernel
 * first had to find (on this kind of virtual machine, a page the host
 * often has to back anew), then written back and waited for at the fsync:
 * a 4 GiB layer took 1.8 s of CPU per GiB in the kernel and the disk's
 * buffered speed (about half its direct speed). The thread keeps the disk
 * busy while the caller compresses and hashes; the page cache is left to
 * the files that are read.
 */
#define DIRECT_AFTER (16u << 20)
#define DIRECT_ALIGN 4096u
#define DIRECT_BUF   (1u << 20)
#define DIRECT_NBUF  4u

struct store_blob_writer {
	struct store *s;
	char *tmpname;
	int fd;
	struct digester *dg;
	uint64_t size;
	uint64_t synced;
	bool may_bypass; /* the caller does not read the blob before the commit */
	struct bufring *direct;
	uint64_t direct_from; /* the offset of its first byte */
};

int store_blob_writer_new(struct store *s, struct store_blob_writer **out,
			  struct strata_error **err)
{
	struct store_blob_writer *w = xcalloc(1, sizeof(*w));

	w->s = s;
	w->tmpname = store_tmp_name(".blob");
	w->fd = openat(s->tmp_fd, w->tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		int e = errno;

		free(w->tmpname);
		free(w);
		return strata_fail(err, e, "create blob in '%s/tmp'", s->root);
	}
	w->dg = digester_new();
	*out = w;
	return 0;
}

/* Writes @n bytes at @off, with O_DIRECT unless the filesystem refuses it. */
static int direct_pwrite(int fd, const unsigned char *p, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pwrite(fd, p, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EINVAL && (fcntl(fd, F_GETFL) & O_DIRECT)) {
			/* Alignment this filesystem does not take: through the page cache. */
			if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_DIRECT) < 0)
				return errno;
			continue;
		}
		if (r < 0)
			return errno;
		if (r == 0)
			return EIO;
		p += r;
		off += (uint64_t)r;
		n -= (size_t)r;
	}
	return 0;
}

/* The ring's function: a buffer written at its offset, padded to the alignment. */
static int direct_out(void *arg, unsigned char *buf, size_t len, uint64_t off)
{
	struct store_blob_writer *w = arg;
	size_t pad = (DIRECT_ALIGN - len % DIRECT_ALIGN) % DIRECT_ALIGN;

	memset(buf + len, 0, pad);
	return direct_pwrite(w->fd, buf, len + pad, w->direct_from + off);
}

/*
 * Switches @w to direct writes (its size a multiple of DIRECT_ALIGN); stays
 * buffered where the filesystem or the thread cannot be had.
 */
static void direct_start(struct store_blob_writer *w)
{
	int fl = fcntl(w->fd, F_GETFL);

	w->may_bypass = false; /* one try */
	/* What went through the page cache is on its way to the disk. */
	store_blob_writer_start_writeback(w);
	if (fl < 0 || fcntl(w->fd, F_SETFL, fl | O_DIRECT) < 0)
		return;
	w->direct_from = w->size;
	w->direct = bufring_new(DIRECT_NBUF, DIRECT_BUF, DIRECT_ALIGN, direct_out, w);
	if (!w->direct)
		fcntl(w->fd, F_SETFL, fl);
}

/* Writes what is left, waits for the thread, cuts the padding of the tail off. */
static int direct_finish(struct store_blob_writer *w, struct strata_error **err)
{
	int e = bufring_finish(w->direct);

	w->direct = NULL;
	if (!e && w->size % DIRECT_ALIGN && ftruncate(w->fd, (off_t)w->size) < 0)
		e = errno;
	w->synced = w->size;
	return e ? strata_fail(err, e, "blob: write") : 0;
}

void store_blob_writer_bypass_cache(struct store_blob_writer *w)
{
	w->may_bypass = true;
}

int store_blob_writer_write(struct store_blob_writer *w, const void *buf, size_t n,
			    struct strata_error **err)
{
	const unsigned char *p = buf;

	digester_update(w->dg, buf, n);
	if (w->may_bypass && !w->direct && w->size + n >= DIRECT_AFTER) {
		/* Through the page cache up to an aligned offset, then direct. */
		size_t k = (DIRECT_ALIGN - w->size % DIRECT_ALIGN) % DIRECT_ALIGN;

		k = k < n ? k : n;
		if (file_write_all(w->fd, p, k, err) < 0)
			return strata_wrap(err, "blob");
		w->size += k;
		p += k;
		n -= k;
		if (w->size % DIRECT_ALIGN == 0)
			direct_start(w);
	}
	if (w->direct) {
		int e = bufring_write(w->direct, p, n);

		w->size += n;
		return e ? strata_fail(err, e, "blob: write") : 0;
	}
	if (file_write_all(w->fd, p, n, err) < 0)
		return strata_wrap(err, "blob");
	w->size += n;
	if (w->size - w->synced >= WRITEBACK_STEP)
		store_blob_writer_start_writeback(w);
	return 0;
}

void store_blob_writer_start_writeback(struct store_blob_writer *w)
{
	if (w->direct || w->size == w->synced)
		return;
	sync_file_range(w->fd, (off64_t)w->synced, (off64_t)(w->size - w->synced),
			SYNC_FILE_RANGE_WRITE);
	w->synced = w->size;
}

uint64_t store_blob_writer_size(const struct store_blob_writer *w)
{
	return w->size;
}

int store_blob_writer_open_read(const struct store_blob_writer *w, struct strata_error **err)
{
	int fd = openat(w->s->tmp_fd, w->tmpname, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return strata_fail(err, errno, "open blob '%s' for reading", w->tmpname);
	return fd;
}

static void writer_free(struct store_blob_writer *w, bool unlink_tmp)
{
	bufring_free(w->direct);
	if (w->fd >= 0)
		close(w->fd);
	if (unlink_tmp)
		unlinkat(w->s->tmp_fd, w->tmpname, 0);
	digester_free(w->dg);
	free(w->tmpname);
	free(w);
}

void store_blob_writer_abort(struct store_blob_writer *w)
{
	if (w)
		writer_free(w, true);
}

int store_blob_writer_commit(struct store_blob_writer *w, const char *expected,
			     char out[DIGEST_STR_LEN], uint64_t *size, struct strata_error **err)
{
	char digest[DIGEST_STR_LEN];
	struct store *s = w->s;

	if (w->direct && direct_finish(w, err) < 0) {
		writer_free(w, true);
		return -1;
	}
	digester_final(w->dg, digest);
	if (fsync(w->fd) < 0) {
		int e = errno;

		writer_free(w, true);
		return strata_fail(err, e, "fsync blob");
	}
	if (expected && strcmp(expected, digest) != 0) {
		writer_free(w, true);
		return strata_fail_msg(err, EBADMSG, "digest mismatch: expected '%s', got '%s'",
				       expected, digest);
	}
	if (renameat(s->tmp_fd, w->tmpname, s->blobs_fd, digest_hex(digest)) < 0) {
		int e = errno;

		writer_free(w, true);
		return strata_fail(err, e, "store blob '%s'", digest);
	}
	if (size)
		*size = w->size;
	writer_free(w, false);
	memcpy(out, digest, DIGEST_STR_LEN);
	return file_fsync_dir(s->blobs_fd, err);
}

int store_blob_put_fd(struct store *s, int fd, const char *expected, char out[DIGEST_STR_LEN],
		      uint64_t *size, struct strata_error **err)
{
	struct store_blob_writer *w = NULL;
	/* on the heap: a static thread-local buffer is set up (zeroed) in every new thread */
	const size_t len = 256 * 1024;
	cleanup_free char *buf = NULL;

	if (store_blob_writer_new(s, &w, err) < 0)
		return -1;
	buf = xmalloc(len);
	for (;;) {
		ssize_t n = read(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			store_blob_writer_abort(w);
			return strata_fail(err, errno, "read blob source");
		}
		if (n == 0)
			break;
		if (store_blob_writer_write(w, buf, (size_t)n, err) < 0) {
			store_blob_writer_abort(w);
			return -1;
		}
	}
	return store_blob_writer_commit(w, expected, out, size, err);
}

int store_blob_put_buf(struct store *s, const void *buf, size_t n, const char *expected,
		       char out[DIGEST_STR_LEN], struct strata_error **err)
{
	struct store_blob_writer *w = NULL;
	char digest[DIGEST_STR_LEN];

	/* Small documents are often written again unchanged: skip the copy. */
	digest_buf(buf, n, digest);
	if (expected && strcmp(expected, digest) != 0)
		return strata_fail_msg(err, EBADMSG, "digest mismatch: expected '%s', got '%s'",
				       expected, digest);
	if (store_blob_exists(s, digest)) {
		memcpy(out, digest, DIGEST_STR_LEN);
		return 0;
	}
	if (store_blob_writer_new(s, &w, err) < 0)
		return -1;
	if (store_blob_writer_write(w, buf, n, err) < 0) {
		store_blob_writer_abort(w);
		return -1;
	}
	return store_blob_writer_commit(w, digest, out, NULL, err);
}

bool store_blob_exists(struct store *s, const char *digest)
{
	if (!digest_is_valid(digest))
		return false;
	return faccessat(s->blobs_fd, digest_hex(digest), F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

int store_blob_size(struct store *s, const char *digest, uint64_t *size, struct strata_error **err)
{
	struct stat st;

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "invalid digest '%s'", digest);
	if (fstatat(s->blobs_fd, digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) < 0)
		return strata_fail(err, errno, "blob '%s'", digest);
	*size = (uint64_t)st.st_size;
	return 0;
}

int store_blob_open(struct store *s, const char *digest, struct strata_error **err)
{
	int fd;

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "invalid digest '%s'", digest);
	fd = openat(s->blobs_fd, digest_hex(digest), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return strata_fail(err, errno, "blob '%s'", digest);
	return fd;
}

int store_blob_read(struct store *s, const char *digest, size_t max, char **out, size_t *len,
		    struct strata_error **err)
{
	cleanup_close int fd = store_blob_open(s, digest, err);
	cleanup_free char *buf = NULL;
	char got[DIGEST_STR_LEN];
	size_t n = 0;

	if (fd < 0)
		return -1;
	if (file_read_fd(fd, max, &buf, &n, err) < 0)
		return strata_wrap(err, "blob '%s'", digest);
	digest_buf(buf, n, got);
	if (strcmp(got, digest) != 0)
		return strata_fail_msg(err, EBADMSG, "blob '%s' is corrupt (content hashes to '%s')",
				       digest, got);
	*out = steal_ptr(&buf);
	if (len)
		*len = n;
	return 0;
}

char *store_blob_path(struct store *s, const char *digest)
{
	return xasprintf("%s/blobs/sha256/%s", s->root, digest_hex(digest));
}

int store_blob_remove(struct store *s, const char *digest, struct strata_error **err)
{
	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "invalid digest '%s'", digest);
	if (unlinkat(s->blobs_fd, digest_hex(digest), 0) < 0 && errno != ENOENT)
		return strata_fail(err, errno, "remove blob '%s'", digest);
	return 0;
}
