/*
 * layers: tar streams <-> directories. Decompressing sources (magic-byte
 * detection), compressing layer blob writers that compute digest and diffID
 * in one pass, and import of a tar stream as a layer blob.
 */
#ifndef STRATA_LAYERS_LAYERS_H
#define STRATA_LAYERS_LAYERS_H

#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"
#include "store/store.h"

enum layers_compression {
	LAYERS_COMPRESSION_NONE = 0,
	LAYERS_COMPRESSION_GZIP,
	LAYERS_COMPRESSION_ZSTD,
};

/* Parses "gzip", "zstd" or "none"; -1 on anything else. */
int layers_compression_parse(const char *s, enum layers_compression *out);

/* The OCI layer media type for a compression. */
const char *layers_compression_media_type(enum layers_compression c);

/* The name of a compression ("gzip", "zstd", "none"). */
const char *layers_compression_name(enum layers_compression c);

/* A layer blob as stored: its digest (compressed), diffID (uncompressed) and sizes. */
struct layers_blob {
	char digest[DIGEST_STR_LEN];
	char diff_id[DIGEST_STR_LEN];
	uint64_t size;	   /* compressed bytes */
	uint64_t tar_size; /* uncompressed bytes */
	const char *media_type;
};

/* ---- source.c: a decompressing reader ---- */

struct layers_source;

/*
 * Reads @fd through whatever compression its first bytes announce (none,
 * gzip, zstd, bzip2, xz; libarchive's filters). @fd stays owned by the caller.
 */
int layers_source_open(int fd, struct layers_source **out, struct strata_error **err);

/* Reads up to @n uncompressed bytes; 0 at the end, -1 on error. */
ssize_t layers_source_read(struct layers_source *src, void *buf, size_t n,
			   struct strata_error **err);

/* The compression found ("none", "gzip", "zstd", "bzip2", "xz"). */
const char *layers_source_compression(const struct layers_source *src);

/* Uncompressed bytes read so far. */
uint64_t layers_source_bytes(const struct layers_source *src);

/* Frees @src; NULL is fine. */
void layers_source_free(struct layers_source *src);

/* ---- compress.c: a writer of layer blobs ---- */

struct layers_blob_writer;

/*
 * Starts a layer blob in @s: uncompressed tar bytes written to it are hashed
 * (diffID), compressed with @c at @level (0: the default; gzip and zstd use
 * every CPU), hashed again and streamed into the store.
 */
int layers_blob_writer_new(struct store *s, enum layers_compression c, int level,
			   struct layers_blob_writer **out, struct strata_error **err);

/* Feeds @n uncompressed bytes. */
int layers_blob_writer_write(struct layers_blob_writer *w, const void *buf, size_t n,
			     struct strata_error **err);

/* Finishes and stores the blob, fills @out; always frees @w. */
int layers_blob_writer_commit(struct layers_blob_writer *w, struct layers_blob *out,
			      struct strata_error **err);

/* Discards the blob and frees @w; NULL is fine. */
void layers_blob_writer_abort(struct layers_blob_writer *w);

/* ---- import.c ---- */

/*
 * Reads a tar stream from @fd (plain or compressed, detected by magic
 * bytes), checks that it is a whole, well-formed tar archive, and stores it
 * as one layer blob compressed with @c. A non-tar or truncated input stores
 * nothing.
 */
int layers_import_tar(struct store *s, int fd, enum layers_compression c, int level,
		      struct layers_blob *out, struct strata_error **err);

/* ---- (contract, CONTRACTS.md) ---- */

enum layers_whiteout { LAYERS_WHITEOUT_OVERLAY, LAYERS_WHITEOUT_AUFS, LAYERS_WHITEOUT_VFS };

enum layers_change_kind { LAYERS_CHANGE_ADD, LAYERS_CHANGE_MODIFY, LAYERS_CHANGE_DELETE };
struct layers_change {
	char *path;
	enum layers_change_kind kind;
};

struct layers_unpack_opts {
	uint64_t max_bytes; /* 0: default limit */
};
struct layers_unpack_stats {
	char diff_id[DIGEST_STR_LEN];
	uint64_t entries;
	uint64_t bytes;
};
int layers_unpack(int fd, int dirfd, enum layers_whiteout wh, const struct layers_unpack_opts *opts,
		  struct layers_unpack_stats *st, struct strata_error **err);

struct layers_pack_opts {
	enum layers_compression compression;
	int level;
	int64_t timestamp; /* -1: keep mtimes */
};
int layers_pack_dir(struct store *s, int dirfd, enum layers_whiteout wh,
		    const struct layers_pack_opts *o, struct layers_blob *out,
		    struct strata_error **err);
int layers_pack_changes(struct store *s, int rootfd, const struct layers_change *c, size_t n,
			const struct layers_pack_opts *o, struct layers_blob *out,
			struct strata_error **err);
int layers_dir_ensure(struct store *s, const char *backend, const struct store_image *img, size_t n,
		      struct strata_error **err);
int layers_dir_unpack(struct store *s, const char *backend, const char *chain_id,
		      const char *parent_chain_id, const char *diff_id, const struct store_desc *blob,
		      struct strata_error **err);
char *layers_dir_path(struct store *s, const char *backend, const char *chain_id);

#endif
