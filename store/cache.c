/*
 * Build cache entries: ROOT/cache/<key-hex>.json, each naming in "Blobs"
 * what it keeps alive (gc marks from them as from tags). An entry is
 * written whole under the exclusive lock and removed by one unlink, so a
 * crash leaves it or not, never half.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

/* Cache keys are digests; the entry file is named by their hex. */
static char *cache_name(const char *key, struct strata_error **err)
{
	const char *hex = digest_hex(key);

	if (strlen(hex) != DIGEST_HEX_LEN || !digest_is_hex_prefix(hex)) {
		strata_fail_msg(err, EINVAL, "invalid cache key '%s'", key);
		return NULL;
	}
	return xasprintf("%s.json", hex);
}

int store_cache_put(struct store *s, const char *key, const json_t *entry,
		    struct strata_error **err)
{
	cleanup_free char *name = cache_name(key, err);
	int ret;

	if (!name)
		return -1;
	if (!json_is_array(json_object_get(entry, "Blobs")))
		return strata_fail_msg(err, EINVAL, "cache entry '%s' has no 'Blobs' array", key);
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	ret = jv_write_at(s->cache_fd, name, entry, err);
	store_unlock(s);
	return ret;
}

json_t *store_cache_get(struct store *s, const char *key, struct strata_error **err)
{
	cleanup_free char *name = cache_name(key, err);
	json_t *j;

	if (!name)
		return NULL;
	if (faccessat(s->cache_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
		strata_fail_msg(err, ENOENT, "no cache entry '%s'", key);
		return NULL;
	}
	j = jv_load_at(s->cache_fd, name, STORE_JSON_MAX, err);
	if (j && !json_is_object(j)) {
		json_decref(j);
		strata_fail_msg(err, EINVAL, "cache entry '%s' is not a JSON object", key);
		return NULL;
	}
	return j;
}

/* The manifests tags and containers use: an entry naming one is in use. */
static char **used_images(struct store *s, struct strata_error **err)
{
	cleanup_json json_t *idx = store_index_load(s, err);
	cleanup_strv char **ids = NULL;
	char **used = xcalloc(1, sizeof(char *));
	json_t *e;
	size_t i;

	if (!idx || store_container_list(s, &ids, err) < 0) {
		strv_free(used);
		return NULL;
	}
	json_array_foreach(json_object_get(idx, "manifests"), i, e)
		if (jv_str(e, "digest"))
			strv_append(&used, jv_str(e, "digest"));
	for (i = 0; ids[i]; i++) {
		cleanup_json json_t *rec = store_container_load(s, ids[i], NULL);
		const char *dg = rec ? jv_str(rec, "ImageDigest") : NULL;

		if (dg && *dg)
			strv_append(&used, dg);
	}
	return used;
}

int store_cache_walk(struct store *s, store_cache_walk_fn fn, void *arg,
		     struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!(d = file_opendir_at(s->cache_fd, ".")))
		return strata_fail(err, errno, "read '%s/cache'", s->root);
	while ((de = readdir(d))) {
		cleanup_json json_t *entry = NULL;
		struct stat st;

		/* Only regular files: a link or a FIFO planted there is never read. */
		if (!str_has_suffix(de->d_name, ".json") ||
		    fstatat(s->cache_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		entry = jv_load_at(s->cache_fd, de->d_name, STORE_JSON_MAX, NULL);
		if (fn(s, de->d_name, &st, entry, arg, err) < 0)
			return -1;
	}
	return 0;
}

struct prune {
	const struct store_cache_prune_opts *o;
	char **used; /* the images in use, unless o->all */
	int64_t now;
	void (*report)(const char *key, void *arg);
	void *arg;
	uint64_t *removed;
};

static int prune_one(struct store *s, const char *name, const struct stat *st, json_t *entry,
		     void *arg, struct strata_error **err)
{
	struct prune *p = arg;
	const char *image = entry ? jv_str(entry, "Image") : NULL;
	cleanup_free char *key = NULL;

	/* Only what was made (written) before the cut-off. */
	if (p->o->until_age >= 0 && st->st_mtime > p->now - p->o->until_age)
		return 0;
	if (!p->o->all && image && strv_contains(p->used, image))
		return 0;
	if (unlinkat(s->cache_fd, name, 0) < 0 && errno != ENOENT)
		return strata_fail(err, errno, "remove cache entry '%s'", name);
	(*p->removed)++;
	key = xasprintf("sha256:%.*s", (int)(strlen(name) - strlen(".json")), name);
	if (p->report)
		p->report(key, p->arg);
	return 0;
}

int store_cache_prune(struct store *s, const struct store_cache_prune_opts *o,
		      void (*report)(const char *key, void *arg), void *arg, uint64_t *removed,
		      struct strata_error **err)
{
	cleanup_strv char **used = NULL;
	struct prune p = {
		.o = o,
		.now = time_now_ns() / 1000000000LL,
		.report = report,
		.arg = arg,
		.removed = removed,
	};
	int ret = -1;

	*removed = 0;
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (o->all || (used = used_images(s, err))) {
		p.used = used;
		ret = store_cache_walk(s, prune_one, &p, err);
	}
	store_unlock(s);
	return ret;
}

/* Adds the blobs of @entry to @seen (digest -> 1 listed by a used entry, 2 by an unused one). */
static void usage_add(struct store *s, const json_t *entry, bool used, struct strmap *seen,
		      char ***unused, struct store_cache_usage *u)
{
	json_t *b;
	size_t i;

	json_array_foreach(json_object_get(entry, "Blobs"), i, b)
	{
		const char *dg = json_string_value(b);
		uintptr_t was;
		uint64_t size = 0;

		if (!dg)
			continue;
		was = (uintptr_t)strmap_get(seen, dg);
		if (!was) {
			if (store_blob_size(s, dg, &size, NULL) == 0)
				u->bytes += size;
			strmap_put(seen, dg, (void *)(uintptr_t)(used ? 1 : 2), NULL);
			if (!used)
				strv_append(unused, dg);
		} else if (used && was == 2) {
			strmap_put(seen, dg, (void *)(uintptr_t)1, NULL);
		}
	}
}

struct usage {
	char **used;   /* the images in use */
	struct strmap seen;
	char **unused; /* the blobs first listed by an unused entry */
	struct store_cache_usage *out;
};

static int usage_one(struct store *s, const char *name, const struct stat *st, json_t *entry,
		     void *arg, struct strata_error **err)
{
	struct usage *u = arg;
	const char *image;
	bool in_use;

	(void)name, (void)st, (void)err;
	if (!entry)
		return 0;
	image = jv_str(entry, "Image");
	in_use = image && strv_contains(u->used, image);
	u->out->entries++;
	u->out->unused_entries += !in_use;
	usage_add(s, entry, in_use, &u->seen, &u->unused, u->out);
	return 0;
}

int store_cache_usage(struct store *s, struct store_cache_usage *out, struct strata_error **err)
{
	cleanup_strv char **used = NULL;
	struct usage u = { .seen = STRMAP_INIT, .unused = xcalloc(1, sizeof(char *)), .out = out };
	int ret = -1;

	memset(out, 0, sizeof(*out));
	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	if (!(used = used_images(s, err)))
		goto out;
	u.used = used;
	if (store_cache_walk(s, usage_one, &u, err) < 0)
		goto out;
	for (size_t i = 0; u.unused[i]; i++) {
		uint64_t size = 0;

		if ((uintptr_t)strmap_get(&u.seen, u.unused[i]) == 2 &&
		    store_blob_size(s, u.unused[i], &size, NULL) == 0)
			out->unused_bytes += size;
	}
	ret = 0;
out:
	strv_free(u.unused);
	strmap_release(&u.seen, NULL);
	store_unlock(s);
	return ret;
}
