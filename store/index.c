/*
 * Tags live in index.json, as the OCI image layout has them: one entry per
 * tagged manifest, named by the org.opencontainers.image.ref.name annotation
 * ("busybox:latest"), which is what `skopeo oci:ROOT:busybox:latest` and
 * `umoci --image ROOT:busybox:latest` look up.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
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
	free(sc->text);
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
		sc->list_start = (size_t)(j.p - sc->buf);
		while (jscan_array_next(&j, &efirst)) {
			struct store_index_entry *e = scan_add(sc, &cap);

			jscan_peek(&j); /* past the whitespace: the entry's first byte */
			e->raw_start = (size_t)(j.p - sc->buf);
			scan_entry(&j, e);
			e->raw_end = (size_t)(j.p - sc->buf);
		}
		sc->list_end = (size_t)(j.p - sc->buf) - 1; /* its ']' */
	}
	return seen && jscan_at_end(&j);
}

/*
 * Reads index.json whole into a buffer of its size, NUL-terminated (a
 * growing buffer copied 2.3 MB of a 10,000-name index twice over). -1 when
 * it cannot be read or is larger than STORE_JSON_MAX: store_index_load says why.
 */
static int index_read(struct store *s, char **out, size_t *len)
{
	cleanup_close int fd = openat(s->root_fd, "index.json", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	char *buf;
	size_t got = 0;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > STORE_JSON_MAX)
		return -1;
	/* A catalog of it takes about eight times its size (10,000 images: 20 MB). */
	xalloc_expect((size_t)st.st_size * 8);
	buf = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* an error, or shorter than its size: the careful reader decides */
			break;
		got += (size_t)n;
	}
	if (got != (size_t)st.st_size) {
		free(buf);
		return -1;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

/*
 * Scans @len bytes of index.json taken over in *@buf (a copy of them kept
 * in text when @with_text): true when the scanner accepts them.
 */
static bool scan_text(struct store_index_scan *out, char **buf, size_t len, bool with_text)
{
	out->buf = steal_ptr(buf);
	out->len = len;
	if (with_text) {
		out->text = xmalloc(len + 1);
		memcpy(out->text, out->buf, len + 1);
	}
	if (scan_doc(out, len))
		return true;
	free(out->entries);
	free(out->text);
	out->entries = NULL;
	out->text = NULL;
	out->n = 0;
	return false;
}

static int index_scan(struct store *s, struct store_index_scan *out, bool with_text,
		      struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0, i;
	json_t *e;

	memset(out, 0, sizeof(*out));
	if (index_read(s, &buf, &len) == 0 && scan_text(out, &buf, len, with_text))
		return 0;
	/* Refused, or unreadable: jansson says why, or reads what the scanner would not. */
	store_index_scan_release(out);
	if (!(out->doc = store_index_load(s, err)))
		return -1;
	if (with_text) {
		/* Its compact form has what the scanner accepts: a rewrite starts from that. */
		buf = jv_dump(out->doc, &len);
		json_decref(steal_ptr(&out->doc));
		if (!scan_text(out, &buf, len, true))
			return strata_fail_msg(err, EINVAL, "index.json: cannot be rewritten");
		return 0;
	}
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

int store_index_scan(struct store *s, struct store_index_scan *out, struct strata_error **err)
{
	return index_scan(s, out, false, err);
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

/* What a rewrite of index.json drops: names in @refs, digests in @digests, unnamed entries of @unnamed_of. */
struct index_drop {
	const struct strmap *refs, *digests;
	const char *unnamed_of;
};

static bool index_drops(const struct index_drop *d, const struct store_index_entry *e)
{
	return (e->ref && strmap_has(d->refs, e->ref)) ||
	       (e->digest && strmap_has(d->digests, e->digest)) ||
	       (!e->ref && e->digest && d->unnamed_of && strcmp(e->digest, d->unnamed_of) == 0);
}

/*
 * Rewrites index.json (caller holds the exclusive lock) as text: the bytes
 * around its "manifests" array as they were, the entries @drop keeps
 * copied verbatim, then the @n_add entries @add (JSON objects). No JSON
 * tree is built nor dumped: a store of 10,000 names costs a copy of the
 * file, not tens of thousands of values parsed and printed again. Nothing
 * is written when nothing is dropped nor added. *@dropped says how many
 * went.
 */
static int index_rewrite(struct store *s, const struct index_drop *drop, char *const *add,
			 size_t n_add, size_t *dropped, struct strata_error **err)
{
	struct store_index_scan sc;
	cleanup_free char *out = NULL;
	size_t kept = 0, cap, len;
	int ret = 0;

	*dropped = 0;
	if (index_scan(s, &sc, true, err) < 0)
		return -1;
	/* The new file is at most the old one, the added entries and a comma each. */
	cap = sc.len + 1;
	for (size_t i = 0; i < n_add; i++)
		cap += strlen(add[i]) + 1;
	out = xmalloc(cap);
	memcpy(out, sc.text, sc.list_start);
	len = sc.list_start;
	for (size_t i = 0; i < sc.n; i++) {
		const struct store_index_entry *e = &sc.entries[i];

		if (index_drops(drop, e)) {
			(*dropped)++;
			continue;
		}
		if (kept++)
			out[len++] = ',';
		memcpy(out + len, sc.text + e->raw_start, e->raw_end - e->raw_start);
		len += e->raw_end - e->raw_start;
	}
	for (size_t i = 0; i < n_add; i++) {
		size_t n = strlen(add[i]);

		if (kept++)
			out[len++] = ',';
		memcpy(out + len, add[i], n);
		len += n;
	}
	memcpy(out + len, sc.text + sc.list_end, sc.len - sc.list_end);
	len += sc.len - sc.list_end;
	if ((*dropped || n_add) &&
	    (ret = file_write_atomic_at(s->root_fd, "index.json", out, len, 0644, err)) < 0)
		strata_wrap(err, "write index.json");
	store_index_scan_release(&sc);
	return ret;
}

/* The JSON text of an index.json entry: the descriptor, and its name when @ref is not NULL. */
static char *index_entry_text(const char *media_type, const char *digest, int64_t size,
			      const char *ref)
{
	cleanup_json json_t *entry = store_desc_json(media_type, digest, size);

	if (ref)
		json_object_set_new(entry, "annotations",
				    json_pack("{s:s}", ANNOTATION_REF_NAME, ref));
	return jv_dump(entry, NULL);
}

int store_tags_set(struct store *s, char *const *refs, size_t n, const char *digest,
		   const char *media_type, int64_t size, struct strata_error **err)
{
	struct strmap names = STRMAP_INIT, none = STRMAP_INIT;
	struct index_drop drop = { &names, &none, digest };
	char **add = NULL;
	size_t n_add = 0, dropped;
	int ret;

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "tag '%s': invalid digest '%s'",
				       n ? refs[0] : "", digest);
	add = xcalloc(n + 1, sizeof(*add));
	for (size_t i = 0; i < n; i++) {
		/* A name given twice is one entry. */
		if (strmap_add(&names, refs[i]))
			add[n_add++] = index_entry_text(media_type, digest, size, refs[i]);
	}
	ret = store_lock(s, STORE_LOCK_EXCLUSIVE, err);
	if (ret == 0) {
		ret = index_rewrite(s, &drop, add, n_add, &dropped, err);
		store_unlock(s);
	}
	strmap_release(&names, NULL);
	strv_free(add);
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
	struct index_drop drop = { &names, &dgs, NULL };
	size_t dropped;
	int ret;

	for (size_t i = 0; i < n_refs; i++)
		strmap_add(&names, refs[i]);
	for (size_t i = 0; i < n_digests; i++)
		strmap_add(&dgs, digests[i]);
	ret = store_lock(s, STORE_LOCK_EXCLUSIVE, err);
	if (ret == 0) {
		ret = index_rewrite(s, &drop, NULL, 0, &dropped, err);
		store_unlock(s);
	}
	strmap_release(&names, NULL);
	strmap_release(&dgs, NULL);
	return ret;
}

int store_tag_remove(struct store *s, const char *ref, struct strata_error **err)
{
	cleanup_free char *norm = store_ref_normalize(ref, err);
	struct strmap names = STRMAP_INIT, none = STRMAP_INIT;
	struct index_drop drop = { &names, &none, NULL };
	size_t dropped = 0;
	int ret;

	if (!norm)
		return -1;
	strmap_add(&names, norm);
	ret = store_lock(s, STORE_LOCK_EXCLUSIVE, err);
	if (ret == 0) {
		ret = index_rewrite(s, &drop, NULL, 0, &dropped, err);
		store_unlock(s);
	}
	strmap_release(&names, NULL);
	if (ret == 0 && dropped == 0)
		return strata_fail_msg(err, ENOENT, "no image tagged '%s'", norm);
	return ret;
}

int store_image_keep(struct store *s, const char *digest, const char *media_type, int64_t size,
		     struct strata_error **err)
{
	struct strmap none = STRMAP_INIT;
	struct index_drop drop = { &none, &none, NULL };
	struct store_index_scan sc;
	char *add[2] = { NULL, NULL };
	size_t dropped;
	bool present = false;
	int ret;

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "keep image: invalid digest '%s'", digest);
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	ret = store_index_scan(s, &sc, err);
	for (size_t i = 0; ret == 0 && i < sc.n && !present; i++)
		present = sc.entries[i].digest && strcmp(sc.entries[i].digest, digest) == 0;
	store_index_scan_release(&sc);
	if (ret == 0 && !present) {
		add[0] = index_entry_text(media_type, digest, size, NULL);
		ret = index_rewrite(s, &drop, add, 1, &dropped, err);
		free(add[0]);
	}
	store_unlock(s);
	return ret;
}
