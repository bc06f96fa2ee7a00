/*
 * Image commands: images, tag, rmi, inspect, history, import, export, save,
 * load, gc, fsck.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/template.h"
#include "launch/launch.h"
#include "layers/layers.h"
#include "overlay/overlay.h"
#include "registry/registry.h"

/* Splits "name:tag" / "name@digest" into repository and tag columns. */
static void split_ref(const char *ref, char **repo, char **tag)
{
	struct store_ref r;

	if (store_ref_parse(ref, &r, NULL) < 0) {
		*repo = xstrdup(ref);
		*tag = xstrdup("<none>");
		return;
	}
	*repo = store_ref_name(&r);
	*tag = xstrdup(r.tag ? r.tag : "<none>");
	store_ref_release(&r);
}

static char *short_id(const char *digest)
{
	return xstrndup(digest_hex(digest), 12);
}

/* ---- images ---- */

static int64_t created_sec(const char *created)
{
	int64_t sec = 0;

	if (created && time_parse_rfc3339(created, &sec, NULL) == 0)
		return sec;
	return 0;
}

/* The fields of a row of `images --format`, podman's names, and the headers not derived from them. */
static const char *const image_fields[] = {
	"ID",	       "Id",	      "ParentId",  "Repository", "Tag",	      "Digest",
	"RepoTags",    "RepoDigests", "Names",	   "History",	 "Created",   "CreatedSince",
	"CreatedAt",   "CreatedTime", "Size",	   "SharedSize", "VirtualSize", "ReadOnly",
	"IsReadOnly",  "Dangling",    "Labels",	   "Containers", NULL,
};
static const char *const image_headers[] = {
	"ID", "IMAGE ID", "Created", "CREATED", "CreatedSince", "CREATED", "ReadOnly", "R/O",
	"IsReadOnly", "R/O", NULL,
};

static const char *const image_filter_keys[] = { "dangling", "reference", "label", "before",
						 "since", "until", "id", NULL };

/* What the rows and filters of one `images` need beyond the listing, read once. */
struct images_ctx {
	struct store *s;
	struct cmd_filters filters;
	bool want_labels, want_containers;
	struct strmap users; /* image ID -> containers using it (as a count) */
	struct strmap used;  /* the fields the template reads */
	json_t *row;	     /* the row object, reused (image_row) */
	int64_t before, since;
	bool has_before, has_since;
};

json_t *cmd_image_labels(struct store *s, const char *id)
{
	struct store_image *img = NULL;
	json_t *l = NULL;

	if (store_image_load(s, id, &img, NULL) == 0) {
		l = json_object_get(json_object_get(img->config, "config"), "Labels");
		l = json_is_object(l) ? json_incref(l) : NULL;
		store_image_free(img);
	}
	return l ? l : json_object();
}

/* reference=PATTERN against the name @ref: the whole name, the repository, or a tail of it. */
static bool reference_matches(const char *pattern, const char *ref)
{
	cleanup_free char *repo = NULL;
	cleanup_free char *tag = NULL;
	const char *colon = strrchr(pattern, ':'), *slash = strrchr(pattern, '/');
	bool with_tag = colon && (!slash || colon > slash);
	const char *p;

	split_ref(ref, &repo, &tag);
	for (p = repo; p; p = strchr(p, '/'), p = p ? p + 1 : NULL) {
		cleanup_free char *full = xasprintf("%s:%s", p, tag);

		if (fnmatch(pattern, with_tag ? full : p, 0) == 0)
			return true;
	}
	return false;
}

static bool image_filter_one(struct images_ctx *c, const struct store_image_info *img,
			     const json_t *labels, const char *key, const char *val)
{
	int64_t created = created_sec(img->created), t;

	if (!strcmp(key, "dangling"))
		return (strv_len(img->tags) == 0) == (strcmp(val, "true") == 0);
	if (!strcmp(key, "reference")) {
		if (str_has_prefix(val, "sha256:"))
			return strv_contains(img->digests, val) || str_has_prefix(img->id, val);
		for (size_t k = 0; img->tags && img->tags[k]; k++)
			if (reference_matches(val, img->tags[k]))
				return true;
		return false;
	}
	if (!strcmp(key, "label"))
		return cmd_label_matches(labels, val);
	if (!strcmp(key, "id"))
		return str_has_prefix(digest_hex(img->id), str_has_prefix(val, "sha256:") ? val + 7 : val);
	if (!strcmp(key, "until"))
		return cmd_time_parse(val, &t) == 0 && created < t;
	if (!strcmp(key, "before"))
		return created < c->before;
	if (!strcmp(key, "since"))
		return created > c->since;
	return false;
}

/* Every key's group has a value that matches. */
static bool image_filter(struct images_ctx *c, const struct store_image_info *img,
			 const json_t *labels)
{
	for (size_t i = 0; i < c->filters.n; i++) {
		bool any = false;

		for (size_t k = 0; !any && c->filters.v[i].values[k]; k++)
			any = image_filter_one(c, img, labels, c->filters.v[i].key,
					       c->filters.v[i].values[k]);
		if (!any)
			return false;
	}
	return true;
}

/* The created time of the image @spec names (before=, since=). */
static int image_created(struct cmd_ctx *ctx, struct store *s, const char *spec, int64_t *out)
{
	struct strata_error *err = NULL;
	struct store_image *img = NULL;

	if (store_image_load(s, spec, &img, &err) < 0)
		return cmd_fail(ctx, err);
	*out = created_sec(jv_str(img->config, "created"));
	store_image_free(img);
	return 0;
}

/* The row of name @k of @img for a template (podman's imageReporter). */
/*
 * A string field of a row. The row object is kept from one row to the
 * next and its strings are set in place, so that a row costs no object,
 * no hash insertion and no UTF-8 check (the store's strings are UTF-8).
 */
static void set_str(json_t *o, const char *key, const char *v)
{
	json_t *cur = json_object_get(o, key);

	if (json_is_string(cur))
		json_string_setn_nocheck(cur, v, strlen(v));
	else
		json_object_set_new_nocheck(o, key, json_stringn_nocheck(v, strlen(v)));
}

static json_t *image_row(struct images_ctx *c, const struct store_image_info *img, size_t k,
			 bool no_trunc, json_t *labels)
{
	json_t *o = c->row ? c->row : (c->row = json_object());
	size_t ntags = strv_len(img->tags);
	const struct strmap *u = &c->used;
	int64_t sec = 0;
	long nsec = 0;

	/* only the fields the template reads: a row costs what it prints */
	if (strmap_has(u, "Repository") || strmap_has(u, "Tag")) {
		cleanup_free char *repo = NULL;
		cleanup_free char *tag = NULL;

		if (ntags) {
			split_ref(img->tags[k], &repo, &tag);
		} else {
			repo = xstrdup("<none>");
			tag = xstrdup("<none>");
		}
		set_str(o, "Repository", repo);
		set_str(o, "Tag", tag);
	}
	if (img->created)
		time_parse_rfc3339(img->created, &sec, &nsec);
	if (strmap_has(u, "Created") || strmap_has(u, "CreatedSince")) {
		cleanup_free char *ago = time_ago(sec);

		set_str(o, "Created", ago);
		set_str(o, "CreatedSince", ago);
	}
	if (strmap_has(u, "CreatedAt") || strmap_has(u, "CreatedTime")) {
		cleanup_free char *at = cmd_go_time(sec, nsec);

		set_str(o, "CreatedAt", at);
		set_str(o, "CreatedTime", at);
	}
	if (strmap_has(u, "RepoDigests")) {
		json_t *rd = json_array();

		for (size_t i = 0; i < ntags; i++) {
			cleanup_free char *r = NULL;
			cleanup_free char *t = NULL;

			split_ref(img->tags[i], &r, &t);
			json_array_append_new(rd, json_sprintf("%s@%s", r, img->tag_digests[i]));
		}
		json_object_set_new(o, "RepoDigests", rd);
	}
	if (strmap_has(u, "History")) {
		struct sbuf hist = SBUF_INIT;

		for (size_t i = 0; i < ntags; i++)
			sbuf_addf(&hist, "%s%s", i ? ", " : "", img->tags[i]);
		set_str(o, "History", hist.buf ? hist.buf : "");
		sbuf_release(&hist);
	}
	if (strmap_has(u, "Size")) {
		cleanup_free char *size = cmd_size_text(img->size);

		set_str(o, "Size", size);
	}
	if (strmap_has(u, "ID")) {
		if (no_trunc)
			set_str(o, "ID", img->id);
		else
			json_object_set_new(o, "ID", json_stringn(digest_hex(img->id), 12));
	}
	if (strmap_has(u, "Id"))
		set_str(o, "Id", digest_hex(img->id));
	if (strmap_has(u, "Digest"))
		set_str(o, "Digest", ntags ? img->tag_digests[k] : img->manifest_digest);
	if (strmap_has(u, "RepoTags"))
		json_object_set_new(o, "RepoTags", jv_strv(img->tags));
	if (strmap_has(u, "Names"))
		json_object_set_new(o, "Names", jv_strv(img->tags));
	if (strmap_has(u, "ParentId"))
		set_str(o, "ParentId", "");
	if (strmap_has(u, "SharedSize"))
		json_object_set_new(o, "SharedSize", json_integer(0));
	if (strmap_has(u, "VirtualSize"))
		json_object_set_new(o, "VirtualSize", json_integer((json_int_t)img->size));
	if (strmap_has(u, "ReadOnly") || strmap_has(u, "IsReadOnly")) {
		json_object_set_new(o, "ReadOnly", json_false());
		json_object_set_new(o, "IsReadOnly", json_false());
	}
	if (strmap_has(u, "Dangling"))
		json_object_set_new(o, "Dangling", json_boolean(ntags == 0));
	if (strmap_has(u, "Labels"))
		json_object_set(o, "Labels", labels ? labels : json_null());
	if (strmap_has(u, "Containers"))
		json_object_set_new(o, "Containers", json_integer((json_int_t)(uintptr_t)strmap_get(
								     &c->users, img->id)));
	return json_incref(o);
}

void cmd_image_users_count(struct store *s, struct strmap *users)
{
	cleanup_strv char **ids = NULL;

	if (store_container_list(s, &ids, NULL) < 0)
		return;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		const char *img = rec ? jv_str(rec, "Image") : NULL;

		if (img)
			strmap_put(users, img, (void *)((uintptr_t)strmap_get(users, img) + 1), NULL);
	}
}

static int images_setup(struct cmd_ctx *ctx, struct images_ctx *c, const struct cmd_format *fmt,
			char ***filters, int argc, char **argv)
{
	char *const *v;

	/* `images REF` is `--filter reference=REF` */
	if (argc) {
		cleanup_free char *f = xasprintf("reference=%s", argv[0]);

		strv_append(filters, f);
	}
	if (cmd_filters_parse(ctx, *filters, image_filter_keys, &c->filters))
		return EXIT_STRATA;
	for (v = cmd_filters_get(&c->filters, "dangling"); v && *v; v++)
		if (strcmp(*v, "true") && strcmp(*v, "false"))
			return cmd_usage_error(ctx, "invalid filter 'dangling=%s' (true or false)", *v);
	for (v = cmd_filters_get(&c->filters, "until"); v && *v; v++) {
		int64_t t;

		if (cmd_time_parse(*v, &t) < 0)
			return cmd_usage_error(ctx, "invalid filter 'until=%s' (a time or a duration)",
					       *v);
	}
	/* before= and since= name images: the newest time given wins for before, as podman */
	for (v = cmd_filters_get(&c->filters, "before"); v && *v; v++) {
		int64_t t;

		if (image_created(ctx, c->s, *v, &t))
			return EXIT_STRATA;
		if (!c->has_before || t > c->before)
			c->before = t;
		c->has_before = true;
	}
	for (v = cmd_filters_get(&c->filters, "since"); v && *v; v++) {
		int64_t t;

		if (image_created(ctx, c->s, *v, &t))
			return EXIT_STRATA;
		if (!c->has_since || t < c->since)
			c->since = t;
		c->has_since = true;
	}
	for (size_t i = 0; image_fields[i]; i++)
		if (cmd_format_uses(fmt, image_fields[i]))
			strmap_add(&c->used, image_fields[i]);
	c->want_labels = cmd_filters_get(&c->filters, "label") || cmd_format_uses(fmt, "Labels");
	c->want_containers = cmd_format_uses(fmt, "Containers");
	if (c->want_containers)
		cmd_image_users_count(c->s, &c->users);
	return 0;
}

static int cmd_images(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	struct store_image_info *imgs = NULL;
	struct images_ctx c = { 0 };
	struct cmd_format fmt = { 0 };
	cleanup_strv char **filters = NULL;
	bool quiet = false, no_trunc = false, digests = false, all = false, noheading = false;
	struct cmd_table *t = NULL;
	struct cmd_rows *rows = NULL;
	cleanup_json json_t *arr = NULL;
	size_t n = 0;
	int ret = 0;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "all images (strata keeps no intermediate ones)"),
		OPT_BOOL('q', "quiet", &quiet, "only image IDs"),
		OPT_BOOL(0, "no-trunc", &no_trunc, "full IDs"),
		OPT_BOOL(0, "digests", &digests, "a DIGEST column: the manifest each name points at"),
		OPT_BOOL('n', "noheading", &noheading, "no header row"),
		OPT_LIST(0, "filter", &filters, "KEY=VALUE",
			 "dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE,\n"
			 "since=IMAGE, until=TIME, id=ID (one key's values: any; keys: all)"),
		OPT_TEMPLATE('f', &fmt, "table (default), json, or a Go template:\n"
					"'table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}'"),
		OPT_END(),
	};

	if (!(c.s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 1, "")))
		goto out_status;
	fmt.noheading = noheading;
	if ((ret = images_setup(ctx, &c, &fmt, &filters, argc, argv)))
		goto out;
	if (store_image_list(c.s, &imgs, &n, &err) < 0) {
		ret = cmd_fail(ctx, err);
		goto out;
	}
	if (fmt.tmpl && !quiet && !(rows = cmd_rows_new(ctx, &fmt, image_fields, image_headers))) {
		ret = EXIT_STRATA;
		goto out;
	}
	if (fmt.json)
		arr = json_array();
	else if (!quiet && !rows)
		t = cmd_table_new(digests ? (const char *const[]){ "REPOSITORY", "TAG", "DIGEST",
								   "IMAGE ID", "CREATED", "SIZE",
								   NULL }
					  : (const char *const[]){ "REPOSITORY", "TAG", "IMAGE ID",
								   "CREATED", "SIZE", NULL });
	for (size_t i = 0; i < n && !ret; i++) {
		const struct store_image_info *img = &imgs[i];
		cleanup_json json_t *labels = c.want_labels ? cmd_image_labels(c.s, img->id) : NULL;
		size_t ntags = strv_len(img->tags);

		if (c.filters.n && !image_filter(&c, img, labels))
			continue;
		if (arr) {
			json_t *o = json_object();

			jv_set_str(o, "Id", digest_hex(img->id));
			jv_set_str(o, "Digest", img->manifest_digest);
			json_object_set_new(o, "Digests", jv_strv(img->digests));
			json_object_set_new(o, "RepoTags", jv_strv(img->tags));
			json_object_set_new(o, "Created", json_integer(created_sec(img->created)));
			jv_set_str(o, "CreatedAt", img->created);
			json_object_set_new(o, "Size", json_integer((json_int_t)img->size));
			if (labels)
				json_object_set(o, "Labels", labels);
			json_array_append_new(arr, o);
			continue;
		}
		if (quiet) {
			/* One line per image ID, as podman's -q. */
			printf("%.*s\n", no_trunc ? DIGEST_STR_LEN : 12,
			       no_trunc ? img->id : digest_hex(img->id));
			continue;
		}
		/* A row per name; an image without one is a <none> row, as podman lists them. */
		for (size_t k = 0; k < (ntags ? ntags : 1) && !ret; k++) {
			cleanup_free char *id = NULL;
			cleanup_free char *ago = NULL;
			cleanup_free char *size = NULL;
			cleanup_free char *repo = NULL;
			cleanup_free char *tag = NULL;
			const char *dg = ntags ? img->tag_digests[k] : img->digests[0];

			if (rows) {
				cleanup_json json_t *row = image_row(&c, img, k, no_trunc, labels);

				if (cmd_rows_add(rows, row) < 0)
					ret = EXIT_STRATA;
				continue;
			}
			id = no_trunc ? xstrdup(img->id) : short_id(img->id);
			ago = time_ago(created_sec(img->created));
			size = size_human(img->size, SIZE_LIST);
			if (ntags) {
				split_ref(img->tags[k], &repo, &tag);
			} else {
				repo = xstrdup("<none>");
				tag = xstrdup("<none>");
			}
			if (digests)
				cmd_table_add(t, (const char *const[]){ repo, tag, dg, id, ago, size });
			else
				cmd_table_add(t, (const char *const[]){ repo, tag, id, ago, size });
		}
	}
	if (ret) {
		cmd_rows_free(rows);
		rows = NULL;
	}
	if (arr)
		cmd_print_json(arr);
	if (t)
		cmd_table_print(t, noheading);
	cmd_rows_print(rows);
out:
	store_image_infos_free(imgs, n);
	cmd_filters_release(&c.filters);
	strmap_release(&c.users, NULL);
	strmap_release(&c.used, NULL);
	if (c.row)
		json_decref(c.row);
	cmd_format_release(&fmt);
	return ret;
out_status:
	cmd_format_release(&fmt);
	return ctx->status;
}

/* ---- tag ---- */

static int cmd_tag(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_option opts[] = { OPT_END() };
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	char **refs = NULL;
	size_t nrefs = 0;
	struct store *s;
	int ret = 0;

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 2, -1, "SOURCE and TARGET")))
		return ctx->status;
	/* Every name is checked before any is written: all of them or none. */
	refs = xcalloc((size_t)argc, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		struct store_ref r;

		if (store_ref_parse(argv[i], &r, &err) < 0) {
			ret = cmd_fail(ctx, err);
			goto out;
		}
		if (r.digest) {
			store_ref_release(&r);
			ret = cmd_failf(ctx, "cannot tag with a digest reference '%s'", argv[i]);
			goto out;
		}
		refs[nrefs++] = store_ref_string(&r);
		store_ref_release(&r);
	}
	if (store_image_load(s, argv[0], &img, &err) < 0) {
		ret = cmd_fail(ctx, err);
		goto out;
	}
	/* One rewrite of index.json for every name. */
	if (store_tags_set(s, refs, nrefs, img->manifest_digest, img->manifest->media_type,
			   img->manifest_size, &err) < 0)
		ret = cmd_fail(ctx, err);
out:
	for (size_t i = 0; i < nrefs; i++)
		free(refs[i]);
	free(refs);
	store_image_free(img);
	return ret;
}

/* ---- rmi ---- */

/*
 * Image ID -> the first container (12 hex) whose record uses it: every
 * record read once per command, however many images are removed.
 */
static void containers_by_image(struct store *s, struct strmap *users)
{
	cleanup_strv char **ids = NULL;

	if (store_container_list(s, &ids, NULL) < 0)
		return;
	for (size_t i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		const char *img = rec ? jv_str(rec, "Image") : NULL;

		if (img && !strmap_has(users, img))
			strmap_put(users, img, xstrndup(ids[i], 12), NULL);
	}
}

/* What one rmi command takes away: names, and the digests of whole images. */
struct rmi_plan {
	struct strmap refs;   /* names to remove */
	struct strmap images; /* IDs going as a whole */
	struct strmap taken;  /* ID -> how many of its names the plan takes (as a pointer-sized count) */
	char **ref_list;      /* the names, in order */
	char **digest_list;   /* the index digests of images going as a whole */
	size_t n_refs, n_digests, cap_refs, cap_digests;
};

static void plan_add(char ***list, size_t *n, size_t *cap, const char *v)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*list = xrealloc(*list, *cap * sizeof(char *));
	}
	(*list)[(*n)++] = xstrdup(v);
}

static void plan_release(struct rmi_plan *p)
{
	for (size_t i = 0; i < p->n_refs; i++)
		free(p->ref_list[i]);
	for (size_t i = 0; i < p->n_digests; i++)
		free(p->digest_list[i]);
	free(p->ref_list);
	free(p->digest_list);
	strmap_release(&p->refs, NULL);
	strmap_release(&p->images, NULL);
	strmap_release(&p->taken, NULL);
}

/* Adds the name @ref of image @id to the plan. */
static void plan_take_name(struct rmi_plan *p, const char *id, const char *ref)
{
	if (!strmap_add(&p->refs, ref))
		return;
	plan_add(&p->ref_list, &p->n_refs, &p->cap_refs, ref);
	strmap_put(&p->taken, id, (void *)((uintptr_t)strmap_get(&p->taken, id) + 1), NULL);
}

/*
 * Adds image @id as a whole: every name, and every manifest unless a
 * container uses it (@keep_manifests). Each image's names are read once.
 */
static int plan_take_image(struct rmi_plan *p, struct store_catalog *cat, const char *id,
			   bool keep_manifests, struct strata_error **err)
{
	struct store_image *img = NULL;

	if (store_catalog_find(cat, id, STORE_CATALOG_NO_BLOBS, &img, err) < 0)
		return -1;
	for (size_t k = 0; img->tags && img->tags[k]; k++)
		plan_take_name(p, id, img->tags[k]);
	for (size_t k = 0; !keep_manifests && img->digests && img->digests[k]; k++)
		plan_add(&p->digest_list, &p->n_digests, &p->cap_digests, img->digests[k]);
	strmap_add(&p->images, id);
	store_image_free(img);
	return 0;
}

static int rmi_locked(struct cmd_ctx *ctx, struct store *s, int argc, char **argv, bool all,
		      bool force);

static int cmd_rmi(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	bool force = false, all = false;
	struct store *s;
	int ret;
	const struct cmd_option opts[] = {
		OPT_BOOL('a', "all", &all, "every image"),
		OPT_BOOL('f', "force", &force, "untag even when a container uses the image"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 0, -1, "IMAGE") < 0)
		return ctx->status;
	if (all && argc)
		return cmd_usage_error(ctx, "--all takes no IMAGE");
	if (!all && !argc)
		return cmd_usage_error(ctx, "missing argument: IMAGE");
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	/* no container is being created on an image while its users are counted and it goes */
	if (store_users_lock(s, STORE_LOCK_EXCLUSIVE, &err) < 0)
		return cmd_fail(ctx, err);
	ret = rmi_locked(ctx, s, argc, argv, all, force);
	store_users_unlock(s);
	return ret;
}

static int rmi_locked(struct cmd_ctx *ctx, struct store *s, int argc, char **argv, bool all,
		      bool force)
{
	struct rmi_plan plan = { 0 };
	struct strmap users = STRMAP_INIT;
	struct store_catalog *cat = NULL;
	struct strata_error *err = NULL;
	char **deleted = NULL;
	size_t n_deleted = 0, cap_deleted = 0;
	bool users_read = false;
	cleanup_strv char **every = NULL;
	int ret = 0;

	if (all) {
		struct store_image_info *imgs = NULL;
		size_t n = 0;

		/* every image by its ID: all its names and manifests go */
		if (store_image_list(s, &imgs, &n, &err) < 0)
			return cmd_fail(ctx, err);
		every = xcalloc(n + 1, sizeof(char *));
		for (size_t i = 0; i < n; i++)
			every[i] = xstrdup(imgs[i].id);
		store_image_infos_free(imgs, n);
		argv = every;
		argc = (int)n;
	}
	/* Every operand is resolved in one reading of index.json, and removed in one rewrite. */
	if (store_catalog_open(s, &cat, &err) < 0)
		return cmd_fail(ctx, err);
	for (int i = 0; i < argc; i++) {
		struct store_image *img = NULL;
		cleanup_free char *norm = NULL;
		bool by_ref = false;
		struct store_ref r;
		size_t taken, names;
		const char *user;

		if (store_catalog_find(cat, argv[i], STORE_CATALOG_NO_BLOBS | STORE_CATALOG_NO_NAMES,
				       &img, &err) < 0) {
			ret = cmd_fail(ctx, err);
			err = NULL;
			continue;
		}
		if (strmap_has(&plan.images, img->id)) {
			store_image_free(img);
			continue;
		}
		/* By reference only that name goes; by ID every name and manifest of the image. */
		if (!str_has_prefix(argv[i], "sha256:") && store_ref_parse(argv[i], &r, NULL) == 0) {
			norm = store_ref_string(&r);
			store_ref_release(&r);
			by_ref = store_catalog_has_name(cat, norm);
		}
		taken = (uintptr_t)strmap_get(&plan.taken, img->id);
		names = store_catalog_name_count(cat, img->id);
		if (by_ref && taken + (strmap_has(&plan.refs, norm) ? 0 : 1) < names) {
			plan_take_name(&plan, img->id, norm);
			store_image_free(img);
			continue;
		}
		/* The image itself goes when its last name does. */
		if (!users_read) {
			containers_by_image(s, &users);
			users_read = true;
		}
		user = strmap_get(&users, img->id);
		if (user && !force) {
			ret = cmd_failf(ctx,
					"image '%s' is in use by container '%s' (use -f to untag it anyway)",
					argv[i], user);
			store_image_free(img);
			continue;
		}
		/* A used image keeps its manifests (its containers need them), not its names. */
		if (plan_take_image(&plan, cat, img->id, user != NULL, &err) < 0) {
			ret = cmd_fail(ctx, err);
			err = NULL;
		} else if (!user) {
			plan_add(&deleted, &n_deleted, &cap_deleted, img->id);
		}
		store_image_free(img);
	}
	store_catalog_free(cat);
	strmap_release(&users, free);
	if (plan.n_refs || plan.n_digests) {
		if (store_tags_remove(s, plan.ref_list, plan.n_refs, plan.digest_list,
				      plan.n_digests, &err) < 0) {
			ret = cmd_fail(ctx, err);
			goto out;
		}
		for (size_t k = 0; k < plan.n_refs; k++)
			printf("Untagged: %s\n", plan.ref_list[k]);
		for (size_t k = 0; k < n_deleted; k++)
			printf("Deleted: %s\n", deleted[k]);
	}
out:
	for (size_t k = 0; k < n_deleted; k++)
		free(deleted[k]);
	free(deleted);
	plan_release(&plan);
	return ret;
}

/* ---- inspect ---- */

static json_t *image_inspect_json(struct store *s, const struct store_image *img)
{
	json_t *o = json_object();
	json_t *cfg = json_object_get(img->config, "config");
	json_t *rootfs = json_object();
	json_t *rd = json_array();
	json_t *labels = json_object_get(cfg, "Labels");

	for (size_t i = 0; img->tags && img->tags[i]; i++) {
		cleanup_free char *repo = NULL;
		cleanup_free char *tag = NULL;

		split_ref(img->tags[i], &repo, &tag);
		json_array_append_new(rd, json_sprintf("%s@%s", repo, img->manifest_digest));
	}
	jv_set_str(o, "Id", digest_hex(img->id));
	jv_set_str(o, "Digest", img->manifest_digest);
	json_object_set_new(o, "RepoTags", jv_strv(img->tags));
	json_object_set_new(o, "RepoDigests", rd);
	jv_set_str(o, "Parent", "");
	jv_set_str(o, "Comment", "");
	jv_set_str(o, "Created", jv_str(img->config, "created"));
	jv_set_str(o, "Author", jv_str(img->config, "author"));
	jv_set_str(o, "Architecture", jv_str(img->config, "architecture"));
	jv_set_str(o, "Os", jv_str(img->config, "os"));
	if (jv_str(img->config, "variant"))
		jv_set_str(o, "Variant", jv_str(img->config, "variant"));
	json_object_set(o, "Config", json_is_object(cfg) ? cfg : json_object());
	json_object_set_new(o, "Labels", json_is_object(labels) ? json_incref(labels) : json_object());
	jv_set_str(o, "User", jv_str(cfg, "User") ? jv_str(cfg, "User") : "");
	jv_set_str(rootfs, "Type", "layers");
	json_object_set_new(rootfs, "Layers", jv_strv(img->diff_ids));
	json_object_set_new(rootfs, "DiffIDs", jv_strv(img->diff_ids));
	json_object_set_new(o, "RootFS", rootfs);
	{
		json_t *h = json_object_get(img->config, "history");

		json_object_set_new(o, "History", json_is_array(h) ? json_incref(h) : json_array());
	}
	/* unpacked, as podman's */
	json_object_set_new(o, "Size", json_integer((json_int_t)store_image_size_unpacked(s, img)));
	json_object_set_new(o, "VirtualSize",
			    json_integer((json_int_t)store_image_size_unpacked(s, img)));
	jv_set_str(o, "ManifestType", img->manifest->media_type);
	return o;
}

/* The record of container @id as podman's container inspect shows it. */
/* podman's HostConfig.UsernsMode ("private" with a map, else "") and IDMappings. */
static json_t *host_config_json(const json_t *rec)
{
	json_t *hc = json_object();
	json_t *im = json_object_get(rec, "IdMap");

	jv_set_str(hc, "UsernsMode", json_is_object(im) ? "private" : "");
	if (json_is_object(im))
		json_object_set_new(hc, "IDMappings",
				    json_pack("{s:O, s:O}", "UidMap", json_object_get(im, "UidMap"),
					      "GidMap", json_object_get(im, "GidMap")));
	return hc;
}

static json_t *container_inspect_json(const json_t *rec)
{
	json_t *o = json_object();
	json_t *st = json_object_get(rec, "State");
	json_t *cfg = json_deep_copy(json_object_get(rec, "Config"));
	json_t *cmd = json_object_get(rec, "Command");
	json_t *state = json_object();
	json_t *args = json_array();
	const char *status = jv_str(st, "Status") ? jv_str(st, "Status") : "created";
	bool running = !strcmp(status, "running") && launch_container_running(rec);

	if (!json_is_object(cfg)) {
		if (cfg)
			json_decref(cfg);
		cfg = json_object();
	}
	if (json_array_size(cmd))
		json_object_set(cfg, "Cmd", cmd);
	jv_set_str(cfg, "Image", jv_str(rec, "ImageName"));
	for (size_t i = 1; i < json_array_size(json_object_get(cfg, "Cmd")); i++)
		json_array_append(args, json_array_get(json_object_get(cfg, "Cmd"), i));
	jv_set_str(state, "Status", running || strcmp(status, "running") ? status : "exited");
	json_object_set_new(state, "Running", json_boolean(running));
	json_object_set_new(state, "ExitCode", json_integer(jv_int(st, "ExitCode", 0)));
	json_object_set_new(state, "Pid", json_integer(running ? jv_int(st, "Pid", 0) : 0));
	jv_set_str(state, "StartedAt", jv_str(st, "StartedAt") ? jv_str(st, "StartedAt") : "");
	jv_set_str(state, "FinishedAt", jv_str(st, "FinishedAt") ? jv_str(st, "FinishedAt") : "");
	/* strata's own: the /proc view's server, "serving" or "dead" */
	if (launch_container_view_state(rec))
		jv_set_str(state, "ProcView", launch_container_view_state(rec));
	jv_set_str(o, "Id", jv_str(rec, "Id"));
	jv_set_str(o, "Created", jv_str(rec, "Created"));
	{
		json_t *c0 = json_array_get(json_object_get(cfg, "Cmd"), 0);

		jv_set_str(o, "Path", json_is_string(c0) ? json_string_value(c0) : "");
	}
	json_object_set_new(o, "Args", args);
	json_object_set_new(o, "State", state);
	jv_set_str(o, "Image", digest_hex(jv_str(rec, "Image") ? jv_str(rec, "Image") : ""));
	jv_set_str(o, "ImageDigest", jv_str(rec, "ImageDigest"));
	jv_set_str(o, "ImageName", jv_str(rec, "ImageName"));
	jv_set_str(o, "Name", jv_str(rec, "Name") ? jv_str(rec, "Name") : "");
	jv_set_str(o, "Driver", jv_str(rec, "Backend"));
	json_object_set_new(o, "Config", cfg);
	json_object_set_new(o, "Mounts", launch_mounts_inspect(rec));
	json_object_set_new(o, "HostConfig", host_config_json(rec));
	return o;
}

/*
 * The zero values podman's Config struct has where the image's config has
 * no key: {{.Config.Entrypoint}} prints [] as podman's does, not <no value>.
 */
static void config_defaults(json_t *o)
{
	static const char *const lists[] = { "Env", "Entrypoint", "Cmd", NULL };
	static const char *const maps[] = { "ExposedPorts", "Volumes", "Labels", NULL };
	static const char *const strs[] = { "User", "WorkingDir", "StopSignal", NULL };
	json_t *cfg = json_object_get(o, "Config");

	if (!json_is_object(cfg))
		return;
	for (size_t i = 0; lists[i]; i++)
		if (!json_object_get(cfg, lists[i]) || json_is_null(json_object_get(cfg, lists[i])))
			json_object_set_new(cfg, lists[i], json_array());
	for (size_t i = 0; maps[i]; i++)
		if (!json_object_get(cfg, maps[i]) || json_is_null(json_object_get(cfg, maps[i])))
			json_object_set_new(cfg, maps[i], json_object());
	for (size_t i = 0; strs[i]; i++)
		if (!json_object_get(cfg, strs[i]))
			jv_set_str(cfg, strs[i], "");
}

/* The image @spec names, else the container (podman's inspect takes both). */
static json_t *inspect_one(struct store *s, const char *spec, bool want_container,
			   struct strata_error **err)
{
	struct store_image *img = NULL;
	char id[STORE_ID_LEN + 1];
	cleanup_json json_t *rec = NULL;
	json_t *o;

	if (!want_container) {
		if (store_image_load(s, spec, &img, err) == 0) {
			o = image_inspect_json(s, img);
			store_image_free(img);
			return o;
		}
		if (strata_error_code(*err) != ENOENT)
			return NULL;
	}
	{
		struct strata_error *e2 = NULL;

		if (store_container_find(s, spec, id, &e2) < 0 ||
		    !(rec = store_container_load(s, id, &e2))) {
			if (want_container) {
				*err = e2;
				return NULL;
			}
			strata_error_free(e2);
			return NULL; /* the image's error stands */
		}
	}
	if (*err) {
		strata_error_free(*err);
		*err = NULL;
	}
	return container_inspect_json(rec);
}

static int cmd_inspect(struct cmd_ctx *ctx, int argc, char **argv)
{
	cleanup_json json_t *arr = json_array();
	struct cmd_format fmt = { 0 };
	const char *type = "all";
	struct sbuf out = SBUF_INIT;
	struct store *s;
	int ret = 0;
	const struct cmd_option opts[] = {
		OPT_TEMPLATE('f', &fmt, "json (the default; table is taken as json too), or a Go\n"
					"template: '{{.Config.Cmd}}', '{{json .Config}}'"),
		OPT_STRING('t', "type", &type, "TYPE", "image, container or all (the default)"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 1, -1, "IMAGE or CONTAINER")))
		goto out_status;
	if (strcmp(type, "all") && strcmp(type, "image") && strcmp(type, "container")) {
		ret = cmd_usage_error(ctx, "invalid --type '%s' (want image, container or all)", type);
		goto out;
	}
	for (int i = 0; i < argc; i++) {
		struct strata_error *err = NULL;
		json_t *o = NULL;

		if (!strcmp(type, "image")) {
			struct store_image *img = NULL;

			if (store_image_load(s, argv[i], &img, &err) == 0) {
				o = image_inspect_json(s, img);
				store_image_free(img);
			}
		} else {
			o = inspect_one(s, argv[i], !strcmp(type, "container"), &err);
		}
		if (!o) {
			ret = cmd_fail(ctx, err);
			continue;
		}
		if (fmt.tmpl) {
			/* a copy: the image's Config is shared with its loaded config */
			json_t *c = json_deep_copy(json_object_get(o, "Config"));

			if (c)
				json_object_set_new(o, "Config", c);
			config_defaults(o);
			if (cmd_template_exec(fmt.tmpl, o, &out, &err) < 0)
				ret = cmd_fail(ctx, err);
			json_decref(o);
			continue;
		}
		json_array_append_new(arr, o);
	}
	if (fmt.tmpl)
		fwrite(out.buf ? out.buf : "", 1, out.len, stdout);
	else
		cmd_print_json(arr);
out:
	sbuf_release(&out);
	cmd_format_release(&fmt);
	return ret;
out_status:
	cmd_format_release(&fmt);
	return ctx->status;
}

/* ---- history ---- */

/* The fields of a row of `history --format`, and the headers not derived from them. */
static const char *const history_fields[] = { "ID", "Created", "CreatedAt", "CreatedSince",
					       "CreatedBy", "Size", "Comment", "Tags", NULL };
static const char *const history_headers[] = { "CreatedSince", "CREATED", NULL };

/* A history entry @h as podman's history reporter has it; @img for the top one, else NULL. */
static json_t *history_row(const struct store_image *img, bool no_trunc, const json_t *h,
			   uint64_t size)
{
	json_t *o = json_object();
	cleanup_free char *ago = NULL;
	cleanup_free char *at = NULL;
	cleanup_free char *sz = cmd_size_text(size);
	int64_t sec = 0;
	long nsec = 0;

	if (jv_str(h, "created"))
		time_parse_rfc3339(jv_str(h, "created"), &sec, &nsec);
	ago = time_ago(sec);
	at = cmd_go_time(sec, nsec);
	if (!img)
		jv_set_str(o, "ID", "<missing>");
	else if (no_trunc)
		jv_set_str(o, "ID", img->id);
	else
		json_object_set_new(o, "ID", json_stringn(digest_hex(img->id), 12));
	jv_set_str(o, "Created", ago);
	jv_set_str(o, "CreatedSince", ago);
	jv_set_str(o, "CreatedAt", at);
	{
		const char *by = jv_str(h, "created_by") ? jv_str(h, "created_by") : "";

		/* podman cuts it as the table does, unless --no-trunc */
		if (!no_trunc && strlen(by) > 45)
			json_object_set_new(o, "CreatedBy", json_sprintf("%.42s...", by));
		else
			jv_set_str(o, "CreatedBy", by);
	}
	jv_set_str(o, "Size", sz);
	jv_set_str(o, "Comment", jv_str(h, "comment") ? jv_str(h, "comment") : "");
	json_object_set_new(o, "Tags", img ? jv_strv(img->tags) : json_array());
	return o;
}

static int cmd_history(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	bool no_trunc = false, quiet = false, noheading = false;
	struct cmd_format fmt = { 0 };
	struct cmd_rows *rows = NULL;
	bool json;
	int ret = 0;
	json_t *hist, *h;
	size_t layer, i, n;
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_BOOL('q', "quiet", &quiet, "only IDs"),
		OPT_BOOL(0, "no-trunc", &no_trunc, "full IDs and commands"),
		OPT_BOOL('n', "noheading", &noheading, "no header row"),
		OPT_TEMPLATE('f', &fmt, "table (default), json, or a Go template:\n"
					"'{{.ID}} {{.CreatedBy}} {{.Size}}'"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 1, 1, "IMAGE"))) {
		cmd_format_release(&fmt);
		return ctx->status;
	}
	json = fmt.json;
	fmt.noheading = noheading;
	if (store_image_load(s, argv[0], &img, &err) < 0) {
		cmd_format_release(&fmt);
		return cmd_fail(ctx, err);
	}
	if (fmt.tmpl && !quiet && !(rows = cmd_rows_new(ctx, &fmt, history_fields, history_headers))) {
		store_image_free(img);
		cmd_format_release(&fmt);
		return EXIT_STRATA;
	}
	hist = json_object_get(img->config, "history");
	n = json_array_size(hist);
	layer = img->manifest->n_layers;
	{
		static const char *const hdr[] = { "IMAGE", "CREATED", "CREATED BY", "SIZE",
						   "COMMENT", NULL };
		struct cmd_table *t = (json || quiet || rows) ? NULL : cmd_table_new(hdr);
		cleanup_json json_t *arr = json_array();

		/* Newest first; non-empty entries match layers from the top down. */
		for (i = n; i-- > 0;) {
			const char *created, *by, *comment;
			bool empty;
			uint64_t size = 0;
			int64_t sec = 0;
			cleanup_free char *id = NULL;
			cleanup_free char *ago = NULL;
			cleanup_free char *sz = NULL;
			cleanup_free char *by_short = NULL;

			h = json_array_get(hist, i);
			created = jv_str(h, "created");
			by = jv_str(h, "created_by");
			comment = jv_str(h, "comment");
			empty = json_is_true(json_object_get(h, "empty_layer"));
			if (!empty && layer > 0) {
				layer--;
				size = store_layer_tar_size(s, &img->manifest->layers[layer]);
			}
			if (i == n - 1)
				id = no_trunc ? xstrdup(img->id) : short_id(img->id);
			else
				id = xstrdup("<missing>");
			if (created)
				time_parse_rfc3339(created, &sec, NULL);
			if (json) {
				json_t *o = json_object();

				jv_set_str(o, "id", i == n - 1 ? img->id : "<missing>");
				jv_set_str(o, "created", created);
				jv_set_str(o, "createdBy", by ? by : "");
				json_object_set_new(o, "size", json_integer((json_int_t)size));
				jv_set_str(o, "comment", comment ? comment : "");
				json_array_append_new(arr, o);
				continue;
			}
			if (quiet) {
				printf("%s\n", id);
				continue;
			}
			if (rows) {
				cleanup_json json_t *row = history_row(i == n - 1 ? img : NULL, no_trunc,
								       h, size);

				if (cmd_rows_add(rows, row) < 0) {
					ret = EXIT_STRATA;
					break;
				}
				continue;
			}
			ago = time_ago(sec);
			sz = size_human(size, SIZE_LIST);
			by_short = xstrdup(by ? by : "");
			if (!no_trunc && strlen(by_short) > 45) {
				by_short[42] = '\0';
				strncat(by_short, "...", 4);
			}
			cmd_table_add(t, (const char *const[]){ id, ago, by_short, sz,
								comment ? comment : "" });
		}
		if (json)
			cmd_print_json(arr);
		if (t)
			cmd_table_print(t, noheading);
		if (ret)
			cmd_rows_free(rows);
		else
			cmd_rows_print(rows);
	}
	store_image_free(img);
	cmd_format_release(&fmt);
	return ret;
}

/* ---- import ---- */

static int cmd_import(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum layers_compression comp = LAYERS_COMPRESSION_GZIP;
	cleanup_strv char **changes = NULL;
	cleanup_json json_t *config = NULL;
	cleanup_free char *created_by = NULL;
	struct strata_error *err = NULL;
	struct layers_blob blob;
	struct store_desc desc = { 0 };
	const char *message = NULL, *source, *name;
	char id[DIGEST_STR_LEN];
	cleanup_close int fd = -1;
	struct store_ref ref;
	int64_t created;
	bool is_dir = false;
	struct stat st;
	bool quiet = false;
	struct store *s;
	int r;
	const struct cmd_option opts[] = {
		OPT_LIST('c', "change", &changes, "INSTR",
			 "apply a Dockerfile instruction (CMD, ENV, ...)"),
		OPT_STRING('m', "message", &message, "TEXT", "history comment"),
		OPT_CALLBACK(0, "compression", &comp, "ALGO", "gzip (default), zstd or none",
			     cmd_option_compression),
		OPT_BOOL('q', "quiet", &quiet, "(accepted; only the ID is printed anyway)"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 2, 2, "SOURCE and NAME[:TAG]") < 0)
		return ctx->status;
	source = argv[0];
	name = argv[1];
	/* Check everything cheap before reading a possibly large input. */
	if (store_ref_parse(name, &ref, &err) < 0)
		return cmd_fail(ctx, err);
	store_ref_release(&ref);
	/* One creation time for config and history: SOURCE_DATE_EPOCH, else now. */
	created = time_source_date_epoch();
	if (created < 0)
		created = time_now_ns() / 1000000000LL;
	config = store_config_new(created);
	for (size_t i = 0; changes && changes[i]; i++)
		if (store_config_apply_change(config, changes[i], &err) < 0)
			return cmd_fail(ctx, err);

	if (strcmp(source, "-") == 0) {
		if (isatty(0))
			return cmd_usage_error(ctx, "refusing to read a tar from a terminal: "
						    "redirect stdin");
		fd = dup(0);
	} else {
		fd = open(source, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
			is_dir = true;
	}
	if (fd >= 0 && !is_dir && cmd_input_check(ctx, fd, source))
		return EXIT_STRATA;
	if (fd < 0)
		return cmd_failf(ctx, "open '%s': %s", source, strerror(errno));
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	if (store_pin(s, &err) < 0)
		return cmd_fail(ctx, err);
	if (is_dir) {
		/* A directory is a whole tree: packed as it is, mtimes clamped to SOURCE_DATE_EPOCH. */
		struct layers_pack_opts po = { comp, 0, time_source_date_epoch(), NULL, NULL };

		r = layers_pack_dir(s, fd, LAYERS_WHITEOUT_VFS, &po, &blob, &err);
	} else {
		r = layers_import_tar(s, fd, comp, 0, &blob, &err);
	}
	if (r < 0) {
		store_unpin(s);
		return cmd_fail(ctx, err);
	}
	store_config_add_diff_id(config, blob.diff_id);
	created_by = xasprintf("strata import %s", strcmp(source, "-") == 0 ? "-" : source);
	store_config_add_history(config, created, created_by, message, NULL, false);
	desc.media_type = (char *)blob.media_type;
	memcpy(desc.digest, blob.digest, DIGEST_STR_LEN);
	desc.size = (int64_t)blob.size;
	r = store_image_write(s, config, &desc, 1, name, id, NULL, &err);
	store_unpin(s);
	if (r < 0)
		return cmd_fail(ctx, err);
	printf("%s\n", digest_hex(id));
	return 0;
}

/* ---- export ---- */

static int cmd_export(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	struct store_image *img = NULL;
	const char *output = NULL;
	int r, ofd;
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_STRING('o', "output", &output, "FILE", "write to FILE instead of stdout"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 1, 1, "IMAGE") < 0)
		return ctx->status;
	if ((!output || !strcmp(output, "-")) && isatty(1))
		return cmd_usage_error(ctx, "refusing to write a tar to a terminal: use -o FILE or a pipe");
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	if (store_image_load(s, argv[0], &img, &err) < 0)
		return cmd_fail(ctx, err);
	if (store_pin(s, &err) < 0) {
		store_image_free(img);
		return cmd_fail(ctx, err);
	}
	r = -1;
	ofd = output && strcmp(output, "-") ? open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)
					    : dup(1);
	if (ofd < 0) {
		strata_fail(&err, errno, "create '%s'", output ? output : "stdout");
		goto out_pin;
	}
	r = layers_export(s, img, ofd, &err);
	if (close(ofd) < 0 && errno != EINTR && r == 0)
		r = strata_fail(&err, errno, "write '%s'", output ? output : "stdout");
	/* A partial output file is not an export. */
	if (r < 0 && output && strcmp(output, "-"))
		unlink(output);
out_pin:
	store_unpin(s);
	store_image_free(img);
	if (r < 0)
		return cmd_fail(ctx, err);
	return 0;
}

/* ---- save, load ---- */

static int archive_format(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (layers_archive_format_parse(arg, opt->value) < 0)
		return cmd_usage_error(ctx,
				       "unknown format '%s' (want oci-dir, oci-archive or docker-archive)",
				       arg);
	return 0;
}

static int cmd_save(struct cmd_ctx *ctx, int argc, char **argv)
{
	enum layers_archive_format f = LAYERS_ARCHIVE_DOCKER_ARCHIVE;
	struct strata_error *err = NULL;
	struct layers_save_item *items = NULL;
	const char *output = NULL;
	size_t n = 0;
	struct store *s;
	int r = 0;
	const struct cmd_option opts[] = {
		OPT_STRING('o', "output", &output, "PATH",
			   "the directory or tar file to write (default, or '-': stdout)"),
		OPT_CALLBACK('f', "format", &f, "FORMAT",
			     "docker-archive (default), oci-archive or oci-dir", archive_format),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 1, -1, "IMAGE") < 0)
		return ctx->status;
	if (!output || !strcmp(output, "-")) {
		/* podman: the archive goes to stdout, never to a terminal */
		if (f == LAYERS_ARCHIVE_OCI_DIR)
			return cmd_usage_error(ctx, "an oci-dir is a directory: it needs -o DIR");
		if (isatty(1))
			return cmd_usage_error(ctx, "refusing to write an archive to a terminal: "
						    "use -o FILE or redirect stdout");
		output = "-";
	}
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	items = xcalloc((size_t)argc, sizeof(*items));
	for (int i = 0; i < argc && r == 0; i++) {
		struct store_image *img = NULL;
		struct store_ref ref;

		if (store_image_load(s, argv[i], &img, &err) < 0) {
			r = -1;
			break;
		}
		items[n].img = img;
		items[n].refs = xcalloc(1, sizeof(char *));
		/* A name saves that name; an ID saves every name of the image. */
		if (store_ref_parse(argv[i], &ref, NULL) == 0) {
			cleanup_free char *norm = store_ref_string(&ref);

			if (strv_contains(img->tags, norm))
				strv_append(&items[n].refs, norm);
			store_ref_release(&ref);
		}
		if (!items[n].refs[0]) {
			strv_free(items[n].refs);
			items[n].refs = strv_dup(img->tags);
		}
		n++;
	}
	if (r == 0)
		r = layers_save(s, items, n, f, output, &err);
	for (size_t i = 0; i < n; i++) {
		store_image_free((struct store_image *)items[i].img);
		strv_free(items[i].refs);
	}
	free(items);
	if (r < 0)
		return cmd_fail(ctx, err);
	return 0;
}

/* Copies all of @in to @out. */
static int copy_fd(int in, int out, struct strata_error **err)
{
	char buf[65536];

	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));

		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return strata_fail(err, errno, "read stdin");
		}
		if (file_write_all(out, buf, (size_t)n, err) < 0)
			return -1;
	}
}

static int cmd_load(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	cleanup_strv char **loaded = NULL;
	cleanup_close int spool = -1;
	char stdin_path[64];
	const char *input = NULL, *policy = NULL;
	bool quiet = false;
	struct store *s;
	int r;
	const struct cmd_option opts[] = {
		OPT_STRING('i', "input", &input, "PATH",
			   "the directory or tar file to read (default, or '-': stdin)"),
		OPT_STRING(0, "signature-policy", &policy, "FILE",
			   "the containers-policy.json(5) that judges the input"),
		OPT_BOOL('q', "quiet", &quiet, "print nothing on success"),
		OPT_END(),
	};

	if (cmd_parse_args(ctx, &argc, &argv, opts, 0, 0, "") < 0)
		return ctx->status;
	if ((!input || !strcmp(input, "-")) && isatty(0))
		return cmd_usage_error(ctx, "refusing to read an archive from a terminal: "
					    "use -i FILE or redirect stdin");
	if (input && strcmp(input, "-") != 0) {
		cleanup_close int in = open(input, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

		if (in >= 0 && cmd_input_check(ctx, in, input))
			return EXIT_STRATA;
	}
	/* judged before the store is opened: a refused input writes nothing */
	if (input && strcmp(input, "-") != 0 &&
	    registry_policy_check_load(policy, input, &err) < 0)
		return cmd_fail(ctx, err);
	if (!(s = cmd_store(ctx)))
		return EXIT_STRATA;
	if (!input || !strcmp(input, "-")) {
		/*
		 * stdin: a file is read where it is; a pipe is copied to an unnamed
		 * file of the store first, since an archive is read more than once.
		 */
		struct stat st;

		if (fstat(0, &st) < 0)
			return cmd_failf(ctx, "stdin: %s", strerror(errno));
		/* /dev/zero or /dev/urandom would be copied until the disk is full */
		if (cmd_input_check(ctx, 0, "-"))
			return EXIT_STRATA;
		if (!S_ISREG(st.st_mode)) {
			if ((spool = store_tmp_file(s, &err)) < 0 || copy_fd(0, spool, &err) < 0)
				return cmd_fail(ctx, err);
			snprintf(stdin_path, sizeof(stdin_path), "/proc/self/fd/%d", spool);
		} else {
			snprintf(stdin_path, sizeof(stdin_path), "/proc/self/fd/0");
		}
		input = stdin_path;
		if (registry_policy_check_load(policy, input, &err) < 0)
			return cmd_fail(ctx, err);
	}
	r = layers_load(s, input, &loaded, &err);
	for (size_t i = 0; !quiet && loaded && loaded[i]; i++)
		printf("Loaded image%s: %s\n", str_has_prefix(loaded[i], "sha256:") ? " ID" : "",
		       loaded[i]);
	if (r < 0)
		return cmd_fail(ctx, err);
	return 0;
}

/* ---- gc ---- */

static void print_line(const char *what, void *arg)
{
	(void)arg;
	printf("%s\n", what);
}

static int cmd_gc(struct cmd_ctx *ctx, int argc, char **argv)
{
	static const struct cmd_option opts[] = { OPT_END() };
	struct strata_error *err = NULL;
	struct store_gc_stats st;
	cleanup_free char *bytes = NULL;
	struct store *s;
	size_t orphans = 0;

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	/* First what killed builds left: their containers hold layers gc would keep. */
	if (sys_is_host_root())
		launch_cgroup_remove_dead_builds("/sys/fs/cgroup", "/proc/self/cgroup");
	if (overlay_container_remove_orphans(s, &orphans, &err) < 0)
		return cmd_fail(ctx, err);
	if (orphans)
		printf("removed %zu working container%s of builds that are gone\n", orphans,
		       orphans == 1 ? "" : "s");
	if (store_gc(s, print_line, NULL, &st, &err) < 0)
		return cmd_fail(ctx, err);
	bytes = size_human(st.blob_bytes, SIZE_LIST);
	printf("freed %llu blobs (%s), %llu layer dirs, %llu staging entries\n",
	       (unsigned long long)st.blobs, bytes, (unsigned long long)st.layers,
	       (unsigned long long)st.tmp);
	if (st.idmap_copies)
		printf("freed %llu id-mapped layer copies\n", (unsigned long long)st.idmap_copies);
	return 0;
}

/* ---- fsck ---- */

static void print_problem(const char *what, void *arg)
{
	(void)arg;
	printf("%s\n", what);
}

static int cmd_fsck(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct strata_error *err = NULL;
	unsigned problems = 0, repaired = 0;
	bool repair = false;
	struct store *s;
	const struct cmd_option opts[] = {
		OPT_BOOL(0, "repair", &repair, "move corrupt blobs aside, drop dangling records"),
		OPT_END(),
	};

	if (!(s = cmd_parse_store(ctx, &argc, &argv, opts, 0, 0, "")))
		return ctx->status;
	if (store_fsck(s, repair, print_problem, NULL, &problems, &repaired, &err) < 0)
		return cmd_fail(ctx, err);
	if (problems == 0) {
		printf("store '%s' is consistent\n", store_root(s));
		return 0;
	}
	printf("%u problem%s found, %u repaired\n", problems, problems == 1 ? "" : "s", repaired);
	return repaired == problems && repair ? 0 : 1;
}

const struct command cmd_image_commands[] = {
	{ "images", "[options] [REF]", "list images (REF: only those it matches)", cmd_images },
	{ "tag", "SOURCE TARGET [TARGET...]", "add names to an image", cmd_tag },
	{ "rmi", "[options] IMAGE [IMAGE...] | -a", "remove image names (the data goes at gc)", cmd_rmi },
	{ "inspect", "[options] IMAGE|CONTAINER [...]", "show an image's or a container's details",
	  cmd_inspect },
	{ "history", "[options] IMAGE", "show how an image was made", cmd_history },
	{ "import", "[options] SOURCE NAME[:TAG]",
	  "make a one-layer image from a tar file (plain, gzip or zstd), a directory, or '-' for stdin",
	  cmd_import },
	{ "export", "[options] IMAGE", "write the image's flattened rootfs as a tar (stdout by default)",
	  cmd_export },
	{ "save", "[-o PATH] [options] IMAGE [IMAGE...]",
	  "write images to an OCI layout, an OCI archive or a docker archive", cmd_save },
	{ "load", "[-i PATH]", "load images from an OCI layout, an OCI archive or a docker archive",
	  cmd_load },
	{ "gc", "", "remove blobs and layers that nothing reaches", cmd_gc },
	{ "fsck", "[--repair]", "verify every blob and record", cmd_fsck },
	{ NULL, NULL, NULL, NULL },
};
