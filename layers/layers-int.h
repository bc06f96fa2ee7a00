/*
 * Internals of the layers module, shared between its .c files only.
 */
#ifndef STRATA_LAYERS_LAYERS_INT_H
#define STRATA_LAYERS_LAYERS_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "layers/layers.h"

/* ---- pathset.c: a set of relative paths ---- */

struct pathset {
	char **slots;
	size_t cap, used;
};

/* Adds a copy of @path (no-op when present). */
void pathset_add(struct pathset *set, const char *path);

/* True when @path was added. */
bool pathset_has(const struct pathset *set, const char *path);

/* Frees the set's contents; the struct may be reused. */
void pathset_free(struct pathset *set);

#endif
