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

int store_cache_prune(struct store *s, const struct store_cache_prune_opts *o,
		      void (*report)(const char *key, void *arg), void *arg, uint64_t *removed,
		      struct strata_error **err)
{
	cleanup_strv char **used = NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int64_t now = time_now_ns() / 1000000000LL;
	int fd, ret = -1;

	*removed = 0;
	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0)
		return -1;
	if (!o->all && !(used = used_images(s, err)))
		goto out;
	fd = openat(s->cache_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		strata_fail(err, errno, "read '%s/cache'", s->root);
		goto out;
	}
	while ((de = readdir(d))) {
		cleanup_json json_t *entry = NULL;
		cleanup_free char *key = NULL;
		const char *image;
		struct stat st;

		if (!str_has_suffix(de->d_name, ".json") ||
		    fstatat(s->cache_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		/* Only what was made (written) before the cut-off. */
		if (o->until_age >= 0 && st.st_mtime > now - o->until_age)
			continue;
		entry = jv_load_at(s->cache_fd, de->d_name, STORE_JSON_MAX, NULL);
		image = entry ? jv_str(entry, "Image") : NULL;
		if (!o->all && image && strv_contains(used, image))
			continue;
		if (unlinkat(s->cache_fd, de->d_name, 0) < 0 && errno != ENOENT) {
			strata_fail(err, errno, "remove cache entry '%s'", de->d_name);
			goto out;
		}
		(*removed)++;
		key = xasprintf("sha256:%.*s", (int)(strlen(de->d_name) - strlen(".json")),
				de->d_name);
		if (report)
			report(key, arg);
	}
	ret = 0;
out:
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

int store_cache_usage(struct store *s, struct store_cache_usage *out, struct strata_error **err)
{
	struct strmap seen = STRMAP_INIT;
	cleanup_strv char **used = NULL;
	cleanup_strv char **unused = xcalloc(1, sizeof(char *));
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd, ret = -1;

	memset(out, 0, sizeof(*out));
	if (store_lock(s, STORE_LOCK_SHARED, err) < 0)
		return -1;
	if (!(used = used_images(s, err)))
		goto out;
	fd = openat(s->cache_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		strata_fail(err, errno, "read '%s/cache'", s->root);
		goto out;
	}
	while ((de = readdir(d))) {
		cleanup_json json_t *entry = NULL;
		const char *image;
		bool in_use;

		if (!str_has_suffix(de->d_name, ".json") ||
		    !(entry = jv_load_at(s->cache_fd, de->d_name, STORE_JSON_MAX, NULL)))
			continue;
		image = jv_str(entry, "Image");
		in_use = image && strv_contains(used, image);
		out->entries++;
		out->unused_entries += !in_use;
		usage_add(s, entry, in_use, &seen, &unused, out);
	}
	for (size_t i = 0; unused[i]; i++) {
		uint64_t size = 0;

		if ((uintptr_t)strmap_get(&seen, unused[i]) == 2 &&
		    store_blob_size(s, unused[i], &size, NULL) == 0)
			out->unused_bytes += size;
	}
	ret = 0;
out:
	strmap_release(&seen, NULL);
	store_unlock(s);
	return ret;
}
