/*
 * Push: every blob the registry lacks (HEAD, then a monolithic POST + PUT
 * upload streamed from the store), then the manifest bytes exactly as
 * stored, so that its digest is the same on both sides.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "registry/registry-int.h"

static void progress(const struct registry_opts *o, const char *what, const char *digest,
		     const char *how)
{
	if (o && o->quiet)
		return;
	fprintf(stderr, "%s %.19s: %s\n", what, digest, how);
}

/* The upload URL of a Location header plus "digest=": absolute, or a path on the registry. */
static char *upload_url(struct reg_client *c, const char *location, const char *digest,
			struct strata_error **err)
{
	char *esc;
	char *url;

	if (!location || !*location) {
		strata_fail_msg(err, EPROTO, "registry %s: upload started without a Location", c->host);
		return NULL;
	}
	if (location[0] != '/' && !str_has_prefix(location, "http://") &&
	    !str_has_prefix(location, "https://")) {
		strata_fail_msg(err, EPROTO, "registry %s: upload Location is not a URL", c->host);
		return NULL;
	}
	esc = curl_easy_escape(c->curl, digest, 0);
	url = xasprintf("%s%cdigest=%s", location, strchr(location, '?') ? '&' : '?', esc);
	curl_free(esc);
	return url;
}

/*
 * Uploads blob @d unless the registry has it; with @from (another repository
 * of the same registry that holds the image), asks for a cross-repository
 * mount first, and uploads only when the registry declines.
 */
static int push_blob(struct reg_client *c, struct store *s, const char *repo, const char *from,
		     const struct store_desc *d, const struct registry_opts *o,
		     struct strata_error **err)
{
	cleanup_free char *head_url = xasprintf("/v2/%s/blobs/%s", repo, d->digest);
	cleanup_free char *post_url = from ? xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", repo,
						       d->digest, from)
					   : xasprintf("/v2/%s/blobs/uploads/", repo);
	cleanup_free char *put_url = NULL, *what = xasprintf("blob %s", d->digest);
	struct reg_req head = { .method = "HEAD", .url = head_url, .body_fd = -1 };
	struct reg_req post = { .method = "POST", .url = post_url, .body_fd = -1 };
	struct reg_req put = { .method = "PUT", .content_type = "application/octet-stream" };
	struct reg_resp resp = { 0 };
	cleanup_close int fd = -1;
	struct stat st;
	int ret = -1;

	if (reg_do(c, &head, &resp, err) < 0)
		goto wrap;
	if (resp.status == 200) {
		progress(o, "Blob", d->digest, "already in the registry");
		reg_resp_release(&resp);
		return 0;
	}
	if (resp.status != 404) {
		reg_status_fail(&resp, what, err);
		goto out;
	}
	fd = store_blob_open(s, d->digest, err);
	if (fd < 0)
		goto wrap;
	if (fstat(fd, &st) < 0) {
		strata_fail(err, errno, "blob %s: fstat", d->digest);
		goto out;
	}
	if (reg_do(c, &post, &resp, err) < 0)
		goto wrap;
	if (from && resp.status == 201) {
		progress(o, "Blob", d->digest, "mounted from another repository");
		ret = 0;
		goto out;
	}
	if (resp.status != 202) {
		reg_status_fail(&resp, what, err);
		goto out;
	}
	put_url = upload_url(c, resp.location, d->digest, err);
	if (!put_url)
		goto wrap;
	put.url = put_url;
	put.body_fd = fd;
	put.body_size = (uint64_t)st.st_size;
	if (reg_do(c, &put, &resp, err) < 0)
		goto wrap;
	if (resp.status != 201 && resp.status != 204 && resp.status != 200) {
		reg_status_fail(&resp, what, err);
		goto out;
	}
	{
		cleanup_free char *human = size_human((uint64_t)st.st_size);

		progress(o, "Blob", d->digest, human);
	}
	ret = 0;
	goto out;
wrap:
	strata_wrap(err, "blob %s", d->digest);
out:
	reg_resp_release(&resp);
	return ret;
}

/* A repository of @domain other than @repo that has the image (from its tags), or NULL. Caller frees. */
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

int registry_push(struct store *s, const char *image, const char *dest,
		  const struct registry_opts *o, char digest[DIGEST_STR_LEN],
		  struct strata_error **err)
{
	struct store_image *img = NULL;
	struct store_ref ref = { 0 };
	struct reg_client *c = NULL;
	struct reg_resp resp = { 0 };
	cleanup_free char *repo = NULL, *url = NULL, *buf = NULL, *from = NULL;
	const char *mt;
	size_t len;
	int ret = -1;

	if (!dest)
		dest = image;
	if (str_has_prefix(dest, "docker://"))
		dest += strlen("docker://");
	if (store_ref_parse(dest, &ref, err) < 0)
		return -1;
	if (store_image_load(s, image, &img, err) < 0)
		goto out;
	if (store_blob_read(s, img->manifest_digest, STORE_JSON_MAX, &buf, &len, err) < 0) {
		strata_wrap(err, "manifest %s", img->manifest_digest);
		goto out;
	}
	repo = reg_repo_of(ref.domain, ref.path);
	if (reg_client_new(ref.domain, repo, "pull,push", NULL, NULL, o, &c, err) < 0)
		goto out;
	from = mount_source(img, ref.domain, repo);
	if (push_blob(c, s, repo, from, &img->manifest->config, o, err) < 0)
		goto out;
	for (size_t i = 0; i < img->manifest->n_layers; i++)
		if (push_blob(c, s, repo, from, &img->manifest->layers[i], o, err) < 0)
			goto out;

	mt = img->manifest->media_type && *img->manifest->media_type ? img->manifest->media_type
								      : MEDIA_OCI_MANIFEST;
	url = xasprintf("/v2/%s/manifests/%s", repo,
			ref.digest ? ref.digest : ref.tag ? ref.tag : "latest");
	if (ref.digest && strcmp(ref.digest, img->manifest_digest) != 0) {
		strata_fail_msg(err, EINVAL, "push to %s: the image's manifest is %s", dest,
				img->manifest_digest);
		goto out;
	}
	{
		struct reg_req put = { .method = "PUT", .url = url, .content_type = mt, .body = buf,
				       .body_len = len, .body_fd = -1 };

		if (reg_do(c, &put, &resp, err) < 0) {
			strata_wrap(err, "manifest %s", img->manifest_digest);
			goto out;
		}
	}
	if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
		cleanup_free char *what = xasprintf("manifest %s", img->manifest_digest);

		reg_status_fail(&resp, what, err);
		goto out;
	}
	if (!(o && o->quiet))
		fprintf(stderr, "Manifest %.19s: pushed to %s\n", img->manifest_digest, dest);
	memcpy(digest, img->manifest_digest, DIGEST_STR_LEN);
	ret = 0;
out:
	reg_resp_release(&resp);
	reg_client_free(c);
	store_image_free(img);
	store_ref_release(&ref);
	return ret;
}
