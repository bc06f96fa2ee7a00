/*
 * Push: every blob the registry lacks (HEAD, then an upload streamed from
 * the store: one POST + PUT for small blobs, PATCH chunks for large ones),
 * then the manifest bytes exactly as stored, so that its digest is the
 * same on both sides. A dropped connection is retried with backoff: a
 * dropped PATCH resumes where the upload's status says it stopped, anything
 * else starts the blob over. With --compression, layers in another
 * compression are recompressed into unlinked temp files, uploaded from
 * there, and a new OCI manifest naming them is pushed; the store is not
 * changed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/registry-int.h"

/*
 * Blobs larger than PUSH_CHUNK_THRESHOLD go in PUSH_CHUNK_SIZE PATCH
 * requests, so that no single request carries a whole large layer.
 * STRATA_PUSH_CHUNK_SIZE=N (bytes, or "64k", "4m") sets both: blobs larger
 * than N go in N-byte chunks.
 */
#define PUSH_CHUNK_THRESHOLD (16ull << 20)
#define PUSH_CHUNK_SIZE (8ull << 20)

/* Sources of a cross-repository mount tried per blob before it is uploaded. */
#define PUSH_MOUNT_TRIES 3

static void chunking(uint64_t *threshold, uint64_t *chunk)
{
	const char *v = getenv("STRATA_PUSH_CHUNK_SIZE");
	uint64_t n;

	*threshold = PUSH_CHUNK_THRESHOLD;
	*chunk = PUSH_CHUNK_SIZE;
	if (v && *v && size_parse(v, &n) == 0 && n > 0)
		*threshold = *chunk = n;
}

char *reg_upload_location(const char *host, const char *location, struct strata_error **err)
{
	if (!location || !*location) {
		strata_fail_msg(err, EPROTO, "registry %s: upload answered without a Location",
				host);
		return NULL;
	}
	if (location[0] != '/' && !str_has_prefix(location, "http://") &&
	    !str_has_prefix(location, "https://")) {
		strata_fail_msg(err, EPROTO, "registry %s: upload Location is not a URL", host);
		return NULL;
	}
	return xstrdup(location);
}

/* @location plus "digest=DIGEST" in its query. Caller frees. */
static char *with_digest(struct reg_client *c, const char *location, const char *digest)
{
	char *esc = curl_easy_escape(c->curl, digest, 0);
	char *url = xasprintf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', esc);

	curl_free(esc);
	return url;
}

/* Progress of one blob's upload: bytes before the current request plus what it sent. */
struct up_progress {
	const struct registry_opts *o;
	const char *digest;
	uint64_t base, total;
};

static void up_sent(uint64_t sent, void *arg)
{
	struct up_progress *p = arg;

	reg_event(p->o, REGISTRY_EVENT_BYTES, p->digest, p->base + sent, p->total, NULL);
}

int64_t reg_range_end(const char *range, uint64_t fallback)
{
	const char *p = range, *dash;
	char *end = NULL;
	unsigned long long n;

	if (!p)
		return (int64_t)fallback;
	if (str_has_prefix(p, "bytes="))
		p += strlen("bytes=");
	dash = strchr(p, '-');
	if (!dash || strtoull(p, NULL, 10) != 0)
		return -1;
	errno = 0;
	n = strtoull(dash + 1, &end, 10);
	if (errno || end == dash + 1 || *end || n >= INT64_MAX)
		return -1;
	return (int64_t)n + 1;
}

/*
 * After a dropped PATCH: asks the upload session at *@loc where it stands
 * (GET, answered 204 with Range and Location). Sets *@off, may replace
 * *@loc; -1 when the session cannot be resumed, and the upload starts over.
 */
static int upload_status(struct reg_client *c, char **loc, uint64_t size, uint64_t *off,
			 struct strata_error **err)
{
	struct reg_req rq = { .method = "GET", .url = *loc, .body_fd = -1 };
	struct reg_resp resp = { 0 };
	char *newloc;
	int64_t end;
	int ret = -1;

	if (reg_do(c, &rq, &resp, err) < 0)
		goto out;
	if (resp.status != 204 || !resp.range) {
		strata_fail_msg(err, EPROTO, "registry %s: upload status: HTTP %ld", c->host,
				resp.status);
		goto out;
	}
	/*
	 * Distribution answers "0-0" for an empty upload as for a one-byte
	 * one; empty is by far the likelier after a drop (a resent byte would
	 * be refused with 416, never stored twice).
	 */
	end = strcmp(resp.range, "0-0") == 0 ? 0 : reg_range_end(resp.range, 0);
	if (end < 0 || (uint64_t)end > size) {
		strata_fail_msg(err, EPROTO, "registry %s: upload status: bad Range '%s'", c->host,
				resp.range);
		goto out;
	}
	if (resp.location) {
		newloc = reg_upload_location(c->host, resp.location, err);
		if (!newloc)
			goto out;
		free(*loc);
		*loc = newloc;
	}
	*off = (uint64_t)end;
	ret = 0;
out:
	reg_resp_release(&resp);
	return ret;
}

/*
 * Uploads @size bytes of @fd to the upload session at @location in PATCH
 * chunks (Content-Range START-END), following the Location each answer
 * gives and going on from the end its Range header says the registry has;
 * then the closing PUT ?digest=. A dropped PATCH is resumed where the
 * session's status says it stopped; when that cannot be known the error
 * (ECONNABORTED) goes up and the caller starts over.
 */
static int upload_chunked(struct reg_client *c, const char *location, int fd, uint64_t size,
			  uint64_t chunk, const char *digest, const char *what,
			  const struct registry_opts *o, struct strata_error **err)
{
	cleanup_free char *loc = xstrdup(location), *put_url = NULL;
	struct up_progress prog = { .o = o, .digest = digest, .total = size };
	struct reg_resp resp = { 0 };
	uint64_t off = 0;
	int stalls = 0;
	int ret = -1;

	while (off < size) {
		uint64_t n = size - off < chunk ? size - off : chunk;
		char crange[48];
		struct reg_req rq = { .method = "PATCH", .url = loc,
				      .content_type = "application/octet-stream", .body_fd = fd,
				      .body_offset = off, .body_size = n, .content_range = crange,
				      .sent = up_sent, .sent_arg = &prog };
		struct strata_error *e = NULL;
		int64_t next;
		char *newloc;

		snprintf(crange, sizeof(crange), "%" PRIu64 "-%" PRIu64, off, off + n - 1);
		prog.base = off;
		if (reg_do(c, &rq, &resp, &e) < 0) {
			struct strata_error *se = NULL;

			if (reg_retry_error(c, digest, &e)) {
				if (upload_status(c, &loc, size, &off, &se) == 0) {
					reg_notef(o, digest,
						  "connection lost, resuming the upload at %" PRIu64
						  " bytes",
						  off);
					continue;
				}
				/* The session is lost: the caller starts the blob over. */
				strata_fail_msg(&e, ECONNABORTED, "%s", strata_error_msg(se));
				strata_error_free(se);
			}
			if (err && !*err)
				*err = e;
			else
				strata_error_free(e);
			goto out;
		}
		if (resp.status != 202) {
			reg_status_fail(&resp, what, err);
			goto out;
		}
		if (resp.location) {
			newloc = reg_upload_location(c->host, resp.location, err);
			if (!newloc)
				goto out;
			free(loc);
			loc = newloc;
		}
		next = reg_range_end(resp.range, off + n);
		if (next < 0 || (uint64_t)next > off + n) {
			strata_fail_msg(err, EPROTO,
					"registry %s: upload answered with a bad Range '%s' after %s",
					c->host, resp.range, crange);
			goto out;
		}
		/* The registry may keep less than a chunk: send the rest again, a few times. */
		if ((uint64_t)next <= off && ++stalls > 3) {
			strata_fail_msg(err, EPROTO,
					"registry %s: upload stalled at %" PRIu64 " bytes", c->host,
					off);
			goto out;
		}
		if ((uint64_t)next > off)
			stalls = 0;
		off = (uint64_t)next;
	}
	put_url = with_digest(c, loc, digest);
	{
		struct reg_req put = { .method = "PUT", .url = put_url,
				       .content_type = "application/octet-stream", .body_fd = -1 };

		if (reg_do(c, &put, &resp, err) < 0)
			goto out;
	}
	if (resp.status != 201 && resp.status != 204 && resp.status != 200) {
		reg_status_fail(&resp, what, err);
		goto out;
	}
	ret = 0;
out:
	reg_resp_release(&resp);
	return ret;
}

/*
 * One attempt at blob @digest (@size bytes of @fd): HEAD, then POST (with
 * a mount request when @from is set), then one PUT or PATCH chunks.
 */
static int upload_blob(struct reg_client *c, const char *repo, char *const *froms,
		       const char *digest, int fd, uint64_t size, const struct registry_opts *o,
		       struct strata_error **err)
{
	cleanup_free char *head_url = xasprintf("/v2/%s/blobs/%s", repo, digest);
	cleanup_free char *loc = NULL, *put_url = NULL, *what = xasprintf("blob %s", digest);
	struct reg_req head = { .method = "HEAD", .url = head_url, .body_fd = -1 };
	struct reg_resp resp = { 0 };
	struct up_progress prog = { .o = o, .digest = digest, .total = size };
	uint64_t threshold, chunk;
	size_t n_from = strv_len(froms);
	int ret = -1;

	if (n_from > PUSH_MOUNT_TRIES)
		n_from = PUSH_MOUNT_TRIES;
	if (reg_do(c, &head, &resp, err) < 0)
		goto out;
	if (resp.status == 200) {
		reg_event(o, REGISTRY_EVENT_DONE, digest, 0, 0, "already in the registry");
		ret = 0;
		goto out;
	}
	if (resp.status != 404) {
		reg_status_fail(&resp, what, err);
		goto out;
	}
	/*
	 * A mount from each known source in turn; a declined mount opens an
	 * upload session (202): dropped while another source is left, used
	 * for the upload after the last. A refused one (401, 403: the
	 * credentials do not reach the source) opens none: the next source,
	 * or a plain upload, is asked for.
	 */
	for (size_t k = 0;; k++) {
		const char *from = k < n_from ? froms[k] : NULL;
		char *from_q = from ? curl_easy_escape(c->curl, from, 0) : NULL;
		cleanup_free char *post_url =
			from_q ? xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", repo, digest, from_q)
			       : xasprintf("/v2/%s/blobs/uploads/", repo);
		struct reg_req post = { .method = "POST", .url = post_url, .body_fd = -1 };

		curl_free(from_q);

		if (reg_do(c, &post, &resp, err) < 0)
			goto out;
		if (from && resp.status != 201 && resp.status != 202) {
			/* Refused (no pull access to @from, say): a plain upload still may not be. */
			log_debug("push: mount of %.19s from %s: HTTP %ld", digest, from, resp.status);
			continue;
		}
		if (from && resp.status == 201) {
			cleanup_free char *msg = xasprintf("mounted from %s", from);

			reg_event(o, REGISTRY_EVENT_DONE, digest, 0, 0, msg);
			ret = 0;
			goto out;
		}
		if (resp.status != 202) {
			reg_status_fail(&resp, what, err);
			goto out;
		}
		if (!from || k + 1 >= n_from)
			break;
		if (resp.location && (loc = reg_upload_location(c->host, resp.location, NULL))) {
			struct reg_req del = { .method = "DELETE", .url = loc, .body_fd = -1 };
			struct strata_error *ignored = NULL;

			if (reg_do(c, &del, &resp, &ignored) < 0)
				strata_error_free(ignored);
			free(steal_ptr(&loc));
		}
	}
	loc = reg_upload_location(c->host, resp.location, err);
	if (!loc)
		goto out;
	reg_event(o, REGISTRY_EVENT_START, digest, 0, size, NULL);
	chunking(&threshold, &chunk);
	if (size > threshold) {
		if (upload_chunked(c, loc, fd, size, chunk, digest, what, o, err) < 0)
			goto out;
	} else {
		struct reg_req put = { .method = "PUT", .content_type = "application/octet-stream",
				       .body_fd = fd, .body_size = size, .sent = up_sent,
				       .sent_arg = &prog };

		put_url = with_digest(c, loc, digest);
		put.url = put_url;
		if (reg_do(c, &put, &resp, err) < 0)
			goto out;
		if (resp.status != 201 && resp.status != 204 && resp.status != 200) {
			reg_status_fail(&resp, what, err);
			goto out;
		}
	}
	reg_done_size(o, digest, size);
	ret = 0;
out:
	reg_resp_release(&resp);
	return ret;
}

/*
 * Uploads the blob @digest unless the registry has it: read from @fd when
 * it is not -1, else from the store. Asks for a cross-repository mount from
 * @from (another repository of the same registry that holds the image) and
 * the repositories of that registry where the blob-info @cache saw the blob,
 * and uploads only when the registry declines them. A dropped connection
 * is retried with backoff, from the HEAD on.
 */
static int push_blob(struct reg_client *c, struct store *s, const char *repo, const char *from,
		     const json_t *cache, const char *digest, int fd,
		     const struct registry_opts *o, struct strata_error **err)
{
	cleanup_strv char **froms = NULL;
	cleanup_strv char **seen = reg_blobinfo_repos(cache, c->host, repo, digest);

	cleanup_close int own_fd = -1;
	struct stat st;

	if (fd < 0) {
		own_fd = store_blob_open(s, digest, err);
		if (own_fd < 0)
			return strata_wrap(err, "blob %s", digest);
		fd = own_fd;
	}
	if (fstat(fd, &st) < 0)
		return strata_fail(err, errno, "blob %s: fstat", digest);
	if (from)
		strv_append(&froms, from);
	for (size_t i = 0; seen && seen[i]; i++)
		if (!strv_contains(froms, seen[i]))
			strv_append(&froms, seen[i]);
	for (;;) {
		struct strata_error *e = NULL;

		if (upload_blob(c, repo, froms, digest, fd, (uint64_t)st.st_size, o, &e) == 0)
			return 0;
		if (strata_error_code(e) != EAGAIN)
			reg_notef(o, digest, "connection lost, retrying the upload");
		if (reg_retry_error(c, digest, &e))
			continue;
		if (err && !*err)
			*err = e;
		else
			strata_error_free(e);
		if (err && *err && !str_has_prefix(strata_error_msg(*err), "blob "))
			strata_wrap(err, "blob %s", digest);
		return -1;
	}
}

/* A repository of @domain other than @repo that has the image (its tags), or NULL. Caller frees. */
static char *mount_source(const struct store_image *img, const char *domain, const char *repo)
{
	for (size_t i = 0; img->tags && img->tags[i]; i++) {
		struct store_ref r;
		char *other = NULL;

		if (store_ref_parse(img->tags[i], &r, NULL) < 0)
			continue;
		if (r.domain && domain && strcmp(r.domain, domain) == 0) {
			other = reg_repo_of(r.domain, r.path);
			if (strcmp(other, repo) == 0) {
				free(other);
				other = NULL;
			}
		}
		store_ref_release(&r);
		if (other)
			return other;
	}
	return NULL;
}

/* ---- --compression ---- */

/* True for layers that are not ours to recompress (foreign, nondistributable). */
static bool is_foreign(const char *media_type)
{
	return media_type &&
	       (strstr(media_type, "foreign") || strstr(media_type, "nondistributable"));
}

/* The compression a layer's media type names. */
static enum layers_compression layer_compression(const char *media_type)
{
	if (!media_type)
		return LAYERS_COMPRESSION_GZIP;
	if (strstr(media_type, "zstd"))
		return LAYERS_COMPRESSION_ZSTD;
	if (strstr(media_type, "gzip"))
		return LAYERS_COMPRESSION_GZIP;
	return LAYERS_COMPRESSION_NONE;
}

/*
 * Recompresses layer @i of @img to o->compression into a temp file, whose
 * fd goes to *out_fd; checks that the tar inside is the one the config's
 * diffID names; fills @out.
 */
static int recompress_layer(struct store *s, const struct store_image *img, size_t i,
			    const struct registry_opts *o, int *out_fd, struct layers_blob *out,
			    struct strata_error **err)
{
	const struct store_desc *d = &img->manifest->layers[i];
	cleanup_close int in = -1, tmp = -1;

	in = store_blob_open(s, d->digest, err);
	if (in < 0)
		return strata_wrap(err, "layer %s", d->digest);
	tmp = store_tmp_file(s, err);
	if (tmp < 0)
		return -1;
	if (layers_recompress(in, o->compression, 0, tmp, out, err) < 0)
		return strata_wrap(err, "layer %s: recompress to %s", d->digest,
				   layers_compression_name(o->compression));
	if (i >= img->n_layers || strcmp(out->diff_id, img->diff_ids[i]) != 0)
		return strata_fail_msg(err, EBADMSG,
				       "layer %s: its tar is %s, the config's diffID is '%s'",
				       d->digest, out->diff_id,
				       i < img->n_layers ? img->diff_ids[i] : "(none)");
	reg_notef(o, d->digest, "recompressed to %s as %.19s",
		  layers_compression_name(o->compression), out->digest);
	*out_fd = steal_fd(&tmp);
	return 0;
}

/* The OCI media type of a layer descriptor that stays as it is, in an OCI manifest. */
static const char *oci_layer_type(const char *media_type)
{
	if (!media_type || !*media_type || strcmp(media_type, MEDIA_DOCKER_LAYER_GZIP) == 0)
		return MEDIA_OCI_LAYER_GZIP;
	if (strcmp(media_type, MEDIA_DOCKER_LAYER_FOREIGN) == 0)
		return MEDIA_OCI_LAYER_NONDIST_GZIP;
	return media_type;
}

/* ---- the image ---- */

/*
 * Where a push of @ref goes, and with which options: the signature policy
 * must accept the image as read from the store (transport "oci", scope the
 * store's directory, as skopeo reading it would see it); the [[registry]]
 * of the destination must not be blocked, and its insecure setting applies.
 * Its location and mirrors are for pulls only: a push goes to the name
 * given, as skopeo's and podman's do (containers-registries.conf(5)).
 */
static int push_target(struct store *s, const struct store_ref *ref, const struct registry_opts *o,
		       struct reg_endpoint *ep, struct registry_opts *eo, struct strata_error **err)
{
	struct reg_policy *policy = NULL;
	const struct reg_conf *conf = NULL;
	const struct reg_registry *reg;
	cleanup_free char *name = reg_ref_qualify(ref->domain ? ref->domain : "docker.io", ref);
	cleanup_free char *root = realpath(store_root(s), NULL);
	int r;

	if (o)
		*eo = *o;
	if (reg_policy_load(o ? o->signature_policy : NULL, &policy, err) < 0)
		return -1;
	if (!root)
		root = xstrdup(store_root(s));
	{
		cleanup_strv char **scopes = reg_path_scopes(root);

		r = reg_policy_check(policy, "oci", root, scopes, err);
		reg_policy_free(policy);
		if (r < 0)
			return strata_wrap(err, "push to %s", name);
	}
	if (reg_conf_get(&conf, err) < 0)
		return -1;
	reg = reg_conf_find(conf, name);
	if (reg && reg->blocked)
		return strata_fail_msg(err, EACCES, "%s: registry '%s' is blocked in %s", name,
				       reg->prefix, conf->files[0]);
	ep->ref = steal_ptr(&name);
	ep->insecure = reg && reg->insecure;
	eo->insecure = !eo->tls_verify && (eo->insecure || ep->insecure);
	return 0;
}

int registry_push(struct store *s, const char *image, const char *dest,
		  const struct registry_opts *o, char digest[DIGEST_STR_LEN],
		  struct strata_error **err)
{
	struct store_image *img = NULL;
	struct store_ref ref = { 0 };
	struct reg_client *c = NULL;
	struct reg_resp resp = { 0 };
	struct reg_endpoint ep = { 0 };
	struct registry_opts eo = { 0 };
	cleanup_free char *repo = NULL, *url = NULL, *buf = NULL, *from = NULL;
	cleanup_json json_t *newman = NULL;
	cleanup_json json_t *cache = NULL;
	cleanup_strv char **sent = NULL;
	char pushed[DIGEST_STR_LEN];
	const char *mt;
	bool changed = false;
	size_t len;
	int ret = -1;

	if (!dest)
		dest = image;
	if (str_has_prefix(dest, "docker://"))
		dest += strlen("docker://");
	if (store_ref_parse(dest, &ref, err) < 0)
		return -1;
	if (push_target(s, &ref, o, &ep, &eo, err) < 0)
		goto out;
	o = &eo;
	store_ref_release(&ref);
	if (store_ref_parse(ep.ref, &ref, err) < 0)
		goto out;
	if (store_image_load(s, image, &img, err) < 0)
		goto out;
	if (store_blob_read(s, img->manifest_digest, STORE_JSON_MAX, &buf, &len, err) < 0) {
		strata_wrap(err, "manifest %s", img->manifest_digest);
		goto out;
	}
	mt = img->manifest->media_type && *img->manifest->media_type ? img->manifest->media_type
								      : MEDIA_OCI_MANIFEST;
	repo = reg_repo_of(ref.domain, ref.path);
	if (reg_client_new(ref.domain, repo, "pull,push", NULL, NULL, o, &c, err) < 0)
		goto out;
	from = mount_source(img, ref.domain, repo);
	cache = reg_blobinfo_load(s);
	strv_append(&sent, img->manifest->config.digest);
	if (push_blob(c, s, repo, from, cache, img->manifest->config.digest, -1, o, err) < 0)
		goto out;
	if (o && o->recompress)
		newman = json_deep_copy(img->manifest->json);
	for (size_t i = 0; i < img->manifest->n_layers; i++) {
		const struct store_desc *d = &img->manifest->layers[i];
		json_t *jl = newman ? json_array_get(json_object_get(newman, "layers"), i) : NULL;
		struct layers_blob nb;
		cleanup_close int fd = -1;

		if (!newman || is_foreign(d->media_type) ||
		    layer_compression(d->media_type) == o->compression) {
			if (push_blob(c, s, repo, from, cache, d->digest, -1, o, err) < 0)
				goto out;
			strv_append(&sent, d->digest);
			if (jl)
				jv_set_str(jl, "mediaType", oci_layer_type(d->media_type));
			continue;
		}
		if (!jl) {
			strata_fail_msg(err, EBADMSG, "manifest %s: no layer %zu",
					img->manifest_digest, i);
			goto out;
		}
		if (recompress_layer(s, img, i, o, &fd, &nb, err) < 0)
			goto out;
		if (push_blob(c, s, repo, NULL, cache, nb.digest, fd, o, err) < 0)
			goto out;
		strv_append(&sent, nb.digest);
		jv_set_str(jl, "mediaType", nb.media_type);
		jv_set_str(jl, "digest", nb.digest);
		json_object_set_new(jl, "size", json_integer((json_int_t)nb.size));
		changed = true;
	}
	if (changed) {
		/* Docker's schema2 has no zstd: the new manifest is OCI, its config type too. */
		json_t *cfg = json_object_get(newman, "config");

		jv_set_str(newman, "mediaType", MEDIA_OCI_MANIFEST);
		if (cfg && jv_str(cfg, "mediaType") &&
		    strcmp(jv_str(cfg, "mediaType"), MEDIA_DOCKER_CONFIG) == 0)
			jv_set_str(cfg, "mediaType", MEDIA_OCI_CONFIG);
		free(buf);
		buf = jv_dump(newman, &len);
		mt = MEDIA_OCI_MANIFEST;
	}
	digest_buf(buf, len, pushed);
	if (ref.digest && strcmp(ref.digest, pushed) != 0) {
		strata_fail_msg(err, EINVAL, "push to %s: the manifest to push is %s", dest,
				pushed);
		goto out;
	}
	url = xasprintf("/v2/%s/manifests/%s", repo,
			ref.digest ? ref.digest : ref.tag ? ref.tag : "latest");
	{
		struct reg_req put = { .method = "PUT", .url = url, .content_type = mt, .body = buf,
				       .body_len = len, .body_fd = -1 };

		if (reg_do(c, &put, &resp, err) < 0) {
			strata_wrap(err, "manifest %s", pushed);
			goto out;
		}
	}
	if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
		cleanup_free char *what = xasprintf("manifest %s", pushed);

		reg_status_fail(&resp, what, err);
		goto out;
	}
	reg_blobinfo_record(s, c->host, repo, sent);
	reg_notef(o, NULL, "Manifest %.19s: pushed to %s", pushed, dest);
	memcpy(digest, pushed, DIGEST_STR_LEN);
	ret = 0;
out:
	free(ep.ref);
	reg_resp_release(&resp);
	reg_client_free(c);
	store_image_free(img);
	store_ref_release(&ref);
	return ret;
}
