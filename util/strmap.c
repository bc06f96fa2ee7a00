/*
 * A hash map from strings to pointers: open addressing with linear probing,
 * at most half full; keys copied in, or borrowed. Lookups and inserts cost
 * O(1) on average whatever the number of keys, where a strv_contains() scan costs O(n): the
 * store builds one per command (names per image, reachable blobs) instead of
 * scanning arrays per item.
 */
#include <string.h>

#include "util/util.h"

struct strmap_slot {
	char *key; /* owned copy (or the caller's, borrow_keys); NULL for an empty slot */
	size_t hash;
	void *value;
};

/*
 * Eight bytes at a time, each mixed in by a multiply (the keys are mostly
 * 71-byte digests and long names: a byte-at-a-time hash of them was a
 * tenth of a 10,000-image listing).
 */
static size_t hash_str(const char *s)
{
	const uint64_t k = 0x9e3779b97f4a7c15ULL;
	size_t n = strlen(s);
	uint64_t h = 0xcbf29ce484222325ULL ^ n;

	for (; n >= 8; n -= 8, s += 8) {
		uint64_t w;

		memcpy(&w, s, 8);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	if (n) {
		uint64_t w = 0;

		memcpy(&w, s, n);
		h = (h ^ w) * k;
		h ^= h >> 29;
	}
	h *= k;
	return (size_t)(h ^ (h >> 32));
}

/*
 * @n empty slots. Written, not calloc'ed: fresh pages from calloc are read
 * first by the probes, which maps the zero page, and then written, which
 * copies it and flushes the TLB on every CPU: two faults per page, not one.
 */
static struct strmap_slot *slots_new(size_t n)
{
	struct strmap_slot *sl = xmalloc(n * sizeof(*sl));

	memset(sl, 0, n * sizeof(*sl));
	return sl;
}

void strmap_init(struct strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void strmap_init_sized(struct strmap *m, size_t n, bool borrow_keys)
{
	memset(m, 0, sizeof(*m));
	m->borrow_keys = borrow_keys;
	for (m->cap = 16; m->cap < 2 * n + 2; m->cap *= 2)
		;
	m->slots = slots_new(m->cap);
}

void strmap_release(struct strmap *m, void (*free_value)(void *value))
{
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		if (!m->borrow_keys)
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
	m->slots = slots_new(m->cap);
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
	sl->key = m->borrow_keys ? (char *)key : xstrdup(key);
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
	sl->key = m->borrow_keys ? (char *)key : xstrdup(key);
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
