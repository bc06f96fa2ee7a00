/*
 * A decompressing reader. libarchive's "raw" format hands out the bytes of
 * its single pseudo-entry after the stream has passed through whichever
 * filters the magic bytes selected, so one code path reads plain, gzip,
 * zstd, bzip2 and xz alike, and the caller sees the uncompressed stream.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers-int.h"

#define READ_BLOCK (1u << 20)

struct layers_source {
	struct archive *a;
	int fd;
	char *buf;
	uint64_t bytes;
	uint64_t raw_bytes;
	bool eof;
	char compression[16];
};

static la_ssize_t source_read_cb(struct archive *a, void *data, const void **buff)
{
	struct layers_source *src = data;
	ssize_t n;

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

int layers_source_open(int fd, struct layers_source **out, struct strata_error **err)
{
	struct layers_source *src = xcalloc(1, sizeof(*src));
	struct archive_entry *entry;
	int r;

	src->fd = fd;
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
	*out = src;
	return 0;
}

ssize_t layers_source_read(struct layers_source *src, void *buf, size_t n,
			   struct strata_error **err)
{
	la_ssize_t r;

	if (src->eof)
		return 0;
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
	if (src->a)
		archive_read_free(src->a);
	free(src->buf);
	free(src);
}

uint64_t layers_source_raw_bytes(const struct layers_source *src)
{
	return src->raw_bytes;
}
