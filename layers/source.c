/*
 * A decompressing reader. libarchive's "raw" format hands out the bytes of
 * its single pseudo-entry after the stream has passed through whichever
 * filters the magic bytes selected, so one code path reads plain, gzip,
 * zstd, bzip2 and xz alike, and the caller sees the uncompressed stream.
 *
 * A compressed stream is decompressed by a thread of its own, a few chunks
 * ahead of the reader, so that decompression and the caller's work (an
 * unpack writing files, a blob writer compressing) overlap on two cores as
 * `tar -xzf` does with its gzip process.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers-int.h"

#define READ_BLOCK (1u << 20)
#define AHEAD_CHUNK (1u << 20)
#define AHEAD_DEPTH 4

struct chunk {
	char *data;
	size_t len;
	uint64_t raw; /* compressed bytes read when it was made */
};

struct layers_source {
	struct archive *a;
	int fd;
	struct layers_follow *follow;
	char *buf;
	uint64_t bytes;
	uint64_t raw_bytes; /* the decompressing side's count */
	uint64_t raw_seen;  /* the count as of the last chunk handed out */
	bool eof;
	char compression[16];

	/* Read-ahead: the thread fills q, the reader takes from it. */
	bool threaded;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct chunk q[AHEAD_DEPTH];
	unsigned head, count;
	bool done, stop;
	int perr;
	char *perr_msg;
	struct chunk cur;
	size_t cur_off;
};

static la_ssize_t source_read_cb(struct archive *a, void *data, const void **buff)
{
	struct layers_source *src = data;
	ssize_t n;

	if (src->follow)
		n = layers_follow_pread(src->follow, src->fd, src->buf, READ_BLOCK, src->raw_bytes);
	else
		do {
			n = read(src->fd, src->buf, READ_BLOCK);
		} while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read: %s", strerror(errno));
		return -1;
	}
	src->raw_bytes += (uint64_t)n;
	*buff = src->buf;
	return n;
}

static void *ahead_main(void *arg)
{
	struct layers_source *src = arg;

	for (;;) {
		char *buf;
		la_ssize_t n;

		pthread_mutex_lock(&src->mu);
		while (src->count == AHEAD_DEPTH && !src->stop)
			pthread_cond_wait(&src->cv, &src->mu);
		if (src->stop) {
			pthread_mutex_unlock(&src->mu);
			return NULL;
		}
		pthread_mutex_unlock(&src->mu);
		buf = xmalloc(AHEAD_CHUNK);
		n = archive_read_data(src->a, buf, AHEAD_CHUNK);
		pthread_mutex_lock(&src->mu);
		if (n <= 0) {
			if (n < 0) {
				const char *msg = archive_error_string(src->a);

				src->perr = archive_errno(src->a) > 0 ? archive_errno(src->a) : EIO;
				src->perr_msg = xstrdup(msg ? msg : "corrupt or truncated data");
			}
			src->done = true;
			pthread_cond_broadcast(&src->cv);
			pthread_mutex_unlock(&src->mu);
			free(buf);
			return NULL;
		}
		src->q[(src->head + src->count) % AHEAD_DEPTH] =
			(struct chunk){ buf, (size_t)n, src->raw_bytes };
		src->count++;
		pthread_cond_broadcast(&src->cv);
		pthread_mutex_unlock(&src->mu);
	}
}

int layers_source_open(int fd, struct layers_source **out, struct strata_error **err)
{
	return layers_source_open_follow(fd, NULL, out, err);
}

int layers_source_open_follow(int fd, struct layers_follow *f, struct layers_source **out,
			      struct strata_error **err)
{
	struct layers_source *src;
	struct archive_entry *entry;
	int r;

	if (layers_libarchive_load(err) < 0)
		return -1;
	src = xcalloc(1, sizeof(*src));
	src->fd = fd;
	src->follow = f;
	src->buf = xmalloc(READ_BLOCK);
	src->a = archive_read_new();
	if (!src->a)
		abort();
	archive_read_support_filter_all(src->a);
	archive_read_support_format_raw(src->a);
	if (archive_read_open(src->a, src, NULL, source_read_cb, NULL) != ARCHIVE_OK) {
		strata_fail_msg(err, archive_errno(src->a) > 0 ? archive_errno(src->a) : EINVAL,
				"read stream: %s", archive_error_string(src->a));
		layers_source_free(src);
		return -1;
	}
	r = archive_read_next_header(src->a, &entry);
	if (r == ARCHIVE_EOF) {
		strata_fail_msg(err, EINVAL, "read stream: input is empty");
		layers_source_free(src);
		return -1;
	}
	if (r < ARCHIVE_WARN) {
		strata_fail_msg(err, archive_errno(src->a) > 0 ? archive_errno(src->a) : EINVAL,
				"read stream: %s", archive_error_string(src->a));
		layers_source_free(src);
		return -1;
	}
	/* The outermost filter names the compression; "none" when there is none. */
	{
		int nf = archive_filter_count(src->a);
		const char *name = nf > 1 ? archive_filter_name(src->a, 0) : "none";

		snprintf(src->compression, sizeof(src->compression), "%s", name ? name : "none");
	}
	if (strcmp(src->compression, "none") != 0) {
		pthread_mutex_init(&src->mu, NULL);
		pthread_cond_init(&src->cv, NULL);
		if (pthread_create(&src->thread, NULL, ahead_main, src) == 0) {
			src->threaded = true;
		} else {
			pthread_cond_destroy(&src->cv);
			pthread_mutex_destroy(&src->mu);
		}
	}
	*out = src;
	return 0;
}

static ssize_t ahead_read(struct layers_source *src, void *buf, size_t n,
			  struct strata_error **err)
{
	size_t k;

	if (!src->cur.data) {
		pthread_mutex_lock(&src->mu);
		while (src->count == 0 && !src->done)
			pthread_cond_wait(&src->cv, &src->mu);
		if (src->count == 0) {
			pthread_mutex_unlock(&src->mu);
			if (src->perr_msg)
				return strata_fail_msg(err, src->perr, "read %s stream: %s",
						       src->compression, src->perr_msg);
			src->eof = true;
			return 0;
		}
		src->cur = src->q[src->head];
		src->head = (src->head + 1) % AHEAD_DEPTH;
		src->count--;
		pthread_cond_broadcast(&src->cv);
		pthread_mutex_unlock(&src->mu);
		src->cur_off = 0;
		src->raw_seen = src->cur.raw;
	}
	k = src->cur.len - src->cur_off < n ? src->cur.len - src->cur_off : n;
	memcpy(buf, src->cur.data + src->cur_off, k);
	src->cur_off += k;
	if (src->cur_off == src->cur.len) {
		free(src->cur.data);
		src->cur.data = NULL;
	}
	src->bytes += k;
	return (ssize_t)k;
}

ssize_t layers_source_read(struct layers_source *src, void *buf, size_t n,
			   struct strata_error **err)
{
	la_ssize_t r;

	if (src->eof)
		return 0;
	if (src->threaded)
		return ahead_read(src, buf, n, err);
	r = archive_read_data(src->a, buf, n);
	if (r < 0) {
		const char *msg = archive_error_string(src->a);

		return strata_fail_msg(err, archive_errno(src->a) > 0 ? archive_errno(src->a) : EIO,
				       "read %s stream: %s", src->compression,
				       msg ? msg : "corrupt or truncated data");
	}
	if (r == 0)
		src->eof = true;
	src->bytes += (uint64_t)r;
	return r;
}

const char *layers_source_compression(const struct layers_source *src)
{
	return src->compression;
}

uint64_t layers_source_bytes(const struct layers_source *src)
{
	return src->bytes;
}

void layers_source_free(struct layers_source *src)
{
	if (!src)
		return;
	if (src->threaded) {
		pthread_mutex_lock(&src->mu);
		src->stop = true;
		pthread_cond_broadcast(&src->cv);
		pthread_mutex_unlock(&src->mu);
		pthread_join(src->thread, NULL);
		for (unsigned i = 0; i < src->count; i++)
			free(src->q[(src->head + i) % AHEAD_DEPTH].data);
		free(src->cur.data);
		free(src->perr_msg);
		pthread_cond_destroy(&src->cv);
		pthread_mutex_destroy(&src->mu);
	}
	if (src->a)
		archive_read_free(src->a);
	free(src->buf);
	free(src);
}

uint64_t layers_source_raw_bytes(const struct layers_source *src)
{
	return src->threaded ? src->raw_seen : src->raw_bytes;
}
