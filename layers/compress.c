/*
 * Layer blob writers: the uncompressed tar stream is hashed for the diffID,
 * compressed, and the compressed bytes streamed into a store blob writer,
 * which hashes them for the digest: one pass over the data, two digests.
 *
 * Both compressors run on every CPU and cut the input where its bytes
 * alone decide, so digests are the same on every machine: zstd in chunks
 * that are frames of their own (pzstd.c), gzip in fixed blocks of one
 * deflate stream with a fixed header (no name, mtime 0; pgzip.c).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "layers/layers-int.h"

/*
 * Writes under SMALL bytes (a tar's headers and padding, small files) are
 * gathered into STAGE bytes before they are hashed and compressed: a tenth
 * of the calls into SHA-256 and libzstd for a rootfs, the bytes of large
 * files still passed on uncopied.
 */
#define STAGE (128u * 1024)
#define SMALL (16u * 1024)

/*
 * Past its first HASH_AFTER bytes, the tar stream is hashed for the diffID
 * on a thread of its own (a ring of HASH_NBUF buffers of HASH_BUF bytes),
 * beside the compressors' threads and the blob's hashing and writing: at
 * about 0.75 s of CPU per GiB, SHA-256 was a third of the importing
 * thread's work on a large file. Small layers (a commit of a few files)
 * make no thread.
 */
#define HASH_AFTER (8u << 20)
#define HASH_BUF   (256u << 10)
#define HASH_NBUF  4u

struct layers_blob_writer {
	enum layers_compression c;
	struct store *s;		/* the store of @blob, for the tar size record */
	struct store_blob_writer *blob; /* into the store, or NULL when writing to out_fd */
	int out_fd;
	struct digester *out_digest;	/* of what goes to out_fd */
	uint64_t out_size;
	struct digester *diff;
	struct bufring *diff_ring; /* feeding diff on its thread, once started */
	bool diff_ring_tried;
	uint64_t tar_size;
	struct pgzip *gz;
	struct pzstd *pz;
	unsigned char *stage; /* STAGE bytes, of which staged are waiting */
	size_t staged;
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

/* Compressed bytes out: into the store blob, or hashed onto out_fd. */
static int out_write(struct layers_blob_writer *w, const void *buf, size_t n,
		     struct strata_error **err)
{
	if (w->blob)
		return store_blob_writer_write(w->blob, buf, n, err);
	if (file_write_all(w->out_fd, buf, n, err) < 0)
		return -1;
	digester_update(w->out_digest, buf, n);
	w->out_size += n;
	return 0;
}

static int compressed_sink(void *arg, const void *buf, size_t n, struct strata_error **err)
{
	struct layers_blob_writer *w = arg;

	return out_write(w, buf, n, err);
}

/* Sets up the compressor of @w (its sink already chosen). */
static void writer_init(struct layers_blob_writer *w, enum layers_compression c, int level)
{
	w->c = c;
	/* Uncompressed, the blob is the tar: its digest is the diffID. */
	w->diff = c != LAYERS_COMPRESSION_NONE ? digester_new() : NULL;
	w->stage = xmalloc(STAGE);
	switch (c) {
	case LAYERS_COMPRESSION_GZIP:
		w->gz = layers_pgzip_new(level, compressed_sink, w);
		break;
	case LAYERS_COMPRESSION_ZSTD:
		w->pz = layers_pzstd_new(level, compressed_sink, w);
		break;
	case LAYERS_COMPRESSION_NONE:
		break;
	}
}

int layers_blob_writer_new(struct store *s, enum layers_compression c, int level,
			   struct layers_blob_writer **out, struct strata_error **err)
{
	struct layers_blob_writer *w = xcalloc(1, sizeof(*w));

	w->out_fd = -1;
	w->s = s;
	if (store_blob_writer_new(s, &w->blob, err) < 0) {
		free(w);
		return -1;
	}
	/* Nothing reads a layer blob before it is committed. */
	store_blob_writer_bypass_cache(w->blob);
	writer_init(w, c, level);
	*out = w;
	return 0;
}

int layers_blob_writer_new_fd(int fd, enum layers_compression c, int level,
			      struct layers_blob_writer **out, struct strata_error **err)
{
	struct layers_blob_writer *w = xcalloc(1, sizeof(*w));

	(void)err; /* nothing here can fail: errors come with the writes */
	w->out_fd = fd;
	w->out_digest = digester_new();
	writer_init(w, c, level);
	*out = w;
	return 0;
}

static int diff_hash(void *arg, unsigned char *buf, size_t len, uint64_t off)
{
	(void)off;
	digester_update(arg, buf, len);
	return 0;
}

/* Feeds @n bytes to the diffID's digester: here, or through its thread once large. */
static void diff_update(struct layers_blob_writer *w, const void *buf, size_t n)
{
	if (!w->diff_ring && !w->diff_ring_tried && w->tar_size + n > HASH_AFTER) {
		w->diff_ring_tried = true;
		w->diff_ring = bufring_new(HASH_NBUF, HASH_BUF, 0, diff_hash, w->diff);
	}
	if (w->diff_ring)
		bufring_write(w->diff_ring, buf, n); /* diff_hash never fails */
	else
		digester_update(w->diff, buf, n);
}

/*
 * Tar bytes in: hashed for the diffID (uncompressed, the digest of what goes
 * out is the diffID, so the bytes are hashed once), then compressed.
 */
static int feed(struct layers_blob_writer *w, const void *buf, size_t n,
		struct strata_error **err)
{
	if (w->diff)
		diff_update(w, buf, n);
	w->tar_size += n;
	switch (w->c) {
	case LAYERS_COMPRESSION_GZIP:
		return layers_pgzip_write(w->gz, buf, n, err);
	case LAYERS_COMPRESSION_ZSTD:
		return layers_pzstd_write(w->pz, buf, n, err);
	case LAYERS_COMPRESSION_NONE:
		break;
	}
	return out_write(w, buf, n, err);
}

static int flush_stage(struct layers_blob_writer *w, struct strata_error **err)
{
	size_t n = w->staged;

	w->staged = 0;
	return n ? feed(w, w->stage, n, err) : 0;
}

int layers_blob_writer_write(struct layers_blob_writer *w, const void *buf, size_t n,
			     struct strata_error **err)
{
	if (n >= SMALL || w->staged + n > STAGE) {
		if (flush_stage(w, err) < 0)
			return -1;
		if (n >= SMALL)
			return feed(w, buf, n, err);
	}
	memcpy(w->stage + w->staged, buf, n);
	w->staged += n;
	return 0;
}

static void writer_free(struct layers_blob_writer *w)
{
	bufring_free(w->diff_ring); /* before the digester it feeds */
	free(w->stage);
	layers_pgzip_free(w->gz);
	layers_pzstd_free(w->pz);
	digester_free(w->diff);
	digester_free(w->out_digest);
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
	int r = flush_stage(w, err);

	if (r == 0 && w->c == LAYERS_COMPRESSION_GZIP)
		r = layers_pgzip_finish(w->gz, err);
	else if (r == 0 && w->c == LAYERS_COMPRESSION_ZSTD)
		r = layers_pzstd_finish(w->pz, err);
	if (r < 0) {
		layers_blob_writer_abort(w);
		return -1;
	}
	/* The compressor's teardown (its threads, its buffers) overlaps the writeback. */
	if (w->blob)
		store_blob_writer_start_writeback(w->blob);
	layers_pzstd_free(w->pz);
	w->pz = NULL;
	layers_pgzip_free(w->gz);
	w->gz = NULL;
	out->tar_size = w->tar_size;
	out->media_type = layers_compression_media_type(w->c);
	if (w->blob) {
		r = store_blob_writer_commit(w->blob, NULL, out->digest, &out->size, err);
		w->blob = NULL;
	} else {
		digester_final(w->out_digest, out->digest);
		out->size = w->out_size;
	}
	if (w->diff_ring) {
		bufring_finish(w->diff_ring);
		w->diff_ring = NULL;
	}
	if (w->diff)
		digester_final(w->diff, out->diff_id);
	else if (r == 0)
		memcpy(out->diff_id, out->digest, DIGEST_STR_LEN);
	/* the size podman shows, known here for nothing */
	if (r == 0 && w->s && w->c != LAYERS_COMPRESSION_NONE)
		store_blob_tar_size_put(w->s, out->digest, out->tar_size);
	writer_free(w);
	return r;
}

#define RECOMPRESS_CHUNK (1u << 20)

int layers_recompress(int fd, enum layers_compression c, int level, int out_fd,
		      struct layers_blob *out, struct strata_error **err)
{
	struct layers_source *src = NULL;
	struct layers_blob_writer *w = NULL;
	cleanup_free char *buf = xmalloc(RECOMPRESS_CHUNK);

	if (layers_source_open(fd, &src, err) < 0)
		return -1;
	if (layers_blob_writer_new_fd(out_fd, c, level, &w, err) < 0) {
		layers_source_free(src);
		return -1;
	}
	for (;;) {
		ssize_t n = layers_source_read(src, buf, RECOMPRESS_CHUNK, err);

		if (n == 0)
			break;
		if (n < 0 || layers_blob_writer_write(w, buf, (size_t)n, err) < 0) {
			layers_blob_writer_abort(w);
			layers_source_free(src);
			return -1;
		}
	}
	layers_source_free(src);
	return layers_blob_writer_commit(w, out, err);
}
