/*
 * store: the on-disk store. Its root is an OCI image layout (oci-layout,
 * index.json, blobs/sha256/) that skopeo and umoci read as it is, plus
 * strata's own records:
 *
 *   ROOT/layers/<backend>/<chain-hex>/   layer.json + diff/ (made by overlay/)
 *   ROOT/containers/<id>/                container.json + the container's dirs
 *   ROOT/cache/<key-hex>.json            build cache entries ({"Blobs": [...]})
 *   ROOT/buildcache/<id-hex>.<n>/         RUN --mount=type=cache dirs (+ .lock, .id)
 *   ROOT/tar-sizes/<hex>                 the tar size of a compressed layer blob (a hint)
 *   ROOT/tmp/                            staging: written here, then renamed
 *   ROOT/lock                            flock: shared to read, exclusive to change records
 *   ROOT/gc.lock                         flock: shared while adding content, exclusive for gc
 *
 * Blobs are written to tmp/, hashed while streaming, fsynced, verified and
 * renamed into blobs/; records are rewritten whole (temp + rename) under the
 * exclusive lock. Nothing is held locked while large data streams.
 */
#ifndef STRATA_STORE_STORE_H
#define STRATA_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

#define MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MEDIA_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MEDIA_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MEDIA_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MEDIA_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MEDIA_OCI_LAYER_NONDIST_GZIP "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define MEDIA_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MEDIA_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MEDIA_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MEDIA_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MEDIA_DOCKER_LAYER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

#define ANNOTATION_REF_NAME "org.opencontainers.image.ref.name"

/* Largest JSON document (manifest, config, index, record) strata reads. */
#define STORE_JSON_MAX (16u << 20)

/* An open store; its fields are the store module's own (store/store-int.h). */
struct store;

/* ---- store.c: opening, default root ---- */

/* The default root: /var/lib/strata as root, else $XDG_DATA_HOME/strata or ~/.local/share/strata. Caller frees. */
char *store_default_root(void);

/* Opens the store at @root, creating the layout when it is missing. */
int store_open(const char *root, struct store **out, struct strata_error **err);

/* Closes the store and frees @s; NULL is fine. Releases any lock still held. */
void store_free(struct store *s);

/* A new unique name for staging under ROOT/tmp: "<pid>-<random><suffix>". Caller frees. */
char *store_tmp_name(const char *suffix);

/* The absolute path of ROOT (borrowed, valid while @s is open). */
const char *store_root(const struct store *s);

/* ---- tmp.c: staging in ROOT/tmp ---- */

/*
 * Makes a new directory ROOT/tmp/<name> (@suffix ends the name) with @mode.
 * Returns its O_DIRECTORY fd and the name in *name (caller frees both).
 */
int store_tmp_mkdir(struct store *s, const char *suffix, unsigned mode, char **name,
		    struct strata_error **err);

/* Removes ROOT/tmp/@name recursively; a missing one is fine. */
int store_tmp_remove(struct store *s, const char *name, struct strata_error **err);

/* Renames ROOT/tmp/@name to @dest in directory @dirfd (same filesystem). */
int store_tmp_move(struct store *s, const char *name, int dirfd, const char *dest,
		   struct strata_error **err);

/* An unnamed read-write file in ROOT/tmp, gone once closed (O_TMPFILE, else unlinked at once). */
int store_tmp_file(struct store *s, struct strata_error **err);

/*
 * Creates the file ROOT/tmp/<name> (@suffix ends the name) for writing,
 * exclusively. Returns the fd; *path gets its absolute path (caller frees).
 */
int store_tmp_create(struct store *s, const char *suffix, char **path, struct strata_error **err);

/* ---- settings.c: store-wide settings (ROOT/settings.json) ---- */

/* Setting @key (a new reference), or NULL when it is not set. */
json_t *store_setting_get(struct store *s, const char *key);

/* Sets @key to @value (taken; NULL: back to its default), under the exclusive lock. */
int store_setting_set(struct store *s, const char *key, json_t *value, struct strata_error **err);

/* ---- lock.c ---- */

enum store_lock_mode { STORE_LOCK_SHARED = 1, STORE_LOCK_EXCLUSIVE = 2 };

/*
 * Takes ROOT/lock in @mode (blocking). Nests: an inner call in the same or a
 * weaker mode only counts. Asking for exclusive while holding shared is a bug
 * and fails with EDEADLK.
 */
int store_lock(struct store *s, enum store_lock_mode mode, struct strata_error **err);

/* Releases one level of store_lock(). */
void store_unlock(struct store *s);

/*
 * Holds ROOT/gc.lock shared while new content is added and not yet reachable
 * from a tag or record, so that a concurrent gc cannot remove it. Nests.
 */
int store_pin(struct store *s, struct strata_error **err);

/* Releases one level of store_pin(). */
void store_unpin(struct store *s);

/*
 * ROOT/users.lock: held shared by a command from before it reads the image
 * and makes or finds the volumes a new container will use until the
 * container's record names them; exclusive by a command that removes
 * images or volumes while it decides which are unused. So a prune or rmi
 * never takes what a container being created is about to use. Nests as
 * store_lock() does (exclusive under shared: EDEADLK). Never taken while
 * holding ROOT/lock or gc.lock.
 */
int store_users_lock(struct store *s, enum store_lock_mode mode, struct strata_error **err);

/* Releases one level of store_users_lock(). */
void store_users_unlock(struct store *s);

/*
 * Takes the lock of @digest (ROOT/locks/<hex>, flock exclusive): the
 * process that fetches a blob and makes its layer dir holds it, so that
 * another one fetching the same digest waits, then finds it present,
 * instead of fetching it again. Only while pinned. Returns the fd holding
 * it (release with store_digest_unlock); with @wait false, fails with
 * EWOULDBLOCK when another process holds it. Taking it over from a killed
 * holder removes that process's staging in ROOT/tmp.
 */
int store_digest_lock(struct store *s, const char *digest, bool wait, struct strata_error **err);

/* Releases a lock from store_digest_lock; -1 is fine. */
void store_digest_unlock(int fd);

/* Removes the lock files (gc, which holds gc.lock exclusively: no one holds one). */
int store_digest_locks_sweep(struct store *s, struct strata_error **err);

/* ---- blob.c ---- */

/* A blob being written: bytes go to ROOT/tmp, hashed as they pass. */
struct store_blob_writer;

/* Starts a new blob in ROOT/tmp. */
int store_blob_writer_new(struct store *s, struct store_blob_writer **out,
			  struct strata_error **err);

/* Appends @n bytes. On failure the writer stays valid and must be aborted. */
int store_blob_writer_write(struct store_blob_writer *w, const void *buf, size_t n,
			    struct strata_error **err);

/*
 * Says that @w's blob is not read before its commit (nor through
 * store_blob_writer_open_read): a large one then bypasses the page cache.
 */
void store_blob_writer_bypass_cache(struct store_blob_writer *w);

/* Bytes written so far. */
uint64_t store_blob_writer_size(const struct store_blob_writer *w);

/*
 * Starts the writeback of what is not on its way to the disk yet, so that
 * work done before the commit overlaps the commit's fsync.
 */
void store_blob_writer_start_writeback(struct store_blob_writer *w);

/* Opens the blob being written for reading, as it grows (a new fd; the caller closes it). */
int store_blob_writer_open_read(const struct store_blob_writer *w, struct strata_error **err);

/*
 * Finishes the blob: fsync, compare with @expected (when not NULL), rename
 * into blobs/. Writes the digest to @out and the size to *size (may be NULL).
 * Always frees @w; on failure nothing is left behind.
 */
int store_blob_writer_commit(struct store_blob_writer *w, const char *expected,
			     char out[DIGEST_STR_LEN], uint64_t *size, struct strata_error **err);

/* Discards the blob and frees @w; NULL is fine. */
void store_blob_writer_abort(struct store_blob_writer *w);

/* Puts everything readable from @fd as a blob (see store_blob_writer_commit). */
int store_blob_put_fd(struct store *s, int fd, const char *expected, char out[DIGEST_STR_LEN],
		      uint64_t *size, struct strata_error **err);

/* Puts @n bytes of @buf as a blob. */
int store_blob_put_buf(struct store *s, const void *buf, size_t n, const char *expected,
		       char out[DIGEST_STR_LEN], struct strata_error **err);

/* True when the blob @digest is present. */
bool store_blob_exists(struct store *s, const char *digest);

/* Size of the blob @digest; -1 with ENOENT when absent. */
int store_blob_size(struct store *s, const char *digest, uint64_t *size, struct strata_error **err);

/* Opens the blob @digest read-only. Returns the fd or -1. */
int store_blob_open(struct store *s, const char *digest, struct strata_error **err);

/* Reads a small blob whole (at most @max bytes) and verifies its digest. */
int store_blob_read(struct store *s, const char *digest, size_t max, char **out, size_t *len,
		    struct strata_error **err);

/* The absolute path of blob @digest (which may not exist). Caller frees. */
char *store_blob_path(struct store *s, const char *digest);

/* Removes blob @digest; a missing blob is fine. */
int store_blob_remove(struct store *s, const char *digest, struct strata_error **err);

/* ---- ref.c: image references per the distribution spec grammar ---- */

struct store_ref {
	char *domain; /* "registry.example.com:5000", or NULL when none was given */
	char *path;   /* "library/busybox" */
	char *tag;    /* "latest" (implied when neither tag nor digest is given), or NULL */
	char *digest; /* "sha256:...", or NULL */
};

/* Parses @s; an error names the grammar rule it breaks. */
int store_ref_parse(const char *s, struct store_ref *out, struct strata_error **err);

/* Frees the strings of @r. */
void store_ref_release(struct store_ref *r);

/* "domain/path" or "path". Caller frees. */
char *store_ref_name(const struct store_ref *r);

/* The canonical string: name[:tag][@digest]. Caller frees. */
char *store_ref_string(const struct store_ref *r);

/* True when @tag matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}. */
bool store_tag_is_valid(const char *tag);

/* ---- manifest.c: OCI and Docker schema2 documents ---- */

struct store_desc {
	char *media_type;
	char digest[DIGEST_STR_LEN];
	int64_t size;
	char *os;	    /* platform, in index entries only */
	char *arch;
	char *variant;
	json_t *annotations; /* borrowed reference into the parsed document, or NULL */
};

/* An image manifest (OCI or Docker schema2). */
struct store_manifest {
	char *media_type;
	struct store_desc config;
	struct store_desc *layers;
	size_t n_layers;
	json_t *json; /* the parsed document */
};

/* An index or Docker manifest list. */
struct store_index {
	char *media_type;
	struct store_desc *manifests;
	size_t n_manifests;
	json_t *json;
};

/* True when @media_type names an OCI index or a Docker manifest list. */
bool store_media_is_index(const char *media_type);

/* True when @media_type names an image manifest (OCI or Docker schema2). */
bool store_media_is_manifest(const char *media_type);

/*
 * Guesses the media type of a manifest-like document: its own mediaType
 * field, else from its shape (manifests[] means an index). Returns a static string.
 */
const char *store_manifest_sniff(const json_t *doc);

/* Parses an image manifest; indexes and unknown schema versions are errors. */
int store_manifest_parse(const char *buf, size_t len, struct store_manifest **out,
			 struct strata_error **err);

/* Frees @m; NULL is fine. */
void store_manifest_free(struct store_manifest *m);

/* Parses an OCI index or Docker manifest list. */
int store_index_parse(const char *buf, size_t len, struct store_index **out,
		      struct strata_error **err);

/* Frees @idx; NULL is fine. */
void store_index_free(struct store_index *idx);

/* Frees the strings of @d. */
void store_desc_release(struct store_desc *d);

/* A JSON descriptor {mediaType, digest, size}. */
json_t *store_desc_json(const char *media_type, const char *digest, int64_t size);

/*
 * Computes chain IDs from diffIDs: chain[0] = diff[0],
 * chain[i] = sha256(chain[i-1] + " " + diff[i]). @out holds @n strings; caller frees with strv_free.
 */
char **store_chain_ids(char *const *diff_ids, size_t n);

/* ---- index.c: the tags in index.json ---- */

struct store_tag {
	char *ref;	       /* the full reference "name:tag" */
	char *digest;	       /* manifest (or index) digest */
	char *media_type;
	int64_t size;
};

/* Lists the tagged entries of index.json (takes the shared lock). Free with store_tags_free. */
int store_tags_list(struct store *s, struct store_tag **out, size_t *n, struct strata_error **err);

/* Frees an array from store_tags_list. */
void store_tags_free(struct store_tag *t, size_t n);

/*
 * Points @ref (a valid reference, normalised to name:tag) at the manifest
 * @digest, replacing any previous entry of that name. Takes the exclusive lock.
 */
int store_tag_set(struct store *s, const char *ref, const char *digest, const char *media_type,
		  int64_t size, struct strata_error **err);

/* Removes the tag @ref; ENOENT when absent. Takes the exclusive lock. */
int store_tag_remove(struct store *s, const char *ref, struct strata_error **err);

/*
 * Points each of the @n @refs (valid references, normalised) at the manifest
 * @digest, replacing previous entries of those names and an unnamed entry
 * of @digest, in one rewrite of index.json. Takes the exclusive lock.
 */
int store_tags_set(struct store *s, char *const *refs, size_t n, const char *digest,
		   const char *media_type, int64_t size, struct strata_error **err);

/*
 * Removes, in one rewrite of index.json, the entries named by one of the
 * @n_refs @refs (already normalised; absent ones are skipped) and every
 * entry, named or not, whose digest is one of the @n_digests @digests.
 * Takes the exclusive lock.
 */
int store_tags_remove(struct store *s, char *const *refs, size_t n_refs, char *const *digests,
		      size_t n_digests, struct strata_error **err);

/*
 * Keeps the untagged image @digest reachable: an index.json entry without a
 * name (a dangling image, as podman keeps them), unless an entry of
 * @digest is there already. It goes with `rmi` of its ID or a tag of it.
 */
int store_image_keep(struct store *s, const char *digest, const char *media_type, int64_t size,
		     struct strata_error **err);

/* Reads index.json (caller holds a lock). */
json_t *store_index_load(struct store *s, struct strata_error **err);

/* Rewrites index.json atomically (caller holds the exclusive lock). */
int store_index_save(struct store *s, const json_t *index, struct strata_error **err);

/* One entry of index.json; its strings are borrowed from the scan holding it. */
struct store_index_entry {
	const char *digest;	/* NULL when missing or not a string */
	const char *media_type; /* likewise */
	const char *ref;	/* the org.opencontainers.image.ref.name annotation, or NULL */
	int64_t size;		/* 0 when missing or not an integer */
	size_t raw_start, raw_end; /* its bytes in the file (a scan of the file only) */
};

/* The entries of index.json in their order, as store_index_scan() read them. */
struct store_index_scan {
	struct store_index_entry *entries;
	size_t n;
	char *buf;   /* the file, its strings decoded in place */
	size_t len;
	size_t list_start, list_end; /* the bytes of the "manifests" array: after '[', at ']' */
	char *text;  /* the file as it was, for a rewrite (index.c only) */
	json_t *doc; /* or the jansson tree, when the scanner refused the file */
};

/*
 * Reads index.json's entries without building a JSON tree (caller holds a
 * lock): one pass over the file, where a tree of 10,000 entries costs tens
 * of thousands of allocations. A file the scanner refuses is parsed by
 * jansson again, so that the error (or its verdict) is jansson's. Release
 * with store_index_scan_release().
 */
int store_index_scan(struct store *s, struct store_index_scan *out, struct strata_error **err);

/* Frees what store_index_scan() filled in (a zeroed struct is fine). */
void store_index_scan_release(struct store_index_scan *sc);

/* ---- image.c: images as manifest + config ---- */

struct store_image {
	char manifest_digest[DIGEST_STR_LEN];
	char id[DIGEST_STR_LEN]; /* the config digest */
	int64_t manifest_size;
	struct store_manifest *manifest;
	json_t *config;	 /* the parsed config */
	char **tags;	 /* every name in index.json of this image ID, whatever its manifest */
	char **tag_digests; /* the index.json digest each of @tags points at (same order) */
	char **digests;	 /* every index.json digest whose image ID this is, in index order */
	char **diff_ids; /* config rootfs.diff_ids */
	size_t n_layers;
};

/*
 * Finds an image by reference ("busybox", "busybox:1", "name@sha256:..."),
 * by ID or manifest digest ("sha256:<hex>", or the bare 64 hex digits), or
 * by a prefix of at least 3 hex digits that one image ID (or one of its
 * manifest digests) starts with: several manifests of one config are one
 * image, not an ambiguity. An ID loads its first manifest in index.json; a
 * digest or name loads the manifest it names. Takes the shared lock. ENOENT
 * when none matches, EINVAL when a prefix names several images.
 */
int store_image_load(struct store *s, const char *spec, struct store_image **out,
		     struct strata_error **err);

/* Loads the image whose manifest is @digest. */
int store_image_load_manifest(struct store *s, const char *digest, struct store_image **out,
			      struct strata_error **err);

/* Frees @img; NULL is fine. */
void store_image_free(struct store_image *img);

/* What a listing shows of one image ID. */
struct store_image_info {
	char id[DIGEST_STR_LEN];	      /* the config digest */
	char manifest_digest[DIGEST_STR_LEN]; /* its first manifest in index.json */
	uint64_t size;			      /* config and layer blobs of that manifest */
	char *created;			      /* the config's "created", or NULL */
	char **tags;			      /* every name of the ID, in index order */
	char **tag_digests;		      /* the index.json digest each name points at */
	char **digests;			      /* every index.json digest of the ID */
};

/* Every image in index.json, one per image ID. Free with store_image_infos_free. */
int store_image_list(struct store *s, struct store_image_info **out, size_t *n,
		     struct strata_error **err);

/* Frees an array from store_image_list or store_catalog_list (one block, its strings inside). */
void store_image_infos_free(struct store_image_info *infos, size_t n);

/*
 * index.json read once, with maps from names, digests and image IDs to what
 * they name: a command that resolves or lists many images opens one and
 * pays O(1) per name. Reading takes the shared lock; the catalog is a
 * snapshot of that moment.
 */
struct store_catalog;

/*
 * Reads index.json, and what a listing needs of each manifest from
 * ROOT/image-summary, loading (and summarising) the manifests it lacks.
 */
int store_catalog_open(struct store *s, struct store_catalog **out, struct strata_error **err);

/* Frees @c; NULL is fine. */
void store_catalog_free(struct store_catalog *c);

enum store_catalog_flags {
	STORE_CATALOG_NO_CONFIG = 1 << 0, /* leave the config unread: config and diff_ids NULL */
	STORE_CATALOG_NO_NAMES = 1 << 1,  /* leave tags and tag_digests NULL (digests are set) */
	STORE_CATALOG_NO_BLOBS = 1 << 2,  /* read no blob: ID, manifest digest, names and
					     digests from the catalog; manifest and config NULL */
};

/* As store_image_load, within the catalog's snapshot; @flags from enum store_catalog_flags. */
int store_catalog_find(struct store_catalog *c, const char *spec, unsigned flags,
		       struct store_image **out, struct strata_error **err);

/* True when @name (normalised) is a name in the catalog. */
bool store_catalog_has_name(const struct store_catalog *c, const char *name);

/* How many names the image @id has in the catalog. */
size_t store_catalog_name_count(const struct store_catalog *c, const char *id);

/*
 * Every image of the catalog, one per image ID, in index order; images
 * whose manifest did not load were warned about and are left out. Free
 * with store_image_infos_free.
 */
void store_catalog_list(const struct store_catalog *c, struct store_image_info **out, size_t *n);

/* Chain IDs of the image's layers, bottom first; caller frees with strv_free. */
char **store_image_chain_ids(const struct store_image *img);

/* Sum of the sizes of config and layer blobs. */
uint64_t store_image_size(const struct store_image *img);

/*
 * What an image takes unpacked, as podman shows it: the config and each
 * layer's tar (its recorded uncompressed size; the blob's size where none
 * is recorded).
 */
uint64_t store_image_size_unpacked(struct store *s, const struct store_image *img);

/* ---- tarsize.c: the uncompressed size of layer blobs (ROOT/tar-sizes/) ---- */

/* Records that the layer blob @digest holds a tar of @size bytes; a failure only costs the hint. */
void store_blob_tar_size_put(struct store *s, const char *digest, uint64_t size);

/* The recorded tar size of the layer blob @digest; false when none is. */
bool store_blob_tar_size_get(struct store *s, const char *digest, uint64_t *size);

/* Drops the record of @digest (gc, with its blob). */
void store_blob_tar_size_remove(struct store *s, const char *digest);

/* The tar size of the layer @d: its blob's size when uncompressed, else the record, else the blob's. */
uint64_t store_layer_tar_size(struct store *s, const struct store_desc *d);

/*
 * Writes @config as a blob, then an OCI manifest naming it and the @n
 * @layers, and tags it @ref (when not NULL). Writes the image ID to @id and
 * the manifest digest to @manifest_digest (either may be NULL).
 */
int store_image_write(struct store *s, const json_t *config, const struct store_desc *layers,
		      size_t n, const char *ref, char id[DIGEST_STR_LEN],
		      char manifest_digest[DIGEST_STR_LEN], struct strata_error **err);

/* As store_image_write, the manifest carrying @annotations (a JSON object of strings; may be NULL). */
int store_image_write_annotated(struct store *s, const json_t *config,
				const struct store_desc *layers, size_t n,
				const json_t *annotations, const char *ref, char id[DIGEST_STR_LEN],
				char manifest_digest[DIGEST_STR_LEN], struct strata_error **err);

/* A fresh config: architecture/os of this machine, created now (or at @created >= 0), empty rootfs. */
json_t *store_config_new(int64_t created);

/* Appends a diffID to config.rootfs.diff_ids. */
void store_config_add_diff_id(json_t *config, const char *diff_id);

/* Appends a history entry (created_by, comment, author, empty_layer) to the config. */
void store_config_add_history(json_t *config, int64_t created, const char *created_by,
			      const char *comment, const char *author, bool empty_layer);

/*
 * Applies one Dockerfile-style change to config.config: CMD, ENTRYPOINT,
 * ENV, WORKDIR, USER, LABEL, EXPOSE, VOLUME or STOPSIGNAL (as `commit -c`).
 */
int store_config_apply_change(json_t *config, const char *change, struct strata_error **err);

/* Sets KEY=VALUE in the Env array of a config's "config" object @cc, replacing KEY. */
void store_config_set_env(json_t *cc, const char *key, const char *value);

/* The Go/OCI architecture name of this machine ("amd64", "arm64", ...). */
const char *store_arch(void);

/* ---- container.c: container records ---- */

#define STORE_ID_LEN 64

/*
 * Creates ROOT/containers/<id>/ and its container.json from @record (which
 * gains "Id", "Name" and "Created"), durably unless it says "Volatile". @name
 * may be NULL for a generated one; a name in use is EEXIST. Writes the
 * 64-hex ID to @id.
 */
int store_container_create(struct store *s, const char *name, json_t *record,
			   char id[STORE_ID_LEN + 1], struct strata_error **err);

/* Finds a container by full ID, unique ID prefix, or name. ENOENT when none. */
int store_container_find(struct store *s, const char *spec, char id[STORE_ID_LEN + 1],
			 struct strata_error **err);

/* Reads container.json of @id. */
json_t *store_container_load(struct store *s, const char *id, struct strata_error **err);

/*
 * Rewrites container.json of @id atomically (takes the exclusive lock);
 * durably, unless the record says "Volatile": true (a run --rm container).
 */
int store_container_save(struct store *s, const char *id, const json_t *record,
			 struct strata_error **err);

/* Removes the record and the directory of @id (caller has unmounted everything). */
int store_container_remove(struct store *s, const char *id, struct strata_error **err);

/* The IDs of every container; caller frees with strv_free. */
int store_container_list(struct store *s, char ***ids, struct strata_error **err);

/* Opens ROOT/containers/<id> as an O_DIRECTORY fd. */
int store_container_dirfd(struct store *s, const char *id, struct strata_error **err);

/* The absolute path of ROOT/containers/<id>. Caller frees. */
char *store_container_path(struct store *s, const char *id);

/* ---- volume.c: named volumes (ROOT/volumes/<name>/volume.json and _data/) ---- */

#define STORE_VOLUME_NAME_MAX 255
#define STORE_VOLUME_DATA "_data"

enum store_volume_flags {
	STORE_VOLUME_ANONYMOUS = 1 << 0, /* made for an image's VOLUME: rm -v and run --rm remove it */
	STORE_VOLUME_EXIST_OK = 1 << 1,	 /* one of that name already there is no error */
	STORE_VOLUME_NOCOPY = 1 << 2,	 /* never filled from an image (volume create -o nocopy) */
};

/* True for a valid volume name: [a-zA-Z0-9][a-zA-Z0-9_.-]*, as podman. */
bool store_volume_name_is_valid(const char *name);

/*
 * Creates volume @name (NULL: a random 64-hex name) with @labels (a JSON
 * object of strings, may be NULL), whole or not at all; EEXIST when it
 * exists (unless STORE_VOLUME_EXIST_OK). Sets *created (may be NULL) to its name.
 */
int store_volume_create(struct store *s, const char *name, const json_t *labels, unsigned flags,
			char **created, struct strata_error **err);

/*
 * store_volume_create with podman's driver @options (a JSON object of
 * strings: type, device, o, UID, GID; may be NULL), kept in its record; a
 * "UID" or "GID" gives the data dir to that owner now.
 */
int store_volume_create_with(struct store *s, const char *name, const json_t *labels,
			     const json_t *options, unsigned flags, char **created,
			     struct strata_error **err);

/* Opens ROOT/volumes/<name> itself (O_DIRECTORY): what a volume's users flock. */
int store_volume_dir_open(struct store *s, const char *name, struct strata_error **err);

/* The volume's record as `volume inspect` shows it (podman's keys); ENOENT when there is none. */
json_t *store_volume_load(struct store *s, const char *name, struct strata_error **err);

/* The names of every volume, sorted; caller frees with strv_free. */
int store_volume_list(struct store *s, char ***names, struct strata_error **err);

/* The IDs of the containers whose records list volume @name ("Volumes"); caller frees. */
int store_volume_users(struct store *s, const char *name, char ***ids, struct strata_error **err);

/* Removes volume @name and its data; EBUSY (naming them) while containers use it. */
int store_volume_remove(struct store *s, const char *name, struct strata_error **err);

/*
 * A container started on the volume: drops its "NeedsChown", and its
 * "NeedsCopyUp" when @copied (the image had content there, as podman says).
 */
int store_volume_copied(struct store *s, const char *name, bool copied,
			struct strata_error **err);

/*
 * Exchanges the volume's _data dir with ROOT/tmp/@staged (a dir of
 * store_tmp_mkdir, filled), atomically, then removes the old one.
 */
int store_volume_data_replace(struct store *s, const char *name, const char *staged,
			      struct strata_error **err);

/* Opens the volume's _data dir (never through a symlink); an O_DIRECTORY fd. */
int store_volume_data_open(struct store *s, const char *name, struct strata_error **err);

/* The absolute path of the volume's _data dir (its Mountpoint). Caller frees. */
char *store_volume_path(struct store *s, const char *name);

/* The bytes of the regular files and symlinks in the volume (symlinks never followed). */
int store_volume_size(struct store *s, const char *name, uint64_t *bytes,
		      struct strata_error **err);

/* True when the directory @datafd holds nothing. */
bool store_volume_is_empty(int datafd);

/* ---- layer.c: layer directories (ROOT/layers/<backend>/<chain-hex>/) ---- */

/*
 * The dirs themselves are made by layers/ (stage, fill, record, publish);
 * the store names them, moves them in and out, and walks them.
 */

/*
 * Opens ROOT/layers/@backend, or its entry @sub when not NULL (a backend's
 * own dirs: "mnt", "l", "empty"), creating what is missing when @create.
 * Returns an O_DIRECTORY fd (caller closes).
 */
int store_layers_open(struct store *s, const char *backend, const char *sub, bool create,
		      struct strata_error **err);

/* The absolute path of ROOT/layers/@backend/@sub. Caller frees. */
char *store_layers_path(struct store *s, const char *backend, const char *sub);

/*
 * Renames the staged dir ROOT/tmp/@name to the layer dir of @chain_id. Fails
 * with EEXIST (ENOTEMPTY mapped) when a dir is there already; the staged dir
 * is then left to the caller.
 */
int store_layer_publish(struct store *s, const char *backend, const char *chain_id,
			const char *name, struct strata_error **err);

/*
 * Moves the layer dir of @chain_id out of the way, atomically, into
 * ROOT/tmp (*trash gets its name there, caller frees; NULL when there was
 * none). The caller removes it with store_tmp_remove() (or gc does).
 */
int store_layer_move_aside(struct store *s, const char *backend, const char *chain_id,
			   char **trash, struct strata_error **err);

/* One layer dir met by store_layer_walk(). */
struct store_layer_entry {
	const char *backend; /* "overlay", "aufs", "vfs" */
	const char *hex;     /* the chain ID's hex: the dir's name */
	int backend_fd;	     /* ROOT/layers/<backend>, for *at() calls on @hex */
};

/*
 * Calls @fn for each chain-ID dir under ROOT/layers/<backend>/, every
 * backend; other names (a backend's "mnt", "l", "empty") are skipped and
 * nothing is followed through a symlink. @fn returning -1 stops the walk.
 */
int store_layer_walk(struct store *s,
		     int (*fn)(const struct store_layer_entry *e, void *arg,
			       struct strata_error **err),
		     void *arg, struct strata_error **err);

/* The absolute path of a layer dir (which may not exist). Caller frees. */
char *store_layer_path(struct store *s, const char *backend, const char *chain_id);

/* True when the layer dir exists with its layer.json. */
bool store_layer_exists(struct store *s, const char *backend, const char *chain_id);

/* Reads layer.json of a layer dir. */
json_t *store_layer_record(struct store *s, const char *backend, const char *chain_id,
			   struct strata_error **err);

/* ---- cache.c: build cache entries ---- */

/* Writes ROOT/cache/<key-hex>.json; @entry must hold "Blobs": [digests it keeps alive]. */
int store_cache_put(struct store *s, const char *key, const json_t *entry,
		    struct strata_error **err);

/* Reads a cache entry; NULL with ENOENT when absent. */
json_t *store_cache_get(struct store *s, const char *key, struct strata_error **err);

struct store_cache_prune_opts {
	bool all;	   /* every entry, not only those whose image no tag or container uses */
	int64_t until_age; /* only entries written at least this many seconds ago; -1: any */
};

/*
 * Removes build cache entries (@o says which), calling @report with each
 * removed key; *removed gets their number. What they kept alive goes at
 * the next gc. Takes the exclusive lock.
 */
int store_cache_prune(struct store *s, const struct store_cache_prune_opts *o,
		      void (*report)(const char *key, void *arg), void *arg, uint64_t *removed,
		      struct strata_error **err);

/*
 * What the build cache holds: its entries and the bytes of the blobs they
 * list (each blob once); "unused" is what `builder prune` would remove:
 * the entries whose image no tag or container uses, and the blobs only
 * they list.
 */
struct store_cache_usage {
	uint64_t entries, bytes;
	uint64_t unused_entries, unused_bytes;
};

/* Fills @out (shared lock). */
int store_cache_usage(struct store *s, struct store_cache_usage *out, struct strata_error **err);

/* ---- cachedir.c: the directories of RUN --mount=type=cache (ROOT/buildcache/) ---- */

enum store_cachedir_sharing {
	STORE_CACHEDIR_SHARED,	/* any number of users */
	STORE_CACHEDIR_PRIVATE, /* a user finding it busy gets another instance */
	STORE_CACHEDIR_LOCKED,	/* one user at a time; the next waits */
};

struct store_cachedir {
	char *path;	/* the directory to mount */
	int lock_fd;	/* its flock, held until store_cachedir_close */
	bool is_new;	/* made now and empty: the caller seeds it, then store_cachedir_ready */
	bool is_shared; /* opened STORE_CACHEDIR_SHARED */
};

/*
 * Opens (making it when missing) the cache dir of @id for a step, locked
 * as @sharing says across processes (LOCKED waits for the holder). A new
 * dir is held exclusively until store_cachedir_ready. Close with
 * store_cachedir_close.
 */
int store_cachedir_open(struct store *s, const char *id, enum store_cachedir_sharing sharing,
			struct store_cachedir *out, struct strata_error **err);

/* After seeding a new dir: a SHARED user holds its lock shared again, letting the others in. */
int store_cachedir_ready(struct store_cachedir *c, struct strata_error **err);

/* Releases the lock and frees @c's path. */
void store_cachedir_close(struct store_cachedir *c);

/*
 * Removes every cache dir no step uses, last used at least @until_age
 * seconds ago (-1: any), calling @report with each one's id; *removed
 * gets their number.
 */
int store_cachedir_prune(struct store *s, int64_t until_age,
			 void (*report)(const char *id, void *arg), void *arg, uint64_t *removed,
			 struct strata_error **err);

/* ---- gc.c and fsck.c ---- */

struct store_gc_stats {
	uint64_t blobs;
	uint64_t blob_bytes;
	uint64_t layers;
	uint64_t tmp;
	uint64_t idmap_copies; /* id-mapped layer copies no container uses */
};

/*
 * Removes blobs and layer dirs that no tag, container or cache entry
 * reaches, and leftovers in tmp/. Calls @report (if not NULL) with each
 * removed item ("blob sha256:...", "layer overlay/sha256:...").
 */
int store_gc(struct store *s, void (*report)(const char *what, void *arg), void *arg,
	     struct store_gc_stats *stats, struct strata_error **err);

/*
 * Re-hashes every blob and checks every tag and record. Calls @report for
 * each problem. With @repair, moves corrupt blobs to ROOT/corrupt/ and
 * drops dangling records. Sets *problems and *repaired.
 */
int store_fsck(struct store *s, bool repair, void (*report)(const char *problem, void *arg),
	       void *arg, unsigned *problems, unsigned *repaired, struct strata_error **err);


/* ---- idmap.c: layer copies for containers with an id map of their own ---- */

/*
 * Takes ROOT/idmap.lock (shared while copies are made or mounted,
 * @exclusive while unused ones are removed); returns its fd, closed to release.
 */
int store_idmap_lock(struct store *s, bool exclusive, struct strata_error **err);

/* ROOT/idmap/<key>/<backend>/<hex>: the copy of that layer dir for map @key. Caller frees. */
char *store_idmap_path(struct store *s, const char *key, const char *backend, const char *hex);

/*
 * Moves the copy staged at tmp/@staged into place for map @key (@map, its
 * record, written first as <key>/map.json); one made meanwhile by another
 * process wins and ours is removed.
 */
int store_idmap_publish(struct store *s, const char *key, const json_t *map, const char *backend,
			const char *hex, const char *staged, struct strata_error **err);

/*
 * Removes the copies no container uses (a container's record "IdMap"."Key"
 * and its image's chains say which it uses), each reported; *removed (may
 * be NULL) counts them.
 */
int store_idmap_prune(struct store *s, void (*report)(const char *what, void *arg), void *arg,
		      size_t *removed, struct strata_error **err);

/* fsck of ROOT/idmap: names that are not keys or chain IDs, keys without map.json; @repair removes. */
int store_idmap_check(struct store *s, bool repair, void (*report)(const char *what, void *arg),
		      void *arg, size_t *problems, struct strata_error **err);

#endif
