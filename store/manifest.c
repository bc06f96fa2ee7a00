/*
 * Image manifests and indexes: OCI image-spec v1 and Docker's schema2
 * manifest and manifest list, which share one shape (schemaVersion 2,
 * config + layers, or manifests[] with platforms).
 */
#include <errno.h>
#include <string.h>

#include "store/store-int.h"

bool store_media_is_index(const char *mt)
{
	return mt && (strcmp(mt, MEDIA_OCI_INDEX) == 0 || strcmp(mt, MEDIA_DOCKER_LIST) == 0);
}

bool store_media_is_manifest(const char *mt)
{
	return mt && (strcmp(mt, MEDIA_OCI_MANIFEST) == 0 || strcmp(mt, MEDIA_DOCKER_MANIFEST) == 0);
}

const char *store_manifest_sniff(const json_t *doc)
{
	const char *mt = jv_str(doc, "mediaType");

	if (store_media_is_index(mt))
		return strcmp(mt, MEDIA_OCI_INDEX) == 0 ? MEDIA_OCI_INDEX : MEDIA_DOCKER_LIST;
	if (store_media_is_manifest(mt))
		return strcmp(mt, MEDIA_OCI_MANIFEST) == 0 ? MEDIA_OCI_MANIFEST
							    : MEDIA_DOCKER_MANIFEST;
	if (json_is_array(json_object_get(doc, "manifests")))
		return MEDIA_OCI_INDEX;
	if (json_is_object(json_object_get(doc, "config")))
		return MEDIA_OCI_MANIFEST;
	return NULL;
}

void store_desc_release(struct store_desc *d)
{
	free(d->media_type);
	free(d->os);
	free(d->arch);
	free(d->variant);
	d->media_type = d->os = d->arch = d->variant = NULL;
}

int store_desc_from_json(const json_t *j, struct store_desc *d, const char *what,
		   struct strata_error **err)
{
	const char *mt, *dg;
	json_t *size, *plat;

	memset(d, 0, sizeof(*d));
	if (!json_is_object(j))
		return strata_fail_msg(err, EINVAL, "%s: descriptor is not an object", what);
	mt = jv_str(j, "mediaType");
	dg = jv_str(j, "digest");
	size = json_object_get(j, "size");
	if (!dg || !digest_is_valid(dg))
		return strata_fail_msg(err, EINVAL, "%s: descriptor has no valid sha256 digest", what);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return strata_fail_msg(err, EINVAL, "%s: descriptor has no valid size", what);
	memcpy(d->digest, dg, DIGEST_STR_LEN);
	d->size = json_integer_value(size);
	d->media_type = xstrdup(mt ? mt : "");
	d->annotations = json_object_get(j, "annotations");
	plat = json_object_get(j, "platform");
	if (json_is_object(plat)) {
		d->os = xstrdup(jv_str(plat, "os"));
		d->arch = xstrdup(jv_str(plat, "architecture"));
		d->variant = xstrdup(jv_str(plat, "variant"));
	}
	return 0;
}

json_t *store_desc_json(const char *media_type, const char *digest, int64_t size)
{
	json_t *j = json_object();

	jv_set_str(j, "mediaType", media_type);
	jv_set_str(j, "digest", digest);
	json_object_set_new(j, "size", json_integer(size));
	return j;
}

void store_manifest_free(struct store_manifest *m)
{
	if (!m)
		return;
	store_desc_release(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		store_desc_release(&m->layers[i]);
	free(m->layers);
	free(m->media_type);
	json_decref(m->json);
	free(m);
}

int store_manifest_parse(const char *buf, size_t len, struct store_manifest **out,
			 struct strata_error **err)
{
	cleanup_json json_t *doc = jv_loadb(buf, len, "manifest", err);
	struct store_manifest *m;
	const char *mt;
	json_t *layers, *l;
	size_t i;

	if (!doc)
		return -1;
	if (!json_is_object(doc))
		return strata_fail_msg(err, EINVAL, "manifest: not a JSON object");
	if (jv_int(doc, "schemaVersion", -1) != 2)
		return strata_fail_msg(err, EINVAL, "manifest: unsupported schemaVersion (want 2)");
	mt = store_manifest_sniff(doc);
	if (store_media_is_index(mt))
		return strata_fail_msg(err, EINVAL, "manifest: is an index, not an image manifest");
	if (!mt)
		return strata_fail_msg(err, EINVAL, "manifest: neither an image manifest nor an index");
	layers = json_object_get(doc, "layers");
	if (!json_is_array(layers))
		return strata_fail_msg(err, EINVAL, "manifest: 'layers' is not an array");

	m = xcalloc(1, sizeof(*m));
	m->media_type = xstrdup(mt);
	if (store_desc_from_json(json_object_get(doc, "config"), &m->config, "manifest config", err) < 0)
		goto fail;
	m->layers = xcalloc(json_array_size(layers) + 1, sizeof(*m->layers));
	json_array_foreach(layers, i, l)
	{
		if (store_desc_from_json(l, &m->layers[i], "manifest layer", err) < 0)
			goto fail;
		m->n_layers++;
	}
	m->json = steal_ptr(&doc);
	*out = m;
	return 0;
fail:
	store_manifest_free(m);
	return -1;
}

void store_index_free(struct store_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; i < idx->n_manifests; i++)
		store_desc_release(&idx->manifests[i]);
	free(idx->manifests);
	free(idx->media_type);
	json_decref(idx->json);
	free(idx);
}

int store_index_parse(const char *buf, size_t len, struct store_index **out,
		      struct strata_error **err)
{
	cleanup_json json_t *doc = jv_loadb(buf, len, "index", err);
	struct store_index *idx;
	const char *mt;
	json_t *list, *e;
	size_t i;

	if (!doc)
		return -1;
	if (!json_is_object(doc))
		return strata_fail_msg(err, EINVAL, "index: not a JSON object");
	if (jv_int(doc, "schemaVersion", -1) != 2)
		return strata_fail_msg(err, EINVAL, "index: unsupported schemaVersion (want 2)");
	mt = store_manifest_sniff(doc);
	if (!store_media_is_index(mt))
		return strata_fail_msg(err, EINVAL, "index: not an image index or manifest list");
	list = json_object_get(doc, "manifests");
	if (!json_is_array(list))
		return strata_fail_msg(err, EINVAL, "index: 'manifests' is not an array");
	idx = xcalloc(1, sizeof(*idx));
	idx->media_type = xstrdup(mt);
	idx->manifests = xcalloc(json_array_size(list) + 1, sizeof(*idx->manifests));
	json_array_foreach(list, i, e)
	{
		if (store_desc_from_json(e, &idx->manifests[i], "index entry", err) < 0) {
			store_index_free(idx);
			return -1;
		}
		idx->n_manifests++;
	}
	idx->json = steal_ptr(&doc);
	*out = idx;
	return 0;
}

char **store_chain_ids(char *const *diff_ids, size_t n)
{
	char **out = xcalloc(n + 1, sizeof(char *));

	for (size_t i = 0; i < n; i++) {
		if (i == 0) {
			out[i] = xstrdup(diff_ids[0]);
		} else {
			cleanup_free char *in = xasprintf("%s %s", out[i - 1], diff_ids[i]);
			char d[DIGEST_STR_LEN];

			digest_buf(in, strlen(in), d);
			out[i] = xstrdup(d);
		}
	}
	return out;
}
