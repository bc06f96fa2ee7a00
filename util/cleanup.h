/*
 * Scope-bound cleanup helpers: a variable declared with one of these is
 * released when it goes out of scope. Give ownership away with steal_ptr()
 * or steal_fd().
 */
#ifndef STRATA_UTIL_CLEANUP_H
#define STRATA_UTIL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

struct strata_error;
void strata_error_free(struct strata_error *e);

static inline void cleanup_freep(void *p)
{
	void **pp = (void **)p;

	free(*pp);
}

static inline void cleanup_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;

		close(*fd);
		errno = saved;
	}
}

static inline void cleanup_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

static inline void cleanup_dirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

static inline void cleanup_errorp(struct strata_error **e)
{
	if (*e)
		strata_error_free(*e);
}

/* Frees a NULL-terminated array of strings and the array. */
static inline void strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static inline void cleanup_strvp(char ***v)
{
	strv_free(*v);
}

#define cleanup_free __attribute__((cleanup(cleanup_freep)))
#define cleanup_close __attribute__((cleanup(cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(cleanup_fclosep)))
#define cleanup_dir __attribute__((cleanup(cleanup_dirp)))
#define cleanup_error __attribute__((cleanup(cleanup_errorp)))
#define cleanup_strv __attribute__((cleanup(cleanup_strvp)))

/* Returns *pp and sets it to NULL: the caller now owns the pointer. */
#define steal_ptr(pp)                                                                              \
	({                                                                                         \
		__typeof__(*(pp)) _v = *(pp);                                                      \
		*(pp) = NULL;                                                                      \
		_v;                                                                                \
	})

/* Returns *fdp and sets it to -1: the caller now owns the descriptor. */
static inline int steal_fd(int *fdp)
{
	int fd = *fdp;

	*fdp = -1;
	return fd;
}

#endif
