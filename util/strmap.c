/*
 * A hash map from strings to pointers: open addressing with linear probing,
 * FNV-1a hashes, at most half full. Lookups and inserts cost O(1) on average
 * whatever the number of keys, where a strv_contains() scan costs O(n): the
 * store builds one per command (names per image, reachable blobs) instead of
 * scanning arrays per item.
 */
#include <string.h>

#include "util/util.h"

struct strmap_slot {
	char *key; /* owned copy; NULL for an empty slot */
	size_t hash;
	void *value;
};

static size_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return (size_t)(h ^ (h >> 32));
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_release(struct strmap *m, void (*free_value)(void *value))
{
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		free(m->slots[i].key);
		if (free_value)
			free_value(m->slots[i].value);
	}
	free(m->slots);
	memset(m, 0, sizeof(*m));
}

/* The slot holding @key, or the empty slot where it would go. */
static struct strmap_slot *find_slot(const struct strmap *m, const char *key, size_t h)
{
	size_t mask = m->cap - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *sl = &m->slots[i];

		if (!sl->key || (sl->hash == h && strcmp(sl->key, key) == 0))
			return sl;
	}
}

static void grow(struct strmap *m)
{
	struct strmap_slot *old = m->slots;
	size_t old_cap = m->cap;

	m->cap = old_cap ? old_cap * 2 : 16;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].key)
			*find_slot(m, old[i].key, old[i].hash) = old[i];
	free(old);
}

bool strmap_put(struct strmap *m, const char *key, void *value, void **old)
{
	struct strmap_slot *sl;
	size_t h = hash_str(key);

	if ((m->len + 1) * 2 > m->cap)
		grow(m);
	sl = find_slot(m, key, h);
	if (sl->key) {
		if (old)
			*old = sl->value;
		sl->value = value;
		return false;
	}
	sl->key = xstrdup(key);
	sl->hash = h;
	sl->value = value;
	m->len++;
	return true;
}

bool strmap_add(struct strmap *m, const char *key)
{
	struct strmap_slot *sl;
	size_t h = hash_str(key);

	if ((m->len + 1) * 2 > m->cap)
		grow(m);
	sl = find_slot(m, key, h);
	if (sl->key)
		return false;
	sl->key = xstrdup(key);
	sl->hash = h;
	sl->value = NULL;
	m->len++;
	return true;
}

bool strmap_has(const struct strmap *m, const char *key)
{
	return m->cap && find_slot(m, key, hash_str(key))->key;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *sl;

	if (!m->cap)
		return NULL;
	sl = find_slot(m, key, hash_str(key));
	return sl->key ? sl->value : NULL;
}
