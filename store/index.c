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

void store_index_scan_release(struct store_index_scan *sc)
{
	free(sc->entries);
	free(sc->buf);
	json_decref(sc->doc);
	memset(sc, 0, sizeof(*sc));
}

/* Adds an entry to @sc (room for @cap kept in *@cap). */
static struct store_index_entry *scan_add(struct store_index_scan *sc, size_t *cap)
{
	if (sc->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		sc->entries = xrealloc(sc->entries, *cap * sizeof(*sc->entries));
	}
	memset(&sc->entries[sc->n], 0, sizeof(sc->entries[0]));
	return &sc->entries[sc->n++];
}

/* A string member's value, or NULL (and the value skipped) when it is another kind. */
static const char *scan_str(struct jscan *j)
{
	if (jscan_peek(j) == '"')
		return jscan_string(j);
	jscan_skip(j);
	return NULL;
}

/* One element of "manifests": the members a listing needs, the rest checked and skipped. */
static void scan_entry(struct jscan *j, struct store_index_entry *e)
{
	bool first = true;
	char *key;

	if (!jscan_enter(j, '{')) {
		jscan_skip(j); /* not an object: an entry without a digest */
		return;
	}
	while (jscan_object_next(j, &first, &key)) {
		if (strcmp(key, "digest") == 0) {
			e->digest = scan_str(j);
		} else if (strcmp(key, "mediaType") == 0) {
			e->media_type = scan_str(j);
		} else if (strcmp(key, "size") == 0) {
			char c = jscan_peek(j);
			bool is_int = false;
			int64_t v = 0;

			if (c == '-' || (c >= '0' && c <= '9'))
				jscan_number(j, &v, &is_int);
			else
				jscan_skip(j);
			e->size = is_int ? v : 0;
		} else if (strcmp(key, "annotations") == 0 && jscan_enter(j, '{')) {
			bool afirst = true;
			char *akey;

			e->ref = NULL;
			while (jscan_object_next(j, &afirst, &akey)) {
				if (strcmp(akey, ANNOTATION_REF_NAME) == 0)
					e->ref = scan_str(j);
				else
					jscan_skip(j);
			}
		} else {
			jscan_skip(j);
		}
	}
}

/* The whole file with the scanner; false when it refuses it. */
static bool scan_doc(struct store_index_scan *sc, size_t len)
{
	struct jscan j;
	bool first = true, seen = false;
	size_t cap = 0;
	char *key;

	jscan_init(&j, sc->buf, len);
	if (!jscan_enter(&j, '{'))
		return false;
	while (jscan_object_next(&j, &first, &key)) {
		bool efirst = true;

		if (strcmp(key, "manifests") != 0) {
			jscan_skip(&j);
			continue;
		}
		if (seen || !jscan_enter(&j, '['))
			return false;
		seen = true;
		while (jscan_array_next(&j, &efirst))
			scan_entry(&j, scan_add(sc, &cap));
	}
	return seen && jscan_at_end(&j);
}

int store_index_scan(struct store *s, struct store_index_scan *out, struct strata_error **err)
{
	size_t len = 0, i;
	json_t *e;

	memset(out, 0, sizeof(*out));
	if (file_read_at(s->root_fd, "index.json", STORE_JSON_MAX, &out->buf, &len, NULL) == 0 &&
	    scan_doc(out, len))
		return 0;
	/* Refused, or unreadable: jansson says why, or reads what the scanner would not. */
	store_index_scan_release(out);
	if (!(out->doc = store_index_load(s, err)))
		return -1;
	out->entries = xcalloc(json_array_size(json_object_get(out->doc, "manifests")) + 1,
			       sizeof(*out->entries));
	json_array_foreach(json_object_get(out->doc, "manifests"), i, e)
	{
		struct store_index_entry *ie = &out->entries[out->n++];

		ie->digest = jv_str(e, "digest");
		ie->media_type = jv_str(e, "mediaType");
		ie->ref = store_index_entry_ref(e);
		ie->size = jv_int(e, "size", 0);
	}
	return 0;
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

/*
 * Rebuilds the entries of @idx without those named in @refs or whose digest
 * is in @digests (either map may be empty), and, when @unnamed_of is not
 * NULL, without unnamed entries of that digest. One pass: removing from a
 * JSON array one entry at a time would cost O(n) per name. Returns how many
 * went.
 */
static size_t index_filter(json_t *idx, const struct strmap *refs, const struct strmap *digests,
			   const char *unnamed_of)
{
	json_t *list = json_object_get(idx, "manifests");
	json_t *kept = json_array();
	size_t dropped = 0, i;
	json_t *e;

	json_array_foreach(list, i, e)
	{
		const char *r = store_index_entry_ref(e);
		const char *dg = jv_str(e, "digest");

		if ((r && strmap_has(refs, r)) || (dg && strmap_has(digests, dg)) ||
		    (!r && dg && unnamed_of && strcmp(dg, unnamed_of) == 0)) {
			dropped++;
			continue;
		}
		json_array_append(kept, e);
	}
	json_object_set_new(idx, "manifests", kept);
	return dropped;
}

/* Loads index.json under the exclusive lock, which the caller releases. */
static json_t *index_load_locked(struct store *s, struct strata_error **err)
{
	json_t *idx;

	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return NULL;
	idx = store_index_load(s, err);
	if (!idx)
		store_unlock(s);
	return idx;
}

int store_tags_set(struct store *s, char *const *refs, size_t n, const char *digest,
		   const char *media_type, int64_t size, struct strata_error **err)
{
	struct strmap names = STRMAP_INIT, none = STRMAP_INIT;
	cleanup_json json_t *idx = NULL;
	json_t *list;
	int ret;

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "tag '%s': invalid digest '%s'",
				       n ? refs[0] : "", digest);
	if (!(idx = index_load_locked(s, err)))
		return -1;
	for (size_t i = 0; i < n; i++)
		strmap_add(&names, refs[i]);
	index_filter(idx, &names, &none, digest);
	list = json_object_get(idx, "manifests");
	strmap_release(&names, NULL);
	for (size_t i = 0; i < n; i++) {
		json_t *entry;

		/* A name given twice is one entry. */
		if (!strmap_add(&names, refs[i]))
			continue;
		entry = store_desc_json(media_type, digest, size);
		json_object_set_new(entry, "annotations",
				    json_pack("{s:s}", ANNOTATION_REF_NAME, refs[i]));
		json_array_append_new(list, entry);
	}
	strmap_release(&names, NULL);
	ret = store_index_save(s, idx, err);
	store_unlock(s);
	return ret;
}

int store_tag_set(struct store *s, const char *ref, const char *digest, const char *media_type,
		  int64_t size, struct strata_error **err)
{
	cleanup_free char *norm = store_ref_normalize(ref, err);

	if (!norm)
		return -1;
	return store_tags_set(s, &norm, 1, digest, media_type, size, err);
}

int store_tags_remove(struct store *s, char *const *refs, size_t n_refs, char *const *digests,
		      size_t n_digests, struct strata_error **err)
{
	struct strmap names = STRMAP_INIT, dgs = STRMAP_INIT;
	cleanup_json json_t *idx = NULL;
	size_t dropped;
	int ret = 0;

	for (size_t i = 0; i < n_refs; i++)
		strmap_add(&names, refs[i]);
	for (size_t i = 0; i < n_digests; i++)
		strmap_add(&dgs, digests[i]);
	if (!(idx = index_load_locked(s, err))) {
		ret = -1;
		goto out;
	}
	dropped = index_filter(idx, &names, &dgs, NULL);
	if (dropped)
		ret = store_index_save(s, idx, err);
	store_unlock(s);
out:
	strmap_release(&names, NULL);
	strmap_release(&dgs, NULL);
	return ret;
}

int store_tag_remove(struct store *s, const char *ref, struct strata_error **err)
{
	cleanup_free char *norm = store_ref_normalize(ref, err);
	struct strmap names = STRMAP_INIT, none = STRMAP_INIT;
	cleanup_json json_t *idx = NULL;
	size_t dropped;
	int ret;

	if (!norm)
		return -1;
	if (!(idx = index_load_locked(s, err)))
		return -1;
	strmap_add(&names, norm);
	dropped = index_filter(idx, &names, &none, NULL);
	strmap_release(&names, NULL);
	if (dropped == 0) {
		store_unlock(s);
		return strata_fail_msg(err, ENOENT, "no image tagged '%s'", norm);
	}
	ret = store_index_save(s, idx, err);
	store_unlock(s);
	return ret;
}

int store_image_keep(struct store *s, const char *digest, const char *media_type, int64_t size,
		     struct strata_error **err)
{
	cleanup_json json_t *idx = NULL;
	json_t *list, *e;
	size_t i;
	int ret;

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "keep image: invalid digest '%s'", digest);
	if (!(idx = index_load_locked(s, err)))
		return -1;
	list = json_object_get(idx, "manifests");
	json_array_foreach(list, i, e)
	{
		const char *dg = jv_str(e, "digest");

		if (dg && strcmp(dg, digest) == 0) {
			store_unlock(s);
			return 0;
		}
	}
	json_array_append_new(list, store_desc_json(media_type, digest, size));
	ret = store_index_save(s, idx, err);
	store_unlock(s);
	return ret;
}
