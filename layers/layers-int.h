/*
 * Internals of the layers module, shared between its .c files only.
 */
#ifndef STRATA_LAYERS_LAYERS_INT_H
#define STRATA_LAYERS_LAYERS_INT_H

#include <stdbool.h>
#include <stdio.h>

#include "layers/layers.h"

/* Receives the compressed bytes of pgzip and pzstd, in order. */
typedef int (*compressed_sink_fn)(void *arg, const void *buf, size_t n, struct strata_error **err);

/* ---- pgzip.c: parallel gzip ---- */

struct pgzip;

/* A gzip compressor at @level (0: 6) using every CPU (up to 8), writing to @sink. */
struct pgzip *layers_pgzip_new(int level, compressed_sink_fn sink, void *arg);

/* Compresses @n more bytes. */
int layers_pgzip_write(struct pgzip *g, const void *buf, size_t n, struct strata_error **err);

/* Compresses what is left and writes the gzip trailer. */
int layers_pgzip_finish(struct pgzip *g, struct strata_error **err);

/* Frees @g (waiting for its threads); NULL is fine. */
void layers_pgzip_free(struct pgzip *g);

/* ---- pzstd.c: parallel zstd ---- */

struct pzstd;

/* A zstd compressor at @level (0: 3) using every CPU (up to 8), writing frames to @sink. */
struct pzstd *layers_pzstd_new(int level, compressed_sink_fn sink, void *arg);

/* Compresses @n more bytes. */
int layers_pzstd_write(struct pzstd *z, const void *buf, size_t n, struct strata_error **err);

/* Compresses what is left; every frame has reached the sink when it returns 0. */
int layers_pzstd_finish(struct pzstd *z, struct strata_error **err);

/* Frees @z (waiting for its threads); NULL is fine. */
void layers_pzstd_free(struct pzstd *z);

/* ---- pathset.c: a set of relative paths ---- */

struct pathset {
	char **slots;
	size_t cap, used;
};

/* Adds a copy of @path (no-op when present). */
void layers_pathset_add(struct pathset *set, const char *path);

/* True when @path was added. */
bool layers_pathset_has(const struct pathset *set, const char *path);

/* Frees the set's contents; the struct may be reused. */
void layers_pathset_free(struct pathset *set);

#endif
