/*
 * Layer directories and build cache entries. A layer dir is named by the
 * chain ID of the layer stack it holds, so every image with the same chain
 * shares it; overlay/ makes them, the store finds, keeps and collects them.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "store/store-int.h"

char *store_layer_path(struct store *s, const char *backend, const char *chain_id)
{
	return xasprintf("%s/layers/%s/%s", s->root, backend, digest_hex(chain_id));
}

bool store_layer_exists(struct store *s, const char *backend, const char *chain_id)
{
	cleanup_free char *rel = xasprintf("%s/%s/layer.json", backend, digest_hex(chain_id));

	return faccessat(s->layers_fd, rel, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

json_t *store_layer_record(struct store *s, const char *backend, const char *chain_id,
			   struct strata_error **err)
{
	cleanup_free char *rel = xasprintf("%s/%s/layer.json", backend, digest_hex(chain_id));

	return jv_load_at(s->layers_fd, rel, STORE_JSON_MAX, err);
}

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
