/*
 * A set of strings, open addressing with linear probing (FNV-1a): the paths
 * one layer wrote, which its own whiteouts must not remove.
 */
#include <stdint.h>
#include <string.h>

#include "layers/layers-int.h"

static size_t hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)(h ^ (h >> 32));
}

static size_t find(char **slots, size_t cap, const char *path)
{
	size_t i = hash(path) & (cap - 1);

	while (slots[i] && strcmp(slots[i], path))
		i = (i + 1) & (cap - 1);
	return i;
}

void layers_pathset_add(struct pathset *set, const char *path)
{
	size_t i;

	if ((set->used + 1) * 4 >= set->cap * 3) {
		size_t cap = set->cap ? set->cap * 2 : 256;
		char **slots = xcalloc(cap, sizeof(*slots));

		for (size_t j = 0; j < set->cap; j++)
			if (set->slots[j])
				slots[find(slots, cap, set->slots[j])] = set->slots[j];
		free(set->slots);
		set->slots = slots;
		set->cap = cap;
	}
	i = find(set->slots, set->cap, path);
	if (!set->slots[i]) {
		set->slots[i] = xstrdup(path);
		set->used++;
	}
}

bool layers_pathset_has(const struct pathset *set, const char *path)
{
	return set->cap && set->slots[find(set->slots, set->cap, path)];
}

void layers_pathset_free(struct pathset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	set->slots = NULL;
	set->cap = set->used = 0;
}
