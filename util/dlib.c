/*
 * Libraries loaded with dlopen on first use. A library that only a few
 * commands need (libcurl for HTTP, libfuse3 for the /proc view) costs every
 * start its mapping and relocations, and those of the libraries it needs,
 * when strata is linked with it. Such a library is compiled against (its
 * header gives the types) but not linked: its functions are reached through
 * a table that dlib_ready fills, once, from the first soname that loads.
 *
 * The library is never closed: its functions stay valid for the life of
 * the process. A failure is kept as a message and returned on every later
 * call, without a second try, so that every caller sees the same answer.
 */
#include <dlfcn.h>
#include <errno.h>
#include <string.h>

#include "util/util.h"

/* Tries each soname in order; the message names the first, the one preferred. */
static void *open_first(struct dlib *lib)
{
	const char *first_error;
	void *h;

	h = dlopen(lib->sonames[0], RTLD_NOW | RTLD_LOCAL);
	if (h) {
		lib->soname = lib->sonames[0];
		return h;
	}
	first_error = dlerror();
	snprintf(lib->error, sizeof(lib->error), "cannot load %s: %s", lib->sonames[0],
		 first_error ? first_error : "unknown error");
	for (size_t i = 1; lib->sonames[i]; i++) {
		h = dlopen(lib->sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (h) {
			lib->soname = lib->sonames[i];
			lib->error[0] = '\0';
			return h;
		}
	}
	return NULL;
}

static void load(struct dlib *lib)
{
	const char *why;
	void *h = open_first(lib);

	if (!h)
		return;
	for (size_t i = 0; i < lib->n_syms; i++) {
		void *p = dlsym(h, lib->syms[i].name);

		if (!p) {
			snprintf(lib->error, sizeof(lib->error), "%s has no '%s'", lib->soname,
				 lib->syms[i].name);
			return;
		}
		memcpy((char *)lib->table + lib->syms[i].offset, &p, sizeof(p));
	}
	if (lib->init && (why = lib->init())) {
		snprintf(lib->error, sizeof(lib->error), "%s: %s", lib->soname, why);
		return;
	}
	lib->loaded = true;
}

bool dlib_ready(struct dlib *lib)
{
	/* The fast path of every call through the table: one acquire load. */
	if (__atomic_load_n(&lib->done, __ATOMIC_ACQUIRE))
		return lib->loaded;
	pthread_mutex_lock(&lib->lock);
	if (!lib->done) {
		load(lib);
		__atomic_store_n(&lib->done, true, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lib->lock);
	return lib->loaded;
}

int dlib_load(struct dlib *lib, struct strata_error **err)
{
	if (!dlib_ready(lib))
		return strata_fail_msg(err, ENOSYS, "%s", lib->error);
	return 0;
}

const char *dlib_error(struct dlib *lib)
{
	return dlib_ready(lib) ? "" : lib->error;
}
