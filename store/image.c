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
	strv_free(img->tag_digests);
	strv_free(img->digests);
	strv_free(img->diff_ids);
	free(img);
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

/* Reads @img's config blob and fills config, diff_ids and n_layers. */
static int image_load_config(struct store *s, struct store_image *img, struct strata_error **err)
{
	cleanup_free char *cfg = NULL;
	size_t cfglen = 0;
	json_t *diffs;

	if (store_blob_read(s, img->id, STORE_JSON_MAX, &cfg, &cfglen, err) < 0)
		return strata_wrap(err, "config of '%s'", img->manifest_digest);
	img->config = jv_loadb(cfg, cfglen, "image config", err);
	if (!img->config || !json_is_object(img->config))
		return strata_fail_msg(err, EINVAL, "config '%s' is not a JSON object", img->id);
	diffs = json_object_get(json_object_get(img->config, "rootfs"), "diff_ids");
	img->diff_ids = jv_to_strv(diffs);
	if (!img->diff_ids)
		img->diff_ids = xcalloc(1, sizeof(char *));
	img->n_layers = strv_len(img->diff_ids);
	for (size_t i = 0; i < img->n_layers; i++)
		if (!digest_is_valid(img->diff_ids[i]))
			return strata_fail_msg(err, EINVAL, "config '%s': invalid diff_id '%s'",
					       img->id, img->diff_ids[i]);
	if (img->n_layers != img->manifest->n_layers)
		return strata_fail_msg(err, EINVAL,
				       "image '%s': manifest has %zu layers but config has %zu diff_ids",
				       img->manifest_digest, img->manifest->n_layers, img->n_layers);
	return 0;
}

/*
 * Loads the image of manifest (or index) @digest; with @with_config false
 * the config is left unread (config and diff_ids NULL, n_layers 0), which is
 * all a listing of IDs and sizes needs.
 */
static int image_load(struct store *s, const char *digest, bool with_config,
		      struct store_image **out, struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	cleanup_json json_t *doc = NULL;
	struct store_image *img;
	size_t len = 0;
	const char *mt;

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
		r = image_load(s, d->digest, with_config, out, err);
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
	if (with_config && image_load_config(s, img, err) < 0)
		goto fail;
	*out = img;
	return 0;
fail:
	store_image_free(img);
	return -1;
}

int store_image_load_digest(struct store *s, const char *digest, struct store_image **out,
		      struct strata_error **err)
{
	return image_load(s, digest, true, out, err);
}

int store_image_load_manifest(struct store *s, const char *digest, struct store_image **out,
			      struct strata_error **err)
{
	return store_image_load_digest(s, digest, out, err);
}

/*
 * The catalog: index.json read once per command, and hash maps from names,
 * entry digests, manifest digests and image IDs to what they name, so that
 * every lookup and listing of a command costs O(1) per name instead of a
 * scan of index.json per name.
 *
 * What a listing shows of each image (ID, size, creation time) comes from
 * ROOT/image-summary, one line per manifest digest:
 *
 *   strata-image-summary 2
 *   <manifest digest> <config digest> <bytes of config + layer tars> <created|->
 *   ...
 *   end
 *
 * A manifest is content-addressed, so its line can never become wrong; a
 * listing reads this one file instead of two blobs per image, and loads
 * only the manifests it has no line for, then rewrites the file (without
 * fsync: a lost or torn file, which has no "end", is remade from the blobs).
 * Indexes (manifest lists) are not summarised: their pick depends on the
 * machine.
 */

#define SUMMARY_FILE "image-summary"
#define SUMMARY_HEADER "strata-image-summary 2\n"

/* One distinct digest of index.json (a manifest, or an index naming one). */
struct cat_entry {
	char digest[DIGEST_STR_LEN];
	char manifest[DIGEST_STR_LEN]; /* the manifest it resolves to (itself unless an index) */
	char id[DIGEST_STR_LEN];       /* its image ID; empty when it does not load */
	uint64_t bytes;		       /* config + layer tars (store_image_size_unpacked) */
	char *created;		       /* config "created", or NULL */
	bool is_index;
	struct cat_id *cid;
};

/* One image ID (config digest) and everything in index.json that resolves to it. */
struct cat_id {
	char id[DIGEST_STR_LEN];
	struct cat_entry **entries; /* index order; the first is the one loaded by ID */
	size_t n_entries, cap_entries;
	const char **names;	    /* borrowed; index order */
	const char **name_digests;  /* the entry digest of each name */
	size_t n_names, cap_names;
};

struct store_catalog {
	struct store *s;
	struct store_index_scan index; /* the names point into it */
	struct cat_entry **entries; /* distinct entry digests, index order */
	size_t n_entries;
	struct cat_id **ids;	    /* distinct IDs, in the order first seen */
	size_t n_ids;
	struct strmap by_entry;	    /* entry digest -> struct cat_entry */
	struct strmap by_manifest;  /* manifest digest (also of an index's pick) -> struct cat_entry;
				       made at the first lookup (a listing needs none) */
	bool manifests_mapped;
	struct strmap by_id;	    /* image ID -> struct cat_id */
	struct strmap by_name;	    /* name -> struct cat_entry */
};

void store_catalog_free(struct store_catalog *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_entries; i++) {
		free(c->entries[i]->created);
		free(c->entries[i]);
	}
	for (size_t i = 0; i < c->n_ids; i++) {
		free(c->ids[i]->entries);
		free(c->ids[i]->names);
		free(c->ids[i]->name_digests);
		free(c->ids[i]);
	}
	free(c->entries);
	free(c->ids);
	strmap_release(&c->by_entry, NULL);
	strmap_release(&c->by_manifest, NULL);
	strmap_release(&c->by_id, NULL);
	strmap_release(&c->by_name, NULL);
	store_index_scan_release(&c->index);
	free(c);
}

static void id_add_name(struct cat_id *id, const char *name, const char *digest)
{
	if (id->n_names == id->cap_names) {
		id->cap_names = id->cap_names ? id->cap_names * 2 : 4;
		id->names = xrealloc(id->names, id->cap_names * sizeof(*id->names));
		id->name_digests = xrealloc(id->name_digests, id->cap_names * sizeof(char *));
	}
	id->names[id->n_names] = name;
	id->name_digests[id->n_names] = digest;
	id->n_names++;
}

/* A summary line, parsed in place. */
struct summary_line {
	const char *manifest, *id, *created;
	uint64_t bytes;
};

/* ROOT/image-summary as read: its lines, and a map of them by manifest digest. */
struct summary {
	char *buf;		   /* the file; the lines point into it */
	struct summary_line *lines;
	struct strmap by_manifest; /* manifest digest (borrowed) -> struct summary_line */
};

static void summary_release(struct summary *sm)
{
	strmap_release(&sm->by_manifest, NULL);
	free(sm->lines);
	free(sm->buf);
}

/* Reads ROOT/image-summary into @sm. A missing, torn or unknown file reads as empty. */
static void summary_read(struct store *s, struct summary *sm)
{
	char *p, *nl;
	size_t len = 0, n = 0;

	memset(sm, 0, sizeof(*sm));
	if (file_read_regular_at(s->root_fd, SUMMARY_FILE, 256u << 20, &sm->buf, &len, NULL) < 0)
		return;
	if (!str_has_prefix(sm->buf, SUMMARY_HEADER) || len < 4 ||
	    !str_has_suffix(sm->buf, "\nend\n"))
		return;
	for (p = sm->buf; (p = memchr(p, '\n', len - (size_t)(p - sm->buf))); p++)
		n++;
	sm->lines = xcalloc(n + 1, sizeof(*sm->lines));
	strmap_init_sized(&sm->by_manifest, n, true);
	n = 0;
	for (p = sm->buf + strlen(SUMMARY_HEADER); (nl = strchr(p, '\n')); p = nl + 1) {
		struct summary_line *l = &sm->lines[n];
		char *f[4];
		char *q = p, *end = NULL;
		size_t k = 0;

		*nl = '\0';
		while (k < 4 && q) {
			f[k++] = q;
			q = strchr(q, ' ');
			if (q)
				*q++ = '\0';
		}
		/* A bad manifest digest matches no entry of index.json; the ID is shown. */
		if (k != 4 || q || !digest_is_valid(f[1]))
			continue;
		l->manifest = f[0];
		l->id = f[1];
		l->bytes = strtoull(f[2], &end, 10);
		l->created = strcmp(f[3], "-") == 0 ? NULL : f[3];
		if (end && !*end && strmap_put(&sm->by_manifest, f[0], l, NULL))
			n++;
	}
}

/* Rewrites ROOT/image-summary with the catalog's manifests; failures only cost speed. */
static void summary_write(struct store_catalog *c)
{
	struct sbuf b = SBUF_INIT;
	struct strata_error *err = NULL;

	sbuf_addstr(&b, SUMMARY_HEADER);
	for (size_t i = 0; i < c->n_entries; i++) {
		const struct cat_entry *ce = c->entries[i];

		if (!ce->id[0] || ce->is_index)
			continue;
		sbuf_addf(&b, "%s %s %llu %s\n", ce->digest, ce->id, (unsigned long long)ce->bytes,
			  ce->created && !strpbrk(ce->created, " \n") ? ce->created : "-");
	}
	sbuf_addstr(&b, "end\n");
	if (file_write_replace_at(c->s->root_fd, SUMMARY_FILE, b.buf, b.len, 0644, &err) < 0) {
		log_debug("%s: %s", SUMMARY_FILE, strata_error_msg(err));
		strata_error_free(err);
	}
	sbuf_release(&b);
}

/* Fills @ce from its blobs (manifest and config). */
static int entry_load(struct store *s, struct cat_entry *ce, struct strata_error **err)
{
	struct store_image *img = NULL;
	const char *created;

	if (image_load(s, ce->digest, true, &img, err) < 0)
		return -1;
	memcpy(ce->manifest, img->manifest_digest, DIGEST_STR_LEN);
	memcpy(ce->id, img->id, DIGEST_STR_LEN);
	ce->bytes = store_image_size_unpacked(s, img);
	created = jv_str(img->config, "created");
	ce->created = created ? xstrdup(created) : NULL;
	ce->is_index = strcmp(ce->manifest, ce->digest) != 0;
	store_image_free(img);
	return 0;
}

static void catalog_add_to_id(struct store_catalog *c, struct cat_entry *ce)
{
	struct cat_id *id = strmap_get(&c->by_id, ce->id);

	if (!id) {
		id = xcalloc(1, sizeof(*id));
		memcpy(id->id, ce->id, DIGEST_STR_LEN);
		strmap_put(&c->by_id, id->id, id, NULL);
		c->ids[c->n_ids++] = id;
	}
	if (id->n_entries == id->cap_entries) {
		id->cap_entries = id->cap_entries ? id->cap_entries * 2 : 2;
		id->entries = xrealloc(id->entries, id->cap_entries * sizeof(*id->entries));
	}
	id->entries[id->n_entries++] = ce;
	ce->cid = id;
}

/* Fills by_manifest, once: every entry that loaded, by its digest and its manifest's. */
static void catalog_map_manifests(struct store_catalog *c)
{
	if (c->manifests_mapped)
		return;
	c->manifests_mapped = true;
	strmap_init_sized(&c->by_manifest, c->n_entries, true);
	for (size_t i = 0; i < c->n_entries; i++) {
		struct cat_entry *ce = c->entries[i];

		if (!ce->cid)
			continue;
		strmap_put(&c->by_manifest, ce->digest, ce, NULL);
		strmap_put(&c->by_manifest, ce->manifest, ce, NULL);
	}
}

int store_catalog_open(struct store *s, struct store_catalog **out, struct strata_error **err)
{
	struct store_catalog *c = xcalloc(1, sizeof(*c));
	struct summary summary;
	size_t loaded = 0, summarised = 0;
	int r;

	c->s = s;
	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		goto fail;
	r = store_index_scan(s, &c->index, err);
	store_unlock(s);
	if (r < 0)
		goto fail;
	summary_read(s, &summary);
	c->entries = xcalloc(c->index.n + 1, sizeof(*c->entries));
	c->ids = xcalloc(c->index.n + 1, sizeof(*c->ids));
	/* Keys borrowed from the entries and the scan's buffer, which the catalog holds. */
	strmap_init_sized(&c->by_entry, c->index.n, true);
	strmap_init_sized(&c->by_id, c->index.n, true);
	strmap_init_sized(&c->by_name, c->index.n, true);
	for (size_t i = 0; i < c->index.n; i++) {
		const char *dg = c->index.entries[i].digest;
		const char *ref = c->index.entries[i].ref;
		struct cat_entry *ce;

		if (!dg || !digest_is_valid(dg))
			continue;
		ce = strmap_get(&c->by_entry, dg);
		if (!ce) {
			const struct summary_line *l = strmap_get(&summary.by_manifest, dg);
			struct strata_error *lerr = NULL;

			ce = xcalloc(1, sizeof(*ce));
			memcpy(ce->digest, dg, DIGEST_STR_LEN);
			strmap_put(&c->by_entry, ce->digest, ce, NULL);
			c->entries[c->n_entries++] = ce;
			if (l) {
				memcpy(ce->manifest, dg, DIGEST_STR_LEN);
				snprintf(ce->id, sizeof(ce->id), "%s", l->id);
				ce->bytes = l->bytes;
				ce->created = xstrdup(l->created);
				summarised++;
				catalog_add_to_id(c, ce);
			} else if (entry_load(s, ce, &lerr) < 0) {
				log_warn("index.json entry '%s': %s", dg, strata_error_msg(lerr));
				strata_error_free(lerr);
			} else {
				loaded++;
				catalog_add_to_id(c, ce);
			}
		}
		if (!ref)
			continue;
		/* A name is unique in index.json; should it appear twice, the first wins. */
		if (strmap_put(&c->by_name, ref, ce, NULL) && ce->cid)
			id_add_name(ce->cid, ref, ce->digest);
	}
	/* New manifests were read, or lines of gone ones linger: the next command reads one file. */
	if (loaded || summarised != summary.by_manifest.len)
		summary_write(c);
	summary_release(&summary);
	*out = c;
	return 0;
fail:
	store_catalog_free(c);
	return -1;
}

/* Copies the names (unless @flags has STORE_CATALOG_NO_NAMES) and entry digests of @id into @img. */
static void image_fill_names(struct store_image *img, const struct cat_id *id, unsigned flags)
{
	img->digests = xcalloc(id->n_entries + 1, sizeof(char *));
	for (size_t i = 0; i < id->n_entries; i++)
		img->digests[i] = xstrdup(id->entries[i]->digest);
	if (flags & STORE_CATALOG_NO_NAMES)
		return;
	img->tags = xcalloc(id->n_names + 1, sizeof(char *));
	img->tag_digests = xcalloc(id->n_names + 1, sizeof(char *));
	for (size_t i = 0; i < id->n_names; i++) {
		img->tags[i] = xstrdup(id->names[i]);
		img->tag_digests[i] = xstrdup(id->name_digests[i]);
	}
}

/* Loads the image of catalog entry @ce (its config too, unless STORE_CATALOG_NO_CONFIG), names filled in. */
static int catalog_image(struct store_catalog *c, struct cat_entry *ce, unsigned flags,
			 struct store_image **out, struct strata_error **err)
{
	struct store_image *img = NULL;

	if ((flags & STORE_CATALOG_NO_BLOBS) && ce->cid) {
		/* What an rmi of 10,000 images needs, without reading 10,000 manifests. */
		img = xcalloc(1, sizeof(*img));
		memcpy(img->manifest_digest, ce->manifest, DIGEST_STR_LEN);
		memcpy(img->id, ce->cid->id, DIGEST_STR_LEN);
		image_fill_names(img, ce->cid, flags);
		*out = img;
		return 0;
	}
	if (image_load(c->s, ce->digest, !(flags & STORE_CATALOG_NO_CONFIG), &img, err) < 0)
		return -1;
	if (!ce->cid) {
		/* It did not load a moment ago (the warning said why); it does now. */
		*out = img;
		return 0;
	}
	if (strcmp(img->id, ce->cid->id) != 0) {
		/* A blob cannot change: a summary line that disagrees is corruption. */
		store_image_free(img);
		return strata_fail_msg(err, EIO,
				       "manifest '%s' names config '%s', its summary said '%s' (remove '%s')",
				       ce->digest, img->id, ce->cid->id, SUMMARY_FILE);
	}
	image_fill_names(img, ce->cid, flags);
	*out = img;
	return 0;
}

void store_image_infos_free(struct store_image_info *infos, size_t n)
{
	(void)n; /* one block: see store_catalog_list */
	free(infos);
}

/* Copies @str to *@at and steps past it. */
static char *block_str(char **at, const char *str, size_t len)
{
	char *out = *at;

	memcpy(out, str, len);
	out[len] = '\0';
	*at += len + 1;
	return out;
}

/*
 * The listing is one allocation: the infos, then every pointer array, then
 * every string. At 10,000 images, an allocation per string and per array
 * (60,000 of them) cost more than reading the store.
 */
void store_catalog_list(const struct store_catalog *c, struct store_image_info **out, size_t *n)
{
	size_t ptrs = 0, bytes = 0;
	struct store_image_info *infos;
	char **pp, *sp;

	for (size_t i = 0; i < c->n_ids; i++) {
		const struct cat_id *id = c->ids[i];
		const struct cat_entry *ce = id->entries[0];

		ptrs += 2 * (id->n_names + 1) + id->n_entries + 1;
		bytes += (id->n_names + id->n_entries) * DIGEST_STR_LEN;
		for (size_t k = 0; k < id->n_names; k++)
			bytes += strlen(id->names[k]) + 1;
		if (ce->created)
			bytes += strlen(ce->created) + 1;
	}
	infos = xcalloc(1, (c->n_ids + 1) * sizeof(*infos) + ptrs * sizeof(char *) + bytes);
	pp = (char **)(infos + c->n_ids + 1);
	sp = (char *)(pp + ptrs);
	for (size_t i = 0; i < c->n_ids; i++) {
		const struct cat_id *id = c->ids[i];
		const struct cat_entry *ce = id->entries[0];
		struct store_image_info *in = &infos[i];

		memcpy(in->id, id->id, DIGEST_STR_LEN);
		memcpy(in->manifest_digest, ce->manifest, DIGEST_STR_LEN);
		in->size = ce->bytes;
		in->created = ce->created ? block_str(&sp, ce->created, strlen(ce->created)) : NULL;
		in->tags = pp;
		pp += id->n_names + 1;
		in->tag_digests = pp;
		pp += id->n_names + 1;
		in->digests = pp;
		pp += id->n_entries + 1;
		for (size_t k = 0; k < id->n_names; k++) {
			in->tags[k] = block_str(&sp, id->names[k], strlen(id->names[k]));
			in->tag_digests[k] = block_str(&sp, id->name_digests[k], strlen(id->name_digests[k]));
		}
		for (size_t k = 0; k < id->n_entries; k++)
			in->digests[k] = block_str(&sp, id->entries[k]->digest, strlen(id->entries[k]->digest));
	}
	*out = infos;
	*n = c->n_ids;
}

/* Adds the IDs whose ID, entry digest or manifest digest starts with @hex to @found. */
static void match_prefix(struct store_catalog *c, const char *hex, struct strmap *found,
			 struct cat_id **first)
{
	for (size_t i = 0; i < c->n_entries; i++) {
		struct cat_entry *ce = c->entries[i];

		if (!ce->cid)
			continue;
		if (str_has_prefix(digest_hex(ce->id), hex) || str_has_prefix(digest_hex(ce->digest), hex) ||
		    str_has_prefix(digest_hex(ce->manifest), hex)) {
			if (strmap_add(found, ce->id) && !*first)
				*first = ce->cid;
		}
	}
}

int store_catalog_find(struct store_catalog *c, const char *spec, unsigned flags,
		       struct store_image **out, struct strata_error **err)
{
	struct cat_entry *ce = NULL;
	const char *hex = NULL;
	struct store_ref ref;

	catalog_map_manifests(c);
	/* A reference first, as docker does: "abc" is a name before it is an ID prefix. */
	if (store_ref_parse(spec, &ref, NULL) == 0) {
		if (ref.digest && !ref.tag) {
			/* name@digest: that manifest, tagged or not, as long as it is here. */
			ce = strmap_get(&c->by_manifest, ref.digest);
			if (!ce && store_blob_exists(c->s, ref.digest)) {
				struct store_image *img = NULL;
				struct cat_id *id;
				int r = image_load(c->s, ref.digest, !(flags & STORE_CATALOG_NO_CONFIG),
						   &img, err);

				store_ref_release(&ref);
				if (r < 0)
					return -1;
				id = strmap_get(&c->by_id, img->id);
				if (id)
					image_fill_names(img, id, flags);
				*out = img;
				return 0;
			}
		} else {
			cleanup_free char *norm = store_ref_string(&ref);

			ce = strmap_get(&c->by_name, norm);
		}
		store_ref_release(&ref);
		/* The entry named, or the one of that digest: that very manifest, not the ID's first. */
		if (ce)
			return catalog_image(c, ce, flags, out, err);
	}

	if (str_has_prefix(spec, "sha256:"))
		hex = spec + 7;
	else if (strlen(spec) >= 3)
		hex = spec;
	if (hex && digest_is_hex_prefix(hex)) {
		struct strmap found = STRMAP_INIT;
		struct cat_id *first = NULL;
		size_t nfound;

		if (strlen(hex) == DIGEST_HEX_LEN) {
			cleanup_free char *full = xasprintf("sha256:%s", hex);
			struct cat_id *id = strmap_get(&c->by_id, full);

			/* A full ID, else a full manifest digest. */
			if (id)
				return catalog_image(c, id->entries[0], flags, out, err);
			ce = strmap_get(&c->by_manifest, full);
			if (ce)
				return catalog_image(c, ce, flags, out, err);
		}
		match_prefix(c, hex, &found, &first);
		nfound = found.len;
		strmap_release(&found, NULL);
		if (nfound > 1)
			return strata_fail_msg(err, EINVAL,
					       "image ID prefix '%s' is ambiguous: %zu images match",
					       spec, nfound);
		if (first) {
			/* An entry whose own digest matched is loaded itself, else the ID's first. */
			for (size_t i = 0; i < first->n_entries; i++)
				if (str_has_prefix(digest_hex(first->entries[i]->digest), hex))
					return catalog_image(c, first->entries[i], flags, out, err);
			return catalog_image(c, first->entries[0], flags, out, err);
		}
	}
	return strata_fail_msg(err, ENOENT, "image '%s' not found", spec);
}

bool store_catalog_has_name(const struct store_catalog *c, const char *name)
{
	return strmap_has(&c->by_name, name);
}

size_t store_catalog_name_count(const struct store_catalog *c, const char *id)
{
	const struct cat_id *ci = strmap_get(&c->by_id, id);

	return ci ? ci->n_names : 0;
}

int store_image_list(struct store *s, struct store_image_info **out, size_t *n,
		     struct strata_error **err)
{
	struct store_catalog *c = NULL;

	if (store_catalog_open(s, &c, err) < 0)
		return -1;
	store_catalog_list(c, out, n);
	store_catalog_free(c);
	return 0;
}

int store_image_load(struct store *s, const char *spec, struct store_image **out,
		     struct strata_error **err)
{
	struct store_catalog *c = NULL;
	int r;

	if (store_catalog_open(s, &c, err) < 0)
		return -1;
	r = store_catalog_find(c, spec, 0, out, err);
	store_catalog_free(c);
	return r;
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
	return store_image_write_annotated(s, config, layers, n, NULL, ref, id, manifest_digest,
					   err);
}

int store_image_write_annotated(struct store *s, const json_t *config,
				const struct store_desc *layers, size_t n,
				const json_t *annotations, const char *ref, char id[DIGEST_STR_LEN],
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
	if (annotations && json_object_size(annotations))
		json_object_set_new(man, "annotations", json_deep_copy(annotations));
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
