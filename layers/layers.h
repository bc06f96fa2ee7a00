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

/* Compressed bytes read from the fd so far. */
uint64_t layers_source_raw_bytes(const struct layers_source *src);

/* Frees @src; NULL is fine. */
void layers_source_free(struct layers_source *src);

/* ---- follow.c: a file read while it is written ---- */

/*
 * The size of a file that another thread is still writing. A source reading
 * through it (layers_source_open_follow, layers_unpack_opts.follow) reads
 * with pread up to the size published, waits there for more, and ends when
 * the writer does.
 */
struct layers_follow;

/* A new follow state: size 0, not ended. */
struct layers_follow *layers_follow_new(void);

/* Writer: the file now holds @size bytes (never less than before). */
void layers_follow_grow(struct layers_follow *f, uint64_t size);

/* Writer: no more bytes come; when !@complete, readers fail with ECANCELED instead of ending. */
void layers_follow_end(struct layers_follow *f, bool complete);

/* Reader: up to @n bytes of @fd at @off, waiting for them; 0 at the end, -1 with errno set. */
ssize_t layers_follow_pread(struct layers_follow *f, int fd, void *buf, size_t n, uint64_t off);

/* Frees @f once neither side uses it; NULL is fine. */
void layers_follow_free(struct layers_follow *f);

/* As layers_source_open, reading @fd through @f while it is written (@f may be NULL). */
int layers_source_open_follow(int fd, struct layers_follow *f, struct layers_source **out,
			      struct strata_error **err);

/* ---- compress.c: a writer of layer blobs ---- */

struct layers_blob_writer;

/*
 * Starts a layer blob in @s: uncompressed tar bytes written to it are hashed
 * (diffID), compressed with @c at @level (0: the default; gzip and zstd use
 * every CPU), hashed again and streamed into the store.
 */
int layers_blob_writer_new(struct store *s, enum layers_compression c, int level,
			   struct layers_blob_writer **out, struct strata_error **err);

/*
 * The same, but the compressed bytes are written to @fd (owned by the
 * caller, not closed) instead of the store; commit fills digest and size.
 */
int layers_blob_writer_new_fd(int fd, enum layers_compression c, int level,
			      struct layers_blob_writer **out, struct strata_error **err);

/* Feeds @n uncompressed bytes. */
int layers_blob_writer_write(struct layers_blob_writer *w, const void *buf, size_t n,
			     struct strata_error **err);

/* Finishes and stores the blob, fills @out; always frees @w. */
int layers_blob_writer_commit(struct layers_blob_writer *w, struct layers_blob *out,
			      struct strata_error **err);

/* Discards the blob and frees @w; NULL is fine. */
void layers_blob_writer_abort(struct layers_blob_writer *w);

/*
 * Decompresses the blob read from @fd (any compression layers_source knows)
 * and writes it to @out_fd compressed with @c at @level; fills @out (digest
 * and size of what was written, diffID of the tar). Neither fd is closed.
 */
int layers_recompress(int fd, enum layers_compression c, int level, int out_fd,
		      struct layers_blob *out, struct strata_error **err);

/* ---- import.c ---- */

/*
 * Reads a tar stream from @fd (plain or compressed, detected by magic
 * bytes), checks that it is a whole, well-formed tar archive, and stores it
 * as one layer blob compressed with @c. A non-tar or truncated input stores
 * nothing.
 */
int layers_import_tar(struct store *s, int fd, enum layers_compression c, int level,
		      struct layers_blob *out, struct strata_error **err);

/* ---- whiteouts ---- */

/*
 * How a layer dir records deletions. OVERLAY: a whiteout is a character
 * device 0:0, an opaque directory has trusted.overlay.opaque=y (without root:
 * user.overlay.opaque=y, see layers_opaque_xattr). AUFS: the tar
 * format kept as files (.wh.NAME, .wh..wh..opq). VFS: applied, so the dir is
 * a full tree: whiteouts delete, opaque markers empty the directory first.
 */
enum layers_whiteout { LAYERS_WHITEOUT_OVERLAY, LAYERS_WHITEOUT_AUFS, LAYERS_WHITEOUT_VFS };

/*
 * The xattr that marks an opaque dir in the overlay-format layer dirs this
 * process makes: trusted.overlay.opaque as root, user.overlay.opaque
 * without root (a rootless overlayfs is mounted with userxattr). Static.
 */
const char *layers_opaque_xattr(void);

/* Parses "overlay", "aufs" or "vfs"; -1 on anything else. */
int layers_whiteout_parse(const char *s, enum layers_whiteout *out);

/* ---- unpack.c: tar stream -> directory ---- */

struct layers_unpack_opts {
	uint64_t max_bytes; /* limit on uncompressed bytes; 0: LAYERS_UNPACK_DEFAULT_MAX */
	struct layers_follow *follow; /* the input is still being written (NULL: it is whole) */
};

/* The default limit on a layer's uncompressed size (64 GiB). */
#define LAYERS_UNPACK_DEFAULT_MAX (64ULL << 30)

struct layers_unpack_stats {
	char diff_id[DIGEST_STR_LEN]; /* SHA-256 of the uncompressed tar */
	uint64_t entries;
	uint64_t bytes; /* uncompressed tar bytes */
};

/*
 * Unpacks the layer tar read from @fd (compression detected by magic bytes)
 * into the directory @dirfd, converting whiteouts to @wh. Every entry is
 * resolved inside @dirfd: nothing is ever written outside it, symlinks are
 * never followed on write, owners are numeric. @opts may be NULL. Computes
 * the diffID in the same pass. On failure @dirfd may hold a partial tree.
 */
int layers_unpack(int fd, int dirfd, enum layers_whiteout wh, const struct layers_unpack_opts *opts,
		  struct layers_unpack_stats *st, struct strata_error **err);

/* Applies the layers of @img (all of them) to the directory @dirfd in order: its flattened rootfs. */
int layers_apply_image(struct store *s, const struct store_image *img, int dirfd,
		       struct strata_error **err);

/* ---- pack.c: directory -> layer blob ---- */

struct layers_pack_opts {
	enum layers_compression compression;
	int level;	   /* 0: the compressor's default */
	int64_t timestamp; /* >= 0: clamp mtimes to it; -1: keep mtimes */
	/* NULL, or a NULL-terminated list of paths (from the top, no leading '/') left out */
	const char *const *skip;
	/* NULL, or the id map of the container whose files these are: owners packed as it saw them */
	const struct idmap *unmap;
};

/*
 * Packs a directory of changes (an overlay upper dir, an aufs branch, or a
 * whole tree with LAYERS_WHITEOUT_VFS) into a layer blob in @s. Entries are
 * sorted, owners numeric, no atime/ctime: the same tree gives the same digest.
 */
int layers_pack_dir(struct store *s, int dirfd, enum layers_whiteout wh,
		    const struct layers_pack_opts *o, struct layers_blob *out,
		    struct strata_error **err);

enum layers_change_kind { LAYERS_CHANGE_ADD, LAYERS_CHANGE_MODIFY, LAYERS_CHANGE_DELETE };

/* One changed path (relative to the tree's top, no leading '/'). */
struct layers_change {
	char *path;
	enum layers_change_kind kind;
};

/*
 * Packs the listed paths of the full tree @rootfd (deletions as .wh. entries,
 * missing parent directories added) into a layer blob in @s: vfs commit.
 */
int layers_pack_changes(struct store *s, int rootfd, const struct layers_change *c, size_t n,
			const struct layers_pack_opts *o, struct layers_blob *out,
			struct strata_error **err);

/*
 * Packs @dirfd's tree as a plain tar to @outfd (export): deterministic as
 * layers_pack_dir with LAYERS_WHITEOUT_VFS, uncompressed.
 */
int layers_pack_tar_fd(int dirfd, int outfd, int64_t timestamp, struct strata_error **err);

/* ---- export.c: an image's flattened rootfs as one tar ---- */

/*
 * Writes the flattened rootfs of @img to @outfd as a plain tar, the same
 * bytes layers_pack_tar_fd writes for the tree layers_apply_image makes:
 * sorted, numeric owners, whole-second mtimes, no whiteouts. The layers are
 * streamed, each read once; only a layer out of name order makes it apply
 * them to a directory in ROOT/tmp first. @outfd stays the caller's; on
 * failure it may hold part of a tar.
 */
int layers_export(struct store *s, const struct store_image *img, int outfd,
		  struct strata_error **err);

/* ---- libarchive-load.c: libarchive, loaded on first use ---- */

/*
 * Loads libarchive unless done (thread-safe); ENOSYS "cannot load
 * libarchive.so.13: why" when it cannot be. Every function that makes a
 * libarchive object calls it first, so that its caller gets that error.
 */
int layers_libarchive_load(struct strata_error **err);

/* ---- archive.c: save and load image archives ---- */

enum layers_archive_format {
	LAYERS_ARCHIVE_OCI_DIR,	       /* an OCI image layout directory */
	LAYERS_ARCHIVE_OCI_ARCHIVE,    /* the same layout in a tar */
	LAYERS_ARCHIVE_DOCKER_ARCHIVE, /* `docker save`: manifest.json, repositories, layer tars */
};

/* Parses "oci-dir", "oci-archive" or "docker-archive"; -1 on anything else. */
int layers_archive_format_parse(const char *s, enum layers_archive_format *out);

/*
 * Says what layers_load would read @path as (a directory is an OCI layout; a
 * tar with oci-layout and index.json an OCI archive, else one with
 * manifest.json a docker archive). EINVAL for anything else.
 */
int layers_archive_detect(const char *path, enum layers_archive_format *out,
			  struct strata_error **err);

/* One image to save and the names ("name:tag") it is saved under (NULL-terminated, may be empty). */
struct layers_save_item {
	const struct store_image *img;
	char **refs;
};

/*
 * Writes the @n images to @path in format @f ("-": a tar format to
 * stdout). An oci-dir @path must be missing or hold no layout yet. On
 * failure nothing made by it is left.
 */
int layers_save(struct store *s, const struct layers_save_item *items, size_t n,
		enum layers_archive_format f, const char *path, struct strata_error **err);

/*
 * Loads the archive at @path (an OCI layout directory, an OCI archive tar or
 * a docker-archive tar, detected), verifying every digest, and tags its
 * images once all are complete. *loaded gets the names tagged (image IDs for
 * unnamed images); caller frees with strv_free, even on failure.
 */
int layers_load(struct store *s, const char *path, char ***loaded, struct strata_error **err);

/* ---- dir.c: layer dirs ROOT/layers/<backend>/<chain-hex>/{layer.json,diff/} ---- */

struct layers_dir_stream;

/* The whiteout format a backend's layer dirs use ("overlay", "aufs", "vfs"); -1 if unknown. */
int layers_backend_whiteout(const char *backend, enum layers_whiteout *out);

/*
 * Makes sure the layer dirs of the bottom @n layers of @img exist for
 * @backend, unpacking what is missing. Concurrent makers race harmlessly.
 */
int layers_dir_ensure(struct store *s, const char *backend, const struct store_image *img, size_t n,
		      struct strata_error **err);

/*
 * Makes the layer dir @chain_id from @blob (whose uncompressed digest must be
 * @diff_id). For "vfs" the parent's dir (@parent_chain_id) must exist: the new
 * dir is a full snapshot. Staged in ROOT/tmp and renamed into place.
 */
int layers_dir_unpack(struct store *s, const char *backend, const char *chain_id,
		      const char *parent_chain_id, const char *diff_id, const struct store_desc *blob,
		      struct strata_error **err);

/*
 * A layer dir made while its blob is still arriving: a thread unpacks the
 * blob's staging file @blob_fd (dup'ed; the caller keeps it) as the writer
 * grows it. *out stays NULL (and 0 is returned) when there is nothing to do
 * this way: the dir exists, or the backend is vfs (made after its parents).
 */
int layers_dir_stream_new(struct store *s, const char *backend, const char *chain_id,
			  const char *parent_chain_id, const char *diff_id,
			  const char *blob_digest, int blob_fd, struct layers_dir_stream **out,
			  struct strata_error **err);

/* The blob's staging file now holds @size bytes. NULL @ds is fine. */
void layers_dir_stream_grow(struct layers_dir_stream *ds, uint64_t size);

/* The blob is whole: the unpack may read to its end (finish still waits for it). NULL is fine. */
void layers_dir_stream_end(struct layers_dir_stream *ds);

/*
 * Ends the stream and frees @ds (NULL is fine). With @complete (the blob
 * arrived whole and matched its digest) waits for the unpack, checks the
 * diffID and moves the dir into place; otherwise discards it and returns 0.
 */
int layers_dir_stream_finish(struct layers_dir_stream *ds, bool complete,
			     struct strata_error **err);

/*
 * True when the layer dir of @chain_id exists and can be trusted: its
 * layer.json names that chain ID and this boot (the content is not synced,
 * so a dir of an earlier boot may be cut short). Any other dir there
 * (half-made, without a record) counts as absent and is made again.
 */
bool layers_dir_valid(struct store *s, const char *backend, const char *chain_id);

/* What layer.json of a new layer dir says (its boot and creation time are added). */
struct layers_dir_record {
	const char *chain_id;
	const char *parent; /* the chain ID below, or NULL */
	const char *diff_id;
	const char *blob;   /* the compressed blob it was made from */
	uint64_t size;	    /* bytes of content */
};

/*
 * A layer dir being made: every maker goes stage -> fill -> record ->
 * publish. layers_stage_new() pins the store and makes ROOT/tmp/<name>/ with
 * an empty diff/; the caller fills diff/ (layers_stage_diff_fd(), or
 * layers_stage_adopt() to rename a dir it filled elsewhere), then
 * layers_stage_publish() writes layer.json and renames it into place.
 */
struct layers_stage;

/* Starts a layer dir for @backend in ROOT/tmp (the store stays pinned until it is freed). */
int layers_stage_new(struct store *s, const char *backend, struct layers_stage **out,
		     struct strata_error **err);

/* The O_DIRECTORY fd of the stage's diff/ to fill (borrowed). */
int layers_stage_diff_fd(const struct layers_stage *st);

/*
 * Makes the dir @name of @dirfd the stage's diff/, by rename (same
 * filesystem; the empty diff/ goes), for a maker that filled a dir elsewhere.
 */
int layers_stage_adopt(struct layers_stage *st, int dirfd, const char *name,
		       struct strata_error **err);

/*
 * Writes the record (@rec with this boot) and renames the stage into place.
 * A valid twin published meanwhile wins (ours is dropped, 0 returned); a
 * stale or half-made dir in the way is moved aside into ROOT/tmp first.
 */
int layers_stage_publish(struct layers_stage *st, const struct layers_dir_record *rec,
			 struct strata_error **err);

/* Frees @st and removes whatever was not published; unpins the store. NULL is fine. */
void layers_stage_free(struct layers_stage *st);

/* The absolute path of a layer dir's content (".../diff"). Caller frees. */
char *layers_dir_path(struct store *s, const char *backend, const char *chain_id);

#endif
