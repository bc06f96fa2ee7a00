/*
 * Layer blob writers: the uncompressed tar stream is hashed for the diffID,
 * compressed, and the compressed bytes streamed into a store blob writer,
 * which hashes them for the digest: one pass over the data, two digests.
 *
 * zstd runs libzstd's worker threads; its output does not depend on how
 * many workers there are once there is at least one, so digests are the
 * same on every machine. gzip is parallel too (pgzip.c): fixed blocks and a
 * fixed header (no name, mtime 0), so it too is deterministic.
 */
#include <errno.h>
#include <string.h>
#include <zstd.h>

#include "layers/layers-int.h"

#define OUT_CHUNK (256u * 1024)

struct layers_blob_writer {
	enum layers_compression c;
	struct store_blob_writer *blob;
	struct digester *diff;
	uint64_t tar_size;
	unsigned char *out;
	struct pgzip *gz;
	ZSTD_CCtx *zc;
};

int layers_compression_parse(const char *s, enum layers_compression *out)
{
	if (strcmp(s, "gzip") == 0)
		*out = LAYERS_COMPRESSION_GZIP;
	else if (strcmp(s, "zstd") == 0)
		*out = LAYERS_COMPRESSION_ZSTD;
	else if (strcmp(s, "none") == 0 || strcmp(s, "uncompressed") == 0)
		*out = LAYERS_COMPRESSION_NONE;
	else
		return -1;
	return 0;
}

const char *layers_compression_media_type(enum layers_compression c)
{
	switch (c) {
	case LAYERS_COMPRESSION_GZIP:
		return MEDIA_OCI_LAYER_GZIP;
	case LAYERS_COMPRESSION_ZSTD:
		return MEDIA_OCI_LAYER_ZSTD;
	case LAYERS_COMPRESSION_NONE:
		break;
	}
	return MEDIA_OCI_LAYER;
}

const char *layers_compression_name(enum layers_compression c)
{
	switch (c) {
	case LAYERS_COMPRESSION_GZIP:
		return "gzip";
	case LAYERS_COMPRESSION_ZSTD:
		return "zstd";
	case LAYERS_COMPRESSION_NONE:
		break;
	}
	return "none";
}

static int gzip_sink(void *arg, const void *buf, size_t n, struct strata_error **err)
{
	struct layers_blob_writer *w = arg;

	return store_blob_writer_write(w->blob, buf, n, err);
}

int layers_blob_writer_new(struct store *s, enum layers_compression c, int level,
			   struct layers_blob_writer **out, struct strata_error **err)
{
	struct layers_blob_writer *w = xcalloc(1, sizeof(*w));

	w->c = c;
	if (store_blob_writer_new(s, &w->blob, err) < 0) {
		free(w);
		return -1;
	}
	w->diff = digester_new();
	w->out = xmalloc(OUT_CHUNK);
	switch (c) {
	case LAYERS_COMPRESSION_GZIP:
		w->gz = pgzip_new(level, gzip_sink, w);
		break;
	case LAYERS_COMPRESSION_ZSTD:
		w->zc = ZSTD_createCCtx();
		if (!w->zc ||
		    ZSTD_isError(ZSTD_CCtx_setParameter(w->zc, ZSTD_c_compressionLevel,
							level > 0 ? level : 3))) {
			layers_blob_writer_abort(w);
			return strata_fail_msg(err, ENOMEM, "zstd: cannot initialise the compressor");
		}
		/* Workers >= 1 always, so the output is the same whatever the CPU count. */
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_nbWorkers, sys_ncpus());
		/*
		 * 4 MiB jobs instead of the default 4x window: peak memory stays
		 * near 50 MB with two workers for 0.7% larger output. Fixed, so
		 * the output still does not depend on the machine.
		 */
		ZSTD_CCtx_setParameter(w->zc, ZSTD_c_jobSize, 4 << 20);
		break;
	case LAYERS_COMPRESSION_NONE:
		break;
	}
	*out = w;
	return 0;
}

static int zstd_feed(struct layers_blob_writer *w, const void *buf, size_t n, bool end,
		     struct strata_error **err)
{
	ZSTD_inBuffer in = { buf, n, 0 };

	for (;;) {
		ZSTD_outBuffer o = { w->out, OUT_CHUNK, 0 };
		size_t left = ZSTD_compressStream2(w->zc, &o, &in, end ? ZSTD_e_end : ZSTD_e_continue);

		if (ZSTD_isError(left))
			return strata_fail_msg(err, EIO, "zstd: %s", ZSTD_getErrorName(left));
		if (o.pos && store_blob_writer_write(w->blob, w->out, o.pos, err) < 0)
			return -1;
		if (end ? left == 0 : in.pos == in.size)
			return 0;
	}
}

int layers_blob_writer_write(struct layers_blob_writer *w, const void *buf, size_t n,
			     struct strata_error **err)
{
	digester_update(w->diff, buf, n);
	w->tar_size += n;
	switch (w->c) {
	case LAYERS_COMPRESSION_GZIP:
		return pgzip_write(w->gz, buf, n, err);
	case LAYERS_COMPRESSION_ZSTD:
		return zstd_feed(w, buf, n, false, err);
	case LAYERS_COMPRESSION_NONE:
		break;
	}
	return store_blob_writer_write(w->blob, buf, n, err);
}

static void writer_free(struct layers_blob_writer *w)
{
	pgzip_free(w->gz);
	ZSTD_freeCCtx(w->zc);
	digester_free(w->diff);
	free(w->out);
	free(w);
}

void layers_blob_writer_abort(struct layers_blob_writer *w)
{
	if (!w)
		return;
	store_blob_writer_abort(w->blob);
	writer_free(w);
}

int layers_blob_writer_commit(struct layers_blob_writer *w, struct layers_blob *out,
			      struct strata_error **err)
{
	int r = 0;

	if (w->c == LAYERS_COMPRESSION_GZIP)
		r = pgzip_finish(w->gz, err);
	else if (w->c == LAYERS_COMPRESSION_ZSTD)
		r = zstd_feed(w, NULL, 0, true, err);
	if (r < 0) {
		layers_blob_writer_abort(w);
		return -1;
	}
	digester_final(w->diff, out->diff_id);
	out->tar_size = w->tar_size;
	out->media_type = layers_compression_media_type(w->c);
	r = store_blob_writer_commit(w->blob, NULL, out->digest, &out->size, err);
	w->blob = NULL;
	writer_free(w);
	return r;
}
