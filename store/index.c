/*
 * Tags live in index.json, as the OCI image layout has them: one entry per
 * tagged manifest, named by the org.opencontainers.image.ref.name annotation
 * ("busybox:latest"), which is what `skopeo oci:ROOT:busybox:latest` and
 * `umoci --image ROOT:busybox:latest` look up.
 */
#include <errno.h>
#include <string.h>

#include "store/store-int.h"

const char *store_index_entry_ref(const json_t *entry)
{
	return jv_str(json_object_get(entry, "annotations"), ANNOTATION_REF_NAME);
}

char *store_ref_normalize(const char *ref, struct strata_error **err)
{
	struct store_ref r;
	char *out;

	if (store_ref_parse(ref, &r, err) < 0)
		return NULL;
	out = store_ref_string(&r);
	store_ref_release(&r);
	return out;
}

json_t *store_index_load(struct store *s, struct strata_error **err)
{
	json_t *idx = jv_load_at(s->root_fd, "index.json", STORE_JSON_MAX, err);

	if (!idx)
		return NULL;
	if (!json_is_object(idx) || !json_is_array(json_object_get(idx, "manifests"))) {
		json_decref(idx);
		strata_fail_msg(err, EINVAL, "index.json: 'manifests' is not an array");
		return NULL;
	}
	return idx;
}

int store_index_save(struct store *s, const json_t *index, struct strata_error **err)
{
	if (jv_write_at(s->root_fd, "index.json", index, err) < 0)
		return strata_wrap(err, "write index.json");
	return 0;
}

void store_tags_free(struct store_tag *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].ref);
		free(t[i].digest);
		free(t[i].media_type);
	}
	free(t);
}

int store_tags_list(struct store *s, struct store_tag **out, size_t *n, struct strata_error **err)
{
	cleanup_json json_t *idx = NULL;
	struct store_tag *t;
	json_t *list, *e;
	size_t i, k = 0;

	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	idx = store_index_load(s, err);
	store_unlock(s);
	if (!idx)
		return -1;
	list = json_object_get(idx, "manifests");
	t = xcalloc(json_array_size(list) + 1, sizeof(*t));
	json_array_foreach(list, i, e)
	{
		const char *ref = store_index_entry_ref(e);
		const char *dg = jv_str(e, "digest");

		if (!ref || !dg || !digest_is_valid(dg))
			continue;
		t[k].ref = xstrdup(ref);
		t[k].digest = xstrdup(dg);
		t[k].media_type = xstrdup(jv_str(e, "mediaType"));
		t[k].size = jv_int(e, "size", 0);
		k++;
	}
	*out = t;
	*n = k;
	return 0;
}

/* Drops every entry tagged @ref from @list; returns how many. */
static size_t drop_ref(json_t *list, const char *ref)
{
	size_t dropped = 0;

	for (size_t i = 0; i < json_array_size(list);) {
		const char *r = store_index_entry_ref(json_array_get(list, i));

		if (r && strcmp(r, ref) == 0) {
			json_array_remove(list, i);
			dropped++;
		} else {
			i++;
		}
	}
	return dropped;
}

int store_tag_set(struct store *s, const char *ref, const char *digest, const char *media_type,
		  int64_t size, struct strata_error **err)
{
	cleanup_free char *norm = store_ref_normalize(ref, err);
	cleanup_json json_t *idx = NULL;
	json_t *entry, *list;
	int ret;

	if (!norm)
		return -1;
	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "tag '%s': invalid digest '%s'", norm, digest);
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	idx = store_index_load(s, err);
	if (!idx) {
		store_unlock(s);
		return -1;
	}
	list = json_object_get(idx, "manifests");
	drop_ref(list, norm);
	entry = store_desc_json(media_type, digest, size);
	json_object_set_new(entry, "annotations", json_pack("{s:s}", ANNOTATION_REF_NAME, norm));
	json_array_append_new(list, entry);
	ret = store_index_save(s, idx, err);
	store_unlock(s);
	return ret;
}

int store_tag_remove(struct store *s, const char *ref, struct strata_error **err)
{
	cleanup_free char *norm = store_ref_normalize(ref, err);
	cleanup_json json_t *idx = NULL;
	int ret;

	if (!norm)
		return -1;
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	idx = store_index_load(s, err);
	if (!idx) {
		store_unlock(s);
		return -1;
	}
	if (drop_ref(json_object_get(idx, "manifests"), norm) == 0) {
		store_unlock(s);
		return strata_fail_msg(err, ENOENT, "no image tagged '%s'", norm);
	}
	ret = store_index_save(s, idx, err);
	store_unlock(s);
	return ret;
}
