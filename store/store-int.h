/*
 * Internals of the store module, shared between its .c files only.
 */
#ifndef STRATA_STORE_STORE_INT_H
#define STRATA_STORE_STORE_INT_H

#include <sys/stat.h>

#include "store/store.h"

/* An open store. The fds are O_DIRECTORY descriptors, valid while it is open. */
struct store {
	char *root;	  /* absolute path of ROOT */
	int root_fd;	  /* ROOT */
	int blobs_fd;	  /* ROOT/blobs/sha256 */
	int tmp_fd;	  /* ROOT/tmp */
	int layers_fd;	  /* ROOT/layers */
	int containers_fd; /* ROOT/containers */
	int cache_fd;	  /* ROOT/cache */
	int lock_fd;	  /* ROOT/lock */
	int lock_depth;	  /* nesting of store_lock() */
	int lock_mode;	  /* the mode held while lock_depth > 0 */
	int pin_fd;	  /* ROOT/gc.lock */
	int pin_depth;	  /* nesting of store_pin() */
	int users_fd;	  /* ROOT/users.lock, opened on first use */
	int users_depth;  /* nesting of store_users_lock() */
	int users_mode;	  /* the mode held while users_depth > 0 */
};

/* ---- manifest.c ---- */

/* Fills @d from a JSON descriptor; @what names it in errors. */
int store_desc_from_json(const json_t *j, struct store_desc *d, const char *what,
		   struct strata_error **err);

/* ---- index.c ---- */

/* The reference an index entry is tagged with, or NULL. */
const char *store_index_entry_ref(const json_t *entry);

/* Normalises @ref to "name:tag" (or "name@digest"); NULL with an error when invalid. */
char *store_ref_normalize(const char *ref, struct strata_error **err);

/* ---- image.c ---- */

/* Loads manifest and config for an index entry's digest. */
int store_image_load_digest(struct store *s, const char *digest, struct store_image **out,
		      struct strata_error **err);

/* ---- cache.c ---- */

/*
 * Called by store_cache_walk for each entry: its file name (<hex>.json), its
 * stat, and its JSON (NULL when it does not parse; borrowed). Returns 0 to
 * go on, -1 with *@err set to stop the walk.
 */
typedef int (*store_cache_walk_fn)(struct store *s, const char *name, const struct stat *st,
				   json_t *entry, void *arg, struct strata_error **err);

/*
 * Calls @fn for each build cache entry (a regular file named *.json in
 * ROOT/cache; no link followed), in directory order. The caller holds the lock.
 */
int store_cache_walk(struct store *s, store_cache_walk_fn fn, void *arg,
		     struct strata_error **err);

#endif
