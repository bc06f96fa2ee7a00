/*
 * Import of a tar stream as one layer blob. libarchive's tar reader pulls
 * the uncompressed stream through our read callback, where every byte is
 * also fed to the layer blob writer: the archive is validated (header
 * checksums, no truncation) in the same pass that hashes and recompresses
 * it. Bytes after the end-of-archive marker (tar's block padding) belong
 * to the stream too and are drained into the writer afterwards, so the
 * diffID is the hash of exactly the input.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <string.h>

#include "layers/layers-int.h"

#define CHUNK (1u << 20)

struct import {
	struct layers_source *src;
	struct layers_blob_writer *w;
	struct strata_error *err;
	char *buf;
};

static la_ssize_t import_read_cb(struct archive *a, void *data, const void **buff)
{
	struct import *im = data;
	ssize_t n = layers_source_read(im->src, im->buf, CHUNK, &im->err);

	if (n < 0) {
		archive_set_error(a, EIO, "%s", strata_error_msg(im->err));
		return -1;
	}
	if (n > 0 && layers_blob_writer_write(im->w, im->buf, (size_t)n, &im->err) < 0) {
		archive_set_error(a, EIO, "%s", strata_error_msg(im->err));
		return -1;
	}
	*buff = im->buf;
	return n;
}

int layers_import_tar(struct store *s, int fd, enum layers_compression c, int level,
		      struct layers_blob *out, struct strata_error **err)
{
	struct import im = { 0 };
	struct archive *a = NULL;
	struct archive_entry *entry;
	uint64_t entries = 0;
	int r;

	if (layers_source_open(fd, &im.src, err) < 0)
		return -1;
	if (layers_blob_writer_new(s, c, level, &im.w, err) < 0) {
		layers_source_free(im.src);
		return -1;
	}
	im.buf = xmalloc(CHUNK);
	a = archive_read_new();
	if (!a)
		abort();
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	if (archive_read_open(a, &im, NULL, import_read_cb, NULL) != ARCHIVE_OK)
		goto fail_archive;
	while ((r = archive_read_next_header(a, &entry)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		entries++;
		if (archive_read_data_skip(a) < ARCHIVE_WARN)
			goto fail_archive;
	}
	if (r != ARCHIVE_EOF)
		goto fail_archive;
	archive_read_free(a);
	a = NULL;
	/* Drain what follows the end-of-archive marker: it is part of the stream. */
	for (;;) {
		ssize_t n = layers_source_read(im.src, im.buf, CHUNK, err);

		if (n < 0)
			goto fail;
		if (n == 0)
			break;
		if (layers_blob_writer_write(im.w, im.buf, (size_t)n, err) < 0)
			goto fail;
	}
	if (layers_source_bytes(im.src) == 0) {
		strata_fail_msg(err, EINVAL, "not a tar archive: input is empty");
		goto fail;
	}
	log_debug("import: %llu entries, %llu bytes (%s)", (unsigned long long)entries,
		  (unsigned long long)layers_source_bytes(im.src),
		  layers_source_compression(im.src));
	r = layers_blob_writer_commit(im.w, out, err);
	im.w = NULL;
	layers_source_free(im.src);
	free(im.buf);
	return r;

fail_archive:
	if (im.err) {
		strata_fail_msg(err, strata_error_code(im.err), "%s", strata_error_msg(im.err));
	} else {
		const char *msg = archive_error_string(a);

		strata_fail_msg(err, EINVAL, "not a valid tar archive: %s",
				msg ? msg : "unrecognized format");
	}
fail:
	if (a)
		archive_read_free(a);
	strata_error_free(im.err);
	layers_blob_writer_abort(im.w);
	layers_source_free(im.src);
	free(im.buf);
	return -1;
}
