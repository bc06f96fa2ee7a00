/*
 * Image archives: save images of the store as an OCI layout directory, an
 * OCI layout in a tar, or a `docker save` tar; load any of the three back.
 *
 * Loading verifies everything: OCI blobs are stored through the blob writer
 * with the digest their name claims; docker-archive configs are named by
 * their digest and their layers must hash to the config's diffIDs. Tags are
 * set only once every image of the archive is complete, so a truncated or
 * lying archive leaves at most unreferenced (verified) blobs, which gc
 * removes. A tar is read twice: once for its small JSON documents, once for
 * its blobs, so the order of its entries does not matter.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layers/layers-int.h"

#define CHUNK (1u << 20)
#define ANNOTATION_CONTAINERD_NAME "io.containerd.image.name"

int layers_archive_format_parse(const char *s, enum layers_archive_format *out)
{
	if (strcmp(s, "oci-dir") == 0)
		*out = LAYERS_ARCHIVE_OCI_DIR;
	else if (strcmp(s, "oci-archive") == 0)
		*out = LAYERS_ARCHIVE_OCI_ARCHIVE;
	else if (strcmp(s, "docker-archive") == 0)
		*out = LAYERS_ARCHIVE_DOCKER_ARCHIVE;
	else
		return -1;
	return 0;
}

/* ---- save: an output that is a directory or a tar ---- */

struct out {
	int dirfd;	   /* oci-dir: the layout directory; else -1 */
	struct archive *a; /* tar formats */
	struct pathset seen;
	int64_t mtime;
	char *buf;
};

static int out_fail_archive(struct out *o, const char *name, struct strata_error **err)
{
	return strata_fail_msg(err, EIO, "write '%s': %s", name, archive_error_string(o->a));
}

static int out_header(struct out *o, const char *name, mode_t type, uint64_t size,
		      struct strata_error **err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : (la_int64_t)size);
	archive_entry_set_mtime(e, o->mtime, 0);
	r = archive_write_header(o->a, e);
	archive_entry_free(e);
	if (r != ARCHIVE_OK)
		return out_fail_archive(o, name, err);
	return 0;
}

/* Adds the directory @name (ending without '/'). */
static int out_add_dir(struct out *o, const char *name, struct strata_error **err)
{
	if (o->a) {
		cleanup_free char *n = xasprintf("%s/", name);

		return out_header(o, n, AE_IFDIR, 0, err);
	}
	if (mkdirat(o->dirfd, name, 0755) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "create '%s'", name);
	return 0;
}

static int out_add_buf(struct out *o, const char *name, const void *buf, size_t n,
		       struct strata_error **err)
{
	if (o->a) {
		if (out_header(o, name, AE_IFREG, n, err) < 0)
			return -1;
		if (n && archive_write_data(o->a, buf, n) != (la_ssize_t)n)
			return out_fail_archive(o, name, err);
		return 0;
	}
	return file_write_atomic_at(o->dirfd, name, buf, n, 0644, err);
}

/* Adds @size bytes read from @fd (at its current offset) as the file @name. */
static int out_add_fd(struct out *o, const char *name, int fd, uint64_t size,
		      struct strata_error **err)
{
	uint64_t left = size;

	if (!o->a) {
		cleanup_close int ofd =
			openat(o->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

		if (ofd < 0)
			return strata_fail(err, errno, "create '%s'", name);
		if (file_copy_fd(fd, ofd, err) < 0)
			return strata_wrap(err, "write '%s'", name);
		return 0;
	}
	if (out_header(o, name, AE_IFREG, size, err) < 0)
		return -1;
	while (left > 0) {
		ssize_t n = read(fd, o->buf, left < CHUNK ? left : CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return strata_fail(err, errno, "read for '%s'", name);
		if (n == 0)
			return strata_fail_msg(err, EIO, "read for '%s': the source shrank", name);
		if (archive_write_data(o->a, o->buf, (size_t)n) != n)
			return out_fail_archive(o, name, err);
		left -= (uint64_t)n;
	}
	return 0;
}

/* Adds the store blob @digest as blobs/sha256/<hex> once. */
static int out_add_blob(struct out *o, struct store *s, const char *digest,
			struct strata_error **err)
{
	cleanup_free char *name = xasprintf("blobs/sha256/%s", digest_hex(digest));
	cleanup_close int fd = -1;
	uint64_t size;

	if (layers_pathset_has(&o->seen, name))
		return 0;
	layers_pathset_add(&o->seen, name);
	if (store_blob_size(s, digest, &size, err) < 0)
		return -1;
	fd = store_blob_open(s, digest, err);
	if (fd < 0)
		return -1;
	return out_add_fd(o, name, fd, size, err);
}

static json_t *index_entry(const struct store_image *img, const char *ref)
{
	json_t *e = store_desc_json(img->manifest->media_type, img->manifest_digest,
				    img->manifest_size);

	if (ref)
		json_object_set_new(e, "annotations",
				    json_pack("{s:s}", ANNOTATION_REF_NAME, ref));
	return e;
}

static int save_oci(struct store *s, struct out *o, const struct layers_save_item *items,
		    size_t n, struct strata_error **err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	cleanup_json json_t *index = json_object();
	cleanup_free char *ibuf = NULL;
	json_t *arr = json_array();
	size_t ilen;

	json_object_set_new(index, "schemaVersion", json_integer(2));
	jv_set_str(index, "mediaType", MEDIA_OCI_INDEX);
	json_object_set_new(index, "manifests", arr);
	for (size_t i = 0; i < n; i++) {
		if (!items[i].refs || !items[i].refs[0])
			json_array_append_new(arr, index_entry(items[i].img, NULL));
		for (size_t k = 0; items[i].refs && items[i].refs[k]; k++)
			json_array_append_new(arr, index_entry(items[i].img, items[i].refs[k]));
	}
	ibuf = jv_dump(index, &ilen);
	if (out_add_buf(o, "oci-layout", layout, sizeof(layout) - 1, err) < 0 ||
	    out_add_buf(o, "index.json", ibuf, ilen, err) < 0 || out_add_dir(o, "blobs", err) < 0 ||
	    out_add_dir(o, "blobs/sha256", err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		const struct store_manifest *m = items[i].img->manifest;

		if (out_add_blob(o, s, items[i].img->manifest_digest, err) < 0 ||
		    out_add_blob(o, s, m->config.digest, err) < 0)
			return -1;
		for (size_t l = 0; l < m->n_layers; l++)
			if (out_add_blob(o, s, m->layers[l].digest, err) < 0)
				return -1;
	}
	return 0;
}

/*
 * Decompresses the layer blob @l into a staging file and checks its diffID
 * against @diff_id. Returns the fd at offset 0 and its size.
 */
static int uncompressed_layer(struct store *s, const struct store_desc *l, const char *diff_id,
			      char *buf, uint64_t *size, struct strata_error **err)
{
	struct layers_source *src = NULL;
	struct digester *dg = NULL;
	char got[DIGEST_STR_LEN];
	cleanup_close int bfd = store_blob_open(s, l->digest, err);
	int tfd = -1;
	ssize_t n;

	if (bfd < 0)
		return -1;
	if ((tfd = store_tmp_file(s, err)) < 0 || layers_source_open(bfd, &src, err) < 0)
		goto fail;
	dg = digester_new();
	*size = 0;
	while ((n = layers_source_read(src, buf, CHUNK, err)) > 0) {
		digester_update(dg, buf, (size_t)n);
		if (file_write_all(tfd, buf, (size_t)n, err) < 0)
			goto fail;
		*size += (uint64_t)n;
	}
	if (n < 0)
		goto fail;
	digester_final(dg, got);
	digester_free(dg);
	dg = NULL;
	layers_source_free(src);
	src = NULL;
	if (diff_id && strcmp(got, diff_id)) {
		strata_fail_msg(err, EINVAL, "layer %.19s has diffID %s, its config says %s",
				l->digest, got, diff_id);
		goto fail;
	}
	if (lseek(tfd, 0, SEEK_SET) < 0) {
		strata_fail(err, errno, "rewind a staging file");
		goto fail;
	}
	return tfd;
fail:
	digester_free(dg);
	layers_source_free(src);
	if (tfd >= 0)
		close(tfd);
	return strata_wrap(err, "layer %.19s", l->digest);
}

static int save_docker(struct store *s, struct out *o, const struct layers_save_item *items,
		       size_t n, struct strata_error **err)
{
	cleanup_json json_t *manifest = json_array();
	cleanup_json json_t *repos = json_object();
	cleanup_free char *mbuf = NULL;
	cleanup_free char *rbuf = NULL;
	size_t mlen, rlen;

	for (size_t i = 0; i < n; i++) {
		const struct store_image *img = items[i].img;
		const struct store_manifest *m = img->manifest;
		cleanup_free char *cfgname = xasprintf("%s.json", digest_hex(m->config.digest));
		json_t *entry = json_object(), *layers = json_array(), *tags = json_array();
		const char *top = NULL;

		json_object_set_new(entry, "Config", json_string(cfgname));
		json_object_set_new(entry, "RepoTags", tags);
		json_object_set_new(entry, "Layers", layers);
		json_array_append_new(manifest, entry);
		if (m->n_layers != img->n_layers)
			return strata_fail_msg(err, EINVAL,
					       "image %.19s: %zu layers but %zu diffIDs", img->id,
					       m->n_layers, img->n_layers);
		if (!layers_pathset_has(&o->seen, cfgname)) {
			cleanup_free char *cfg = NULL;
			size_t clen;

			layers_pathset_add(&o->seen, cfgname);
			if (store_blob_read(s, m->config.digest, STORE_JSON_MAX, &cfg, &clen, err) < 0 ||
			    out_add_buf(o, cfgname, cfg, clen, err) < 0)
				return -1;
		}
		for (size_t l = 0; l < m->n_layers; l++) {
			cleanup_free char *name = xasprintf("%s.tar", digest_hex(img->diff_ids[l]));
			uint64_t size = 0;
			int fd, r;

			json_array_append_new(layers, json_string(name));
			top = img->diff_ids[l];
			if (layers_pathset_has(&o->seen, name))
				continue;
			layers_pathset_add(&o->seen, name);
			fd = uncompressed_layer(s, &m->layers[l], img->diff_ids[l], o->buf, &size, err);
			if (fd < 0)
				return -1;
			r = out_add_fd(o, name, fd, size, err);
			close(fd);
			if (r < 0)
				return -1;
		}
		for (size_t k = 0; items[i].refs && items[i].refs[k]; k++) {
			struct store_ref r;
			cleanup_free char *name = NULL;
			json_t *repo;

			json_array_append_new(tags, json_string(items[i].refs[k]));
			if (!top || store_ref_parse(items[i].refs[k], &r, NULL) < 0)
				continue;
			name = store_ref_name(&r);
			if (r.tag) {
				repo = json_object_get(repos, name);
				if (!repo) {
					repo = json_object();
					json_object_set_new(repos, name, repo);
				}
				jv_set_str(repo, r.tag, digest_hex(top));
			}
			store_ref_release(&r);
		}
	}
	mbuf = jv_dump(manifest, &mlen);
	rbuf = jv_dump(repos, &rlen);
	if (out_add_buf(o, "manifest.json", mbuf, mlen, err) < 0 ||
	    out_add_buf(o, "repositories", rbuf, rlen, err) < 0)
		return -1;
	return 0;
}

int layers_save(struct store *s, const struct layers_save_item *items, size_t n,
		enum layers_archive_format f, const char *path, struct strata_error **err)
{
	struct out o = { .dirfd = -1 };
	bool created = false;
	int r = -1;

	o.mtime = time_source_date_epoch();
	if (o.mtime < 0)
		o.mtime = 0;
	o.buf = xmalloc(CHUNK);
	if (f == LAYERS_ARCHIVE_OCI_DIR) {
		if (mkdir(path, 0755) == 0) {
			created = true;
		} else if (errno != EEXIST) {
			strata_fail(err, errno, "create '%s'", path);
			goto out;
		}
		o.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (o.dirfd < 0) {
			strata_fail(err, errno, "open '%s'", path);
			goto out;
		}
		if (!created && faccessat(o.dirfd, "index.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			strata_fail_msg(err, EEXIST, "'%s' already holds an OCI layout", path);
			goto out;
		}
	} else {
		if (layers_libarchive_load(err) < 0)
			goto out;
		o.a = archive_write_new();
		if (!o.a)
			abort();
		archive_write_set_format_pax_restricted(o.a);
		archive_write_add_filter_none(o.a);
		/* no padding of the last record: the same bytes to a file or to stdout */
		archive_write_set_bytes_in_last_block(o.a, 1);
		/* "-": the tar goes to stdout, which is never removed on failure */
		if ((strcmp(path, "-") ? archive_write_open_filename(o.a, path)
				       : archive_write_open_fd(o.a, 1)) != ARCHIVE_OK) {
			strata_fail_msg(err, EIO, "create '%s': %s", path, archive_error_string(o.a));
			goto out;
		}
		created = strcmp(path, "-") != 0;
	}
	if (f == LAYERS_ARCHIVE_DOCKER_ARCHIVE)
		r = save_docker(s, &o, items, n, err);
	else
		r = save_oci(s, &o, items, n, err);
	if (r == 0 && o.a && archive_write_close(o.a) != ARCHIVE_OK)
		r = strata_fail_msg(err, EIO, "write '%s': %s", path, archive_error_string(o.a));
	if (r == 0 && o.dirfd >= 0)
		r = file_fsync_dir(o.dirfd, err);
out:
	if (o.a)
		archive_write_free(o.a);
	if (o.dirfd >= 0)
		close(o.dirfd);
	if (r < 0 && created) {
		if (f == LAYERS_ARCHIVE_OCI_DIR)
			path_rm_rf_at(AT_FDCWD, path, NULL);
		else
			unlink(path);
	}
	layers_pathset_free(&o.seen);
	free(o.buf);
	return r < 0 ? strata_wrap(err, "save '%s'", path) : 0;
}

/* ---- load ---- */

struct load {
	struct store *s;
	const char *path;
	int dirfd;	    /* an OCI layout directory; else -1 */
	char *index;	    /* index.json */
	size_t index_len;
	char *manifest;	    /* manifest.json (docker) */
	size_t manifest_len;
	bool oci_layout;
	/* docker-archive: the entries named by manifest.json and what they became */
	json_t *docker;	    /* the parsed manifest.json */
	json_t *found;	    /* entry name -> {"digest", "diff_id", "size", "media_type"} */
	char *buf;
	char ***loaded;
	size_t pending_cap; /* room in the array of struct pending being filled */
};

/* "./a/b" and "a/b" are the same entry. */
static const char *entry_name(const char *n)
{
	while (n[0] == '.' && n[1] == '/')
		n += 2;
	return n;
}

static struct archive *load_open(struct load *ld, struct strata_error **err)
{
	struct archive *a;

	if (layers_libarchive_load(err) < 0)
		return NULL;
	a = archive_read_new();
	if (!a)
		abort();
	archive_read_support_format_tar(a);
	archive_read_support_format_gnutar(a);
	archive_read_support_filter_all(a);
	if (archive_read_open_filename(a, ld->path, CHUNK) != ARCHIVE_OK) {
		strata_fail_msg(err, EINVAL, "not an image archive: %s", archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

static int read_entry_small(struct archive *a, struct archive_entry *e, char **out, size_t *len,
			    struct strata_error **err)
{
	la_int64_t size = archive_entry_size(e);
	struct sbuf b = SBUF_INIT;
	char tmp[65536];
	la_ssize_t n;

	if (size < 0 || (uint64_t)size > STORE_JSON_MAX)
		return strata_fail_msg(err, EFBIG, "'%s' is too large",
				       archive_entry_pathname(e));
	while ((n = archive_read_data(a, tmp, sizeof(tmp))) > 0)
		sbuf_add(&b, tmp, (size_t)n);
	if (n < 0) {
		sbuf_release(&b);
		return strata_fail_msg(err, EIO, "'%s': %s", archive_entry_pathname(e),
				       archive_error_string(a));
	}
	free(*out);
	*out = sbuf_detach(&b, len);
	return 0;
}

/* Pass 1: the small documents that say what the archive is. */
static int load_scan(struct load *ld, struct strata_error **err)
{
	struct archive *a = load_open(ld, err);
	struct archive_entry *e;
	int r;

	if (!a)
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = entry_name(archive_entry_pathname(e));

		if (strcmp(name, "oci-layout") == 0)
			ld->oci_layout = true;
		else if (strcmp(name, "index.json") == 0)
			r = read_entry_small(a, e, &ld->index, &ld->index_len, err);
		else if (strcmp(name, "manifest.json") == 0)
			r = read_entry_small(a, e, &ld->manifest, &ld->manifest_len, err);
		else
			r = archive_read_data_skip(a) < ARCHIVE_WARN ? -2 : 0;
		if (r == -1)
			goto fail;
		if (r == -2)
			break;
	}
	if (r != ARCHIVE_EOF) {
		strata_fail_msg(err, EINVAL, "not a valid tar archive: %s",
				archive_error_string(a) ? archive_error_string(a) : "unknown format");
		goto fail;
	}
	archive_read_free(a);
	return 0;
fail:
	archive_read_free(a);
	return -1;
}

/* Streams the current entry into a blob, verified against @expected (may be NULL). */
static int entry_to_blob(struct load *ld, struct archive *a, struct archive_entry *e,
			 const char *expected, char out[DIGEST_STR_LEN], uint64_t *size,
			 struct strata_error **err)
{
	struct store_blob_writer *w;
	la_ssize_t n;

	if (store_blob_writer_new(ld->s, &w, err) < 0)
		return -1;
	while ((n = archive_read_data(a, ld->buf, CHUNK)) > 0) {
		if (store_blob_writer_write(w, ld->buf, (size_t)n, err) < 0) {
			store_blob_writer_abort(w);
			return -1;
		}
	}
	if (n < 0) {
		store_blob_writer_abort(w);
		return strata_fail_msg(err, EIO, "'%s': %s", archive_entry_pathname(e),
				       archive_error_string(a));
	}
	if (store_blob_writer_commit(w, expected, out, size, err) < 0)
		return strata_wrap(err, "'%s'", archive_entry_pathname(e));
	return 0;
}

/* The hex of "blobs/sha256/<hex>", or NULL. */
static const char *blob_name_hex(const char *name)
{
	const char *h;
	cleanup_free char *d = NULL;

	if (!str_has_prefix(name, "blobs/sha256/"))
		return NULL;
	h = name + strlen("blobs/sha256/");
	d = xasprintf("sha256:%s", h);
	return digest_is_valid(d) ? h : NULL;
}

/* A docker-archive layer entry: staged, then imported (any compression, checked as a tar). */
static int entry_to_layer(struct load *ld, struct archive *a, struct archive_entry *e,
			  struct layers_blob *out, struct strata_error **err)
{
	cleanup_close int fd = store_tmp_file(ld->s, err);
	la_ssize_t n;

	if (fd < 0)
		return -1;
	while ((n = archive_read_data(a, ld->buf, CHUNK)) > 0)
		if (file_write_all(fd, ld->buf, (size_t)n, err) < 0)
			return -1;
	if (n < 0)
		return strata_fail_msg(err, EIO, "'%s': %s", archive_entry_pathname(e),
				       archive_error_string(a));
	if (lseek(fd, 0, SEEK_SET) < 0)
		return strata_fail(err, errno, "rewind a staging file");
	if (layers_import_tar(ld->s, fd, LAYERS_COMPRESSION_GZIP, 0, out, err) < 0)
		return strata_wrap(err, "layer '%s'", archive_entry_pathname(e));
	return 0;
}

/* What role manifest.json gives the entry @name: 1 config, 2 layer, 0 none. */
static int docker_role(struct load *ld, const char *name)
{
	size_t i, k;
	json_t *m, *l;

	json_array_foreach(ld->docker, i, m) {
		const char *c = jv_str(m, "Config");

		if (c && strcmp(entry_name(c), name) == 0)
			return 1;
		json_array_foreach(json_object_get(m, "Layers"), k, l)
			if (json_is_string(l) && strcmp(entry_name(json_string_value(l)), name) == 0)
				return 2;
	}
	return 0;
}

/* Pass 2: every blob into the store, verified. */
static int load_blobs(struct load *ld, struct strata_error **err)
{
	struct archive *a = load_open(ld, err);
	struct archive_entry *e;
	int r;

	if (!a)
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = entry_name(archive_entry_pathname(e));
		const char *hex = blob_name_hex(name);
		char digest[DIGEST_STR_LEN];
		uint64_t size;
		int role;

		if (archive_entry_filetype(e) != AE_IFREG) {
			r = 0;
		} else if (!ld->docker) {
			cleanup_free char *want = hex ? xasprintf("sha256:%s", hex) : NULL;

			r = want ? entry_to_blob(ld, a, e, want, digest, &size, err) : 0;
		} else if ((role = docker_role(ld, name)) == 1) {
			/* A config named <hex>.json (or a blob path) is verified against its name. */
			cleanup_free char *stem = xstrdup(hex ? hex : name);
			cleanup_free char *want = NULL;

			if (str_has_suffix(stem, ".json"))
				stem[strlen(stem) - 5] = '\0';
			want = xasprintf("sha256:%s", stem);
			r = entry_to_blob(ld, a, e, digest_is_valid(want) ? want : NULL, digest,
					  &size, err);
			if (r == 0)
				json_object_set_new(ld->found, name,
						    json_pack("{s:s, s:I}", "digest", digest, "size",
							      (json_int_t)size));
		} else if (role == 2) {
			struct layers_blob b;

			r = entry_to_layer(ld, a, e, &b, err);
			if (r == 0)
				json_object_set_new(ld->found, name,
						    json_pack("{s:s, s:s, s:I, s:s}", "digest", b.digest,
							      "diff_id", b.diff_id, "size",
							      (json_int_t)b.size, "media_type",
							      b.media_type));
		} else {
			r = 0;
		}
		if (r < 0) {
			archive_read_free(a);
			return -1;
		}
	}
	if (r != ARCHIVE_EOF) {
		strata_fail_msg(err, EINVAL, "not a valid tar archive: %s",
				archive_error_string(a) ? archive_error_string(a) : "unknown format");
		archive_read_free(a);
		return -1;
	}
	archive_read_free(a);
	return 0;
}

/* Makes sure blob @digest is in the store: from the layout directory, or already loaded. */
static int need_blob(struct load *ld, const char *digest, struct strata_error **err)
{
	cleanup_free char *name = NULL;
	cleanup_close int fd = -1;
	char got[DIGEST_STR_LEN];

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "invalid digest '%s'", digest);
	if (ld->dirfd < 0) {
		if (!store_blob_exists(ld->s, digest))
			return strata_fail_msg(err, ENOENT, "the archive lacks blob %s", digest);
		return 0;
	}
	name = xasprintf("blobs/sha256/%s", digest_hex(digest));
	fd = openat(ld->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "the layout lacks blob %s", digest);
	if (store_blob_put_fd(ld->s, fd, digest, got, NULL, err) < 0)
		return strata_wrap(err, "blob %.19s", digest);
	return 0;
}

static bool valid_ref(const char *ref)
{
	struct store_ref sr;

	if (store_ref_parse(ref, &sr, NULL) < 0)
		return false;
	store_ref_release(&sr);
	return true;
}

struct pending {
	char *ref; /* may be NULL */
	char digest[DIGEST_STR_LEN];
	char *media_type;
	int64_t size;
	char id[DIGEST_STR_LEN];
};

static void pending_add(struct load *ld, struct pending **p, size_t *n, const char *ref,
			const char *digest, const char *media_type, int64_t size, const char *id)
{
	*p = xgrow(*p, &ld->pending_cap, *n, sizeof(**p));
	(*p)[*n].ref = xstrdup(ref);
	memcpy((*p)[*n].digest, digest, DIGEST_STR_LEN);
	(*p)[*n].media_type = xstrdup(media_type);
	(*p)[*n].size = size;
	memcpy((*p)[*n].id, id, DIGEST_STR_LEN);
	(*n)++;
}

/* Loads the image manifest @d (and all it names): the config digest goes to @id. */
/*
 * Records the tar size of the compressed layer @l (read through once), so
 * that listings show the image's size unpacked, as podman does.
 */
static int record_tar_size(struct load *ld, const struct store_desc *l, struct strata_error **err)
{
	struct layers_source *src = NULL;
	uint64_t n;
	ssize_t r;
	int fd;

	if (store_layer_tar_size(ld->s, l) != (uint64_t)l->size ||
	    store_blob_tar_size_get(ld->s, l->digest, &n))
		return 0; /* a plain tar, or known */
	if ((fd = store_blob_open(ld->s, l->digest, err)) < 0)
		return -1;
	if (layers_source_open(fd, &src, err) < 0) {
		close(fd);
		return -1;
	}
	while ((r = layers_source_read(src, ld->buf, CHUNK, err)) > 0)
		;
	if (r == 0 && strcmp(layers_source_compression(src), "none"))
		store_blob_tar_size_put(ld->s, l->digest, layers_source_bytes(src));
	layers_source_free(src);
	close(fd);
	return r < 0 ? strata_wrap(err, "layer %.19s", l->digest) : 0;
}

static int load_oci_manifest(struct load *ld, const struct store_desc *d, char id[DIGEST_STR_LEN],
			     struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	struct store_manifest *m = NULL;
	size_t len;

	if (need_blob(ld, d->digest, err) < 0 ||
	    store_blob_read(ld->s, d->digest, STORE_JSON_MAX, &buf, &len, err) < 0 ||
	    store_manifest_parse(buf, len, &m, err) < 0)
		return strata_wrap(err, "manifest %.19s", d->digest);
	if (need_blob(ld, m->config.digest, err) < 0)
		goto fail;
	for (size_t i = 0; i < m->n_layers; i++)
		if (need_blob(ld, m->layers[i].digest, err) < 0 ||
		    record_tar_size(ld, &m->layers[i], err) < 0)
			goto fail;
	memcpy(id, m->config.digest, DIGEST_STR_LEN);
	store_manifest_free(m);
	return 0;
fail:
	store_manifest_free(m);
	return strata_wrap(err, "manifest %.19s", d->digest);
}

/* Picks this machine's manifest from an index (else the first). */
static int pick_from_index(struct load *ld, const struct store_desc *d, struct store_desc *out,
			   struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	struct store_index *idx = NULL;
	const struct store_desc *pick = NULL;
	size_t len;

	if (need_blob(ld, d->digest, err) < 0 ||
	    store_blob_read(ld->s, d->digest, STORE_JSON_MAX, &buf, &len, err) < 0 ||
	    store_index_parse(buf, len, &idx, err) < 0)
		return strata_wrap(err, "index %.19s", d->digest);
	for (size_t i = 0; i < idx->n_manifests && !pick; i++)
		if (idx->manifests[i].arch && strcmp(idx->manifests[i].arch, store_arch()) == 0 &&
		    store_media_is_manifest(idx->manifests[i].media_type))
			pick = &idx->manifests[i];
	for (size_t i = 0; i < idx->n_manifests && !pick; i++)
		if (store_media_is_manifest(idx->manifests[i].media_type))
			pick = &idx->manifests[i];
	if (!pick) {
		store_index_free(idx);
		return strata_fail_msg(err, EINVAL, "index %.19s names no image manifest", d->digest);
	}
	out->media_type = xstrdup(pick->media_type);
	memcpy(out->digest, pick->digest, DIGEST_STR_LEN);
	out->size = pick->size;
	store_index_free(idx);
	return 0;
}

static int load_oci(struct load *ld, struct pending **p, size_t *np, struct strata_error **err)
{
	struct store_index *idx = NULL;

	if (!ld->index)
		return strata_fail_msg(err, EINVAL, "the OCI layout has no index.json");
	if (store_index_parse(ld->index, ld->index_len, &idx, err) < 0)
		return strata_wrap(err, "index.json");
	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct store_desc *d = &idx->manifests[i];
		struct store_desc pick = { 0 };
		const char *ref = NULL;
		char id[DIGEST_STR_LEN];
		int r;

		if (d->annotations) {
			ref = jv_str(d->annotations, ANNOTATION_CONTAINERD_NAME);
			if (!ref)
				ref = jv_str(d->annotations, ANNOTATION_REF_NAME);
		}
		if (ref && !valid_ref(ref)) {
			log_warn("load: ignoring the name '%s': not a valid reference", ref);
			ref = NULL;
		}
		if (store_media_is_index(d->media_type)) {
			if (pick_from_index(ld, d, &pick, err) < 0)
				goto fail;
			r = load_oci_manifest(ld, &pick, id, err);
			if (r == 0)
				pending_add(ld, p, np, ref, pick.digest, pick.media_type, pick.size,
					    id);
			free(pick.media_type);
		} else {
			r = load_oci_manifest(ld, d, id, err);
			if (r == 0)
				pending_add(ld, p, np, ref, d->digest,
					    d->media_type ? d->media_type : MEDIA_OCI_MANIFEST,
					    d->size, id);
		}
		if (r < 0)
			goto fail;
	}
	store_index_free(idx);
	return 0;
fail:
	store_index_free(idx);
	return -1;
}

static int load_docker(struct load *ld, struct pending **p, size_t *np, struct strata_error **err)
{
	size_t i, k;
	json_t *m, *l;

	json_array_foreach(ld->docker, i, m) {
		const char *cname = jv_str(m, "Config");
		json_t *cf = cname ? json_object_get(ld->found, entry_name(cname)) : NULL;
		json_t *layers = json_object_get(m, "Layers");
		cleanup_json json_t *config = NULL;
		cleanup_json json_t *man = json_object();
		cleanup_free char *cbuf = NULL;
		cleanup_free char *mbuf = NULL;
		json_t *diffs, *larr = json_array(), *tags;
		char mdigest[DIGEST_STR_LEN];
		size_t clen, mlen;

		json_object_set_new(man, "schemaVersion", json_integer(2));
		jv_set_str(man, "mediaType", MEDIA_OCI_MANIFEST);
		json_object_set_new(man, "layers", larr);
		if (!cf)
			return strata_fail_msg(err, ENOENT, "the archive lacks the config '%s'",
					       cname ? cname : "(none named)");
		if (store_blob_read(ld->s, jv_str(cf, "digest"), STORE_JSON_MAX, &cbuf, &clen, err) < 0)
			return -1;
		if (!(config = jv_loadb(cbuf, clen, "image config", err)))
			return -1;
		diffs = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
		if (!json_is_array(layers) || json_array_size(layers) != json_array_size(diffs))
			return strata_fail_msg(err, EINVAL,
					       "'%s' names %zu layers, its rootfs has %zu diffIDs",
					       cname, json_array_size(layers), json_array_size(diffs));
		json_array_foreach(layers, k, l) {
			const char *ln = json_string_value(l);
			json_t *lf = ln ? json_object_get(ld->found, entry_name(ln)) : NULL;
			const char *want = json_string_value(json_array_get(diffs, k));

			if (!lf)
				return strata_fail_msg(err, ENOENT, "the archive lacks the layer '%s'",
						       ln ? ln : "(unnamed)");
			if (!want || strcmp(want, jv_str(lf, "diff_id")))
				return strata_fail_msg(err, EINVAL,
						       "layer '%s' has diffID %s, the config says %s",
						       ln, jv_str(lf, "diff_id"), want ? want : "none");
			json_array_append_new(larr, store_desc_json(jv_str(lf, "media_type"),
								    jv_str(lf, "digest"),
								    jv_int(lf, "size", 0)));
		}
		json_object_set_new(man, "config", store_desc_json(MEDIA_OCI_CONFIG,
								   jv_str(cf, "digest"),
								   (int64_t)clen));
		mbuf = jv_dump(man, &mlen);
		if (store_blob_put_buf(ld->s, mbuf, mlen, NULL, mdigest, err) < 0)
			return -1;
		tags = json_object_get(m, "RepoTags");
		if (json_array_size(tags) == 0)
			pending_add(ld, p, np, NULL, mdigest, MEDIA_OCI_MANIFEST, (int64_t)mlen,
				    jv_str(cf, "digest"));
		json_array_foreach(tags, k, l) {
			const char *ref = json_string_value(l);

			if (!ref || !valid_ref(ref)) {
				log_warn("load: ignoring the name '%s': not a valid reference",
					 ref ? ref : "");
				ref = NULL;
			}
			pending_add(ld, p, np, ref, mdigest, MEDIA_OCI_MANIFEST, (int64_t)mlen,
				    jv_str(cf, "digest"));
		}
	}
	return 0;
}

int layers_archive_detect(const char *path, enum layers_archive_format *out,
			  struct strata_error **err)
{
	struct load ld = { .path = path, .dirfd = -1 };
	struct stat st;
	int r = 0;

	if (stat(path, &st) < 0)
		return strata_fail(err, errno, "open '%s'", path);
	if (S_ISDIR(st.st_mode)) {
		*out = LAYERS_ARCHIVE_OCI_DIR;
		return 0;
	}
	if (load_scan(&ld, err) < 0)
		r = -1;
	else if (ld.oci_layout && ld.index)
		*out = LAYERS_ARCHIVE_OCI_ARCHIVE;
	else if (ld.manifest)
		*out = LAYERS_ARCHIVE_DOCKER_ARCHIVE;
	else
		r = strata_fail_msg(err, EINVAL,
				    "not an image archive: neither an OCI layout (oci-layout, "
				    "index.json) nor a docker archive (manifest.json)");
	free(ld.index);
	free(ld.manifest);
	return r;
}

int layers_load(struct store *s, const char *path, char ***loaded, struct strata_error **err)
{
	struct load ld = { .s = s, .path = path, .dirfd = -1 };
	struct pending *p = NULL;
	size_t np = 0;
	struct stat st;
	int r = -1;

	*loaded = xcalloc(1, sizeof(char *));
	ld.buf = xmalloc(CHUNK);
	ld.found = json_object();
	if (stat(path, &st) < 0) {
		strata_fail(err, errno, "open '%s'", path);
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ld.dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ld.dirfd < 0) {
			strata_fail(err, errno, "open '%s'", path);
			goto out;
		}
		if (faccessat(ld.dirfd, "oci-layout", F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
			strata_fail_msg(err, EINVAL, "'%s' is not an OCI layout (no oci-layout file)",
					path);
			goto out;
		}
		if (file_read_at(ld.dirfd, "index.json", STORE_JSON_MAX, &ld.index, &ld.index_len,
				 err) < 0)
			goto out;
		if (store_pin(s, err) < 0)
			goto out;
		r = load_oci(&ld, &p, &np, err);
	} else {
		if (load_scan(&ld, err) < 0)
			goto out;
		if (ld.oci_layout && ld.index) {
			/* An OCI archive; docker 25+ writes both, the layout is the richer. */
		} else if (ld.manifest) {
			if (!(ld.docker = jv_loadb(ld.manifest, ld.manifest_len, "manifest.json", err)))
				goto out;
			if (!json_is_array(ld.docker)) {
				strata_fail_msg(err, EINVAL, "manifest.json is not an array");
				goto out;
			}
		} else {
			strata_fail_msg(err, EINVAL,
					"not an image archive: neither an OCI layout (oci-layout, "
					"index.json) nor a docker archive (manifest.json)");
			goto out;
		}
		if (store_pin(s, err) < 0)
			goto out;
		r = load_blobs(&ld, err);
		if (r == 0)
			r = ld.docker ? load_docker(&ld, &p, &np, err) : load_oci(&ld, &p, &np, err);
	}
	/* Every image is complete: now it may be named. */
	for (size_t i = 0; r == 0 && i < np; i++) {
		if (!p[i].ref) {
			/* An image without a name stays, unnamed, until rmi of its ID. */
			r = store_image_keep(s, p[i].digest, p[i].media_type, p[i].size, err);
			if (r == 0)
				strv_append(loaded, p[i].id);
			continue;
		}
		r = store_tag_set(s, p[i].ref, p[i].digest, p[i].media_type, p[i].size, err);
		if (r == 0) {
			struct store_ref sr;
			cleanup_free char *norm = NULL;

			store_ref_parse(p[i].ref, &sr, NULL);
			norm = store_ref_string(&sr);
			store_ref_release(&sr);
			strv_append(loaded, norm);
		}
	}
	store_unpin(s);
out:
	for (size_t i = 0; i < np; i++) {
		free(p[i].ref);
		free(p[i].media_type);
	}
	free(p);
	if (ld.dirfd >= 0)
		close(ld.dirfd);
	json_decref(ld.found);
	if (ld.docker)
		json_decref(ld.docker);
	free(ld.index);
	free(ld.manifest);
	free(ld.buf);
	return r < 0 ? strata_wrap(err, "load '%s'", path) : 0;
}
