/*
 * Images: a manifest naming a config and layers. The image ID is the
 * config digest, as docker and podman have it; tags point at manifests.
 */
#include <errno.h>
#include <string.h>
#include <sys/utsname.h>

#include "store/store-int.h"

const char *store_arch(void)
{
	static const struct {
		const char *uname;
		const char *go;
	} map[] = {
		{ "x86_64", "amd64" }, { "aarch64", "arm64" }, { "armv7l", "arm" },
		{ "armv6l", "arm" },   { "i686", "386" },      { "i386", "386" },
		{ "ppc64le", "ppc64le" }, { "s390x", "s390x" }, { "riscv64", "riscv64" },
	};
	static char other[65];
	struct utsname u;

	if (uname(&u) < 0)
		return "amd64";
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(u.machine, map[i].uname) == 0)
			return map[i].go;
	snprintf(other, sizeof(other), "%s", u.machine);
	return other;
}

void store_image_free(struct store_image *img)
{
	if (!img)
		return;
	store_manifest_free(img->manifest);
	json_decref(img->config);
	strv_free(img->tags);
	strv_free(img->diff_ids);
	free(img);
}

void store_image_list_free(struct store_image **imgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_image_free(imgs[i]);
	free(imgs);
}

/* Picks this machine's entry of an index (linux/<arch>), else the first image entry. */
static const struct store_desc *pick_platform(const struct store_index *idx)
{
	const char *arch = store_arch();

	for (size_t i = 0; i < idx->n_manifests; i++) {
		const struct store_desc *d = &idx->manifests[i];

		if (d->arch && strcmp(d->arch, arch) == 0 && (!d->os || strcmp(d->os, "linux") == 0))
			return d;
	}
	for (size_t i = 0; i < idx->n_manifests; i++)
		if (!idx->manifests[i].arch && store_media_is_manifest(idx->manifests[i].media_type))
			return &idx->manifests[i];
	return NULL;
}

int store_image_load_digest(struct store *s, const char *digest, struct store_image **out,
		      struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	cleanup_free char *cfg = NULL;
	cleanup_json json_t *doc = NULL;
	struct store_image *img;
	size_t len = 0, cfglen = 0;
	const char *mt;
	json_t *diffs;

	if (store_blob_read(s, digest, STORE_JSON_MAX, &buf, &len, err) < 0)
		return strata_wrap(err, "manifest");
	doc = jv_loadb(buf, len, "manifest", err);
	if (!doc)
		return strata_wrap(err, "'%s'", digest);
	mt = store_manifest_sniff(doc);
	if (store_media_is_index(mt)) {
		struct store_index *idx = NULL;
		const struct store_desc *d;
		int r;

		if (store_index_parse(buf, len, &idx, err) < 0)
			return strata_wrap(err, "'%s'", digest);
		d = pick_platform(idx);
		if (!d) {
			store_index_free(idx);
			return strata_fail_msg(err, ENOENT, "index '%s' has no image for linux/%s",
					       digest, store_arch());
		}
		if (store_media_is_index(d->media_type)) {
			store_index_free(idx);
			return strata_fail_msg(err, EINVAL, "index '%s' nests another index", digest);
		}
		r = store_image_load_digest(s, d->digest, out, err);
		store_index_free(idx);
		return r;
	}

	img = xcalloc(1, sizeof(*img));
	memcpy(img->manifest_digest, digest, DIGEST_STR_LEN);
	img->manifest_size = (int64_t)len;
	if (store_manifest_parse(buf, len, &img->manifest, err) < 0) {
		strata_wrap(err, "'%s'", digest);
		goto fail;
	}
	memcpy(img->id, img->manifest->config.digest, DIGEST_STR_LEN);
	if (store_blob_read(s, img->id, STORE_JSON_MAX, &cfg, &cfglen, err) < 0) {
		strata_wrap(err, "config of '%s'", digest);
		goto fail;
	}
	img->config = jv_loadb(cfg, cfglen, "image config", err);
	if (!img->config || !json_is_object(img->config)) {
		strata_fail_msg(err, EINVAL, "config '%s' is not a JSON object", img->id);
		goto fail;
	}
	diffs = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	img->diff_ids = jv_to_strv(diffs);
	if (!img->diff_ids)
		img->diff_ids = xcalloc(1, sizeof(char *));
	img->n_layers = strv_len(img->diff_ids);
	for (size_t i = 0; i < img->n_layers; i++) {
		if (!digest_is_valid(img->diff_ids[i])) {
			strata_fail_msg(err, EINVAL, "config '%s': invalid diff_id '%s'", img->id,
					img->diff_ids[i]);
			goto fail;
		}
	}
	if (img->n_layers != img->manifest->n_layers) {
		strata_fail_msg(err, EINVAL,
				"image '%s': manifest has %zu layers but config has %zu diff_ids",
				digest, img->manifest->n_layers, img->n_layers);
		goto fail;
	}
	*out = img;
	return 0;
fail:
	store_image_free(img);
	return -1;
}

int store_image_load_manifest(struct store *s, const char *digest, struct store_image **out,
			      struct strata_error **err)
{
	return store_image_load_digest(s, digest, out, err);
}

/* Gathers every tag of index.json whose entry resolves to @img's manifest. */
static void collect_tags(struct store_image *img, const json_t *list, const char *entry_digest)
{
	json_t *e;
	size_t i;

	json_array_foreach(list, i, e)
	{
		const char *ref = store_index_entry_ref(e);
		const char *dg = jv_str(e, "digest");

		if (ref && dg && strcmp(dg, entry_digest) == 0 && !strv_contains(img->tags, ref))
			strv_append(&img->tags, ref);
	}
}

int store_image_list(struct store *s, struct store_image ***out, size_t *n,
		     struct strata_error **err)
{
	cleanup_json json_t *idx = NULL;
	struct store_image **imgs;
	size_t count = 0, i;
	json_t *list, *e;

	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	idx = store_index_load(s, err);
	if (!idx) {
		store_unlock(s);
		return -1;
	}
	list = json_object_get(idx, "manifests");
	imgs = xcalloc(json_array_size(list) + 1, sizeof(*imgs));
	json_array_foreach(list, i, e)
	{
		const char *dg = jv_str(e, "digest");
		struct store_image *img = NULL;
		struct strata_error *lerr = NULL;
		bool dup = false;

		if (!dg)
			continue;
		if (store_image_load_digest(s, dg, &img, &lerr) < 0) {
			log_warn("index.json entry '%s': %s", dg, strata_error_msg(lerr));
			strata_error_free(lerr);
			continue;
		}
		for (size_t k = 0; k < count; k++) {
			if (strcmp(imgs[k]->manifest_digest, img->manifest_digest) == 0) {
				collect_tags(imgs[k], list, dg);
				dup = true;
				break;
			}
		}
		if (dup) {
			store_image_free(img);
			continue;
		}
		collect_tags(img, list, dg);
		imgs[count++] = img;
	}
	store_unlock(s);
	*out = imgs;
	*n = count;
	return 0;
}

int store_image_load(struct store *s, const char *spec, struct store_image **out,
		     struct strata_error **err)
{
	cleanup_json json_t *idx = NULL;
	struct store_ref ref;
	cleanup_free char *norm = NULL;
	const char *hex = NULL;
	json_t *list, *e;
	size_t i;
	int ret = -1;

	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	idx = store_index_load(s, err);
	if (!idx)
		goto out;
	list = json_object_get(idx, "manifests");

	/* A reference first, as docker does: "abc" is a name before it is an ID prefix. */
	if (store_ref_parse(spec, &ref, NULL) == 0) {
		norm = store_ref_string(&ref);
		if (ref.digest && !ref.tag) {
			/* name@digest: the manifest itself. */
			if (store_blob_exists(s, ref.digest)) {
				ret = store_image_load_digest(s, ref.digest, out, err);
				store_ref_release(&ref);
				if (ret == 0)
					collect_tags(*out, list, (*out)->manifest_digest);
				goto out;
			}
		}
		store_ref_release(&ref);
		json_array_foreach(list, i, e)
		{
			const char *r = store_index_entry_ref(e);

			if (r && strcmp(r, norm) == 0) {
				ret = store_image_load_digest(s, jv_str(e, "digest"), out, err);
				if (ret == 0)
					collect_tags(*out, list, jv_str(e, "digest"));
				goto out;
			}
		}
	}

	if (str_has_prefix(spec, "sha256:"))
		hex = spec + 7;
	else if (digest_is_hex_prefix(spec) && strlen(spec) >= 3)
		hex = spec;
	if (hex && digest_is_hex_prefix(hex)) {
		struct store_image *found = NULL;
		const char *found_entry = NULL;

		json_array_foreach(list, i, e)
		{
			const char *dg = jv_str(e, "digest");
			struct store_image *img = NULL;

			if (!dg || store_image_load_digest(s, dg, &img, NULL) < 0)
				continue;
			if (str_has_prefix(digest_hex(img->id), hex) ||
			    str_has_prefix(digest_hex(img->manifest_digest), hex) ||
			    str_has_prefix(digest_hex(dg), hex)) {
				if (found && strcmp(found->manifest_digest, img->manifest_digest) != 0) {
					store_image_free(img);
					store_image_free(found);
					strata_fail_msg(err, EINVAL,
							"image ID prefix '%s' is ambiguous", spec);
					goto out;
				}
				if (!found) {
					found = img;
					found_entry = dg;
					continue;
				}
			}
			store_image_free(img);
		}
		if (found) {
			collect_tags(found, list, found_entry);
			*out = found;
			ret = 0;
			goto out;
		}
	}
	strata_fail_msg(err, ENOENT, "image '%s' not found", spec);
out:
	store_unlock(s);
	return ret;
}

char **store_image_chain_ids(const struct store_image *img)
{
	return store_chain_ids(img->diff_ids, img->n_layers);
}

uint64_t store_image_size(const struct store_image *img)
{
	uint64_t total = (uint64_t)img->manifest->config.size;

	for (size_t i = 0; i < img->manifest->n_layers; i++)
		total += (uint64_t)img->manifest->layers[i].size;
	return total;
}

int store_image_write(struct store *s, const json_t *config, const struct store_desc *layers,
		      size_t n, const char *ref, char id[DIGEST_STR_LEN],
		      char manifest_digest[DIGEST_STR_LEN], struct strata_error **err)
{
	cleanup_json json_t *man = json_object();
	cleanup_free char *cfg = NULL;
	cleanup_free char *mbuf = NULL;
	char cfg_digest[DIGEST_STR_LEN], man_digest[DIGEST_STR_LEN];
	size_t cfglen, mlen;
	json_t *arr;

	cfg = jv_dump(config, &cfglen);
	if (store_blob_put_buf(s, cfg, cfglen, NULL, cfg_digest, err) < 0)
		return strata_wrap(err, "write image config");
	json_object_set_new(man, "schemaVersion", json_integer(2));
	jv_set_str(man, "mediaType", MEDIA_OCI_MANIFEST);
	json_object_set_new(man, "config", store_desc_json(MEDIA_OCI_CONFIG, cfg_digest,
							   (int64_t)cfglen));
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, store_desc_json(layers[i].media_type, layers[i].digest,
							   layers[i].size));
	json_object_set_new(man, "layers", arr);
	mbuf = jv_dump(man, &mlen);
	if (store_blob_put_buf(s, mbuf, mlen, NULL, man_digest, err) < 0)
		return strata_wrap(err, "write image manifest");
	if (ref && store_tag_set(s, ref, man_digest, MEDIA_OCI_MANIFEST, (int64_t)mlen, err) < 0)
		return -1;
	if (id)
		memcpy(id, cfg_digest, DIGEST_STR_LEN);
	if (manifest_digest)
		memcpy(manifest_digest, man_digest, DIGEST_STR_LEN);
	return 0;
}

json_t *store_config_new(int64_t created)
{
	cleanup_free char *ts = NULL;
	int64_t now = time_now_ns();

	if (created >= 0)
		ts = time_rfc3339(created, 0);
	else
		ts = time_rfc3339(now / 1000000000LL, (long)(now % 1000000000LL));
	return json_pack("{s:s, s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "created", ts,
			 "architecture", store_arch(), "os", "linux", "config", "rootfs", "type",
			 "layers", "diff_ids", "history");
}

void store_config_add_diff_id(json_t *config, const char *diff_id)
{
	json_t *rootfs = json_object_get(config, "rootfs");
	json_t *diffs;

	if (!json_is_object(rootfs)) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(config, "rootfs", rootfs);
	}
	diffs = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(diffs)) {
		diffs = json_array();
		json_object_set_new(rootfs, "diff_ids", diffs);
	}
	json_array_append_new(diffs, json_string(diff_id));
}

void store_config_add_history(json_t *config, int64_t created, const char *created_by,
			      const char *comment, const char *author, bool empty_layer)
{
	json_t *hist = json_object_get(config, "history");
	json_t *h = json_object();
	cleanup_free char *ts = NULL;

	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(config, "history", hist);
	}
	if (created >= 0) {
		ts = time_rfc3339(created, 0);
	} else {
		int64_t now = time_now_ns();

		ts = time_rfc3339(now / 1000000000LL, (long)(now % 1000000000LL));
	}
	jv_set_str(h, "created", ts);
	if (created_by)
		jv_set_str(h, "created_by", created_by);
	if (author)
		jv_set_str(h, "author", author);
	if (comment)
		jv_set_str(h, "comment", comment);
	if (empty_layer)
		json_object_set_new(h, "empty_layer", json_true());
	json_array_append_new(hist, h);
}
