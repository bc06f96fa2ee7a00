/*
 * Store-wide settings: ROOT/settings.json, one JSON object, rewritten whole
 * (temporary file and rename) under the exclusive lock. A store without the
 * file has every setting at its default.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "store/store-int.h"

json_t *store_setting_get(struct store *s, const char *key)
{
	cleanup_json json_t *all = NULL;
	json_t *v;

	if (faccessat(s->root_fd, "settings.json", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return NULL;
	all = jv_load_at(s->root_fd, "settings.json", 1 << 20, NULL);
	v = json_object_get(all, key);
	return v ? json_incref(v) : NULL;
}

int store_setting_set(struct store *s, const char *key, json_t *value, struct strata_error **err)
{
	cleanup_json json_t *all = NULL;
	int r;

	if (store_lock(s, STORE_LOCK_EXCLUSIVE, err) < 0) {
		json_decref(value);
		return -1;
	}
	if (faccessat(s->root_fd, "settings.json", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		all = jv_load_at(s->root_fd, "settings.json", 1 << 20, NULL);
	if (!json_is_object(all)) {
		json_decref(all);
		all = json_object();
	}
	if (value)
		json_object_set_new(all, key, value);
	else
		json_object_del(all, key);
	r = jv_write_at(s->root_fd, "settings.json", all, err);
	store_unlock(s);
	return r < 0 ? strata_wrap(err, "write the store's settings") : 0;
}
