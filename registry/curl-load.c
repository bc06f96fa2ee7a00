/*
 * libcurl, loaded when HTTP is first needed. Only pull, push, login and a
 * recipe's ADD of a URL speak HTTP, but a binary linked with -lcurl maps
 * libcurl and the ~25 libraries it needs (two TLS stacks, Kerberos, LDAP,
 * SSH, IDN, HTTP/2, brotli) at every start: measured here, 3.5 ms of the
 * 6.6 ms a bare `strata --version` took, and an eighth of `strata run`.
 *
 * So strata is linked without libcurl, and the libcurl functions it calls
 * are defined here: each resolves the real one from libcurl.so.4 (dlopen,
 * once) and calls it, as systemd does for its optional libraries. The
 * callers keep curl's own headers, types and compile-time option checks.
 * When the library cannot be loaded, registry_http_load() says why, and
 * these functions fail the way libcurl reports failure (NULL, an error code).
 * The loading itself is util/dlib.c's.
 */
#include <stdarg.h>

#include <curl/curl.h>

#include "registry/registry.h"

static struct {
	CURLcode (*global_init)(long);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	void (*easy_reset)(CURL *);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
	CURLcode (*easy_perform)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	char *(*easy_escape)(CURL *, const char *, int);
	void (*free)(void *);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *);
	CURLMcode (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode (*multi_perform)(CURLM *, int *);
	CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd *, unsigned int, int, int *);
	CURLMsg *(*multi_info_read)(CURLM *, int *);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void (*slist_free_all)(struct curl_slist *);
	char *(*version)(void);
} api;

#define SYM(field, name) DLIB_SYM(__typeof__(api), field, name)
static const struct dlib_sym syms[] = {
	SYM(global_init, "curl_global_init"),
	SYM(easy_init, "curl_easy_init"),
	SYM(easy_cleanup, "curl_easy_cleanup"),
	SYM(easy_reset, "curl_easy_reset"),
	SYM(easy_setopt, "curl_easy_setopt"),
	SYM(easy_getinfo, "curl_easy_getinfo"),
	SYM(easy_perform, "curl_easy_perform"),
	SYM(easy_strerror, "curl_easy_strerror"),
	SYM(easy_escape, "curl_easy_escape"),
	SYM(free, "curl_free"),
	SYM(multi_init, "curl_multi_init"),
	SYM(multi_cleanup, "curl_multi_cleanup"),
	SYM(multi_add_handle, "curl_multi_add_handle"),
	SYM(multi_remove_handle, "curl_multi_remove_handle"),
	SYM(multi_perform, "curl_multi_perform"),
	SYM(multi_poll, "curl_multi_poll"),
	SYM(multi_info_read, "curl_multi_info_read"),
	SYM(slist_append, "curl_slist_append"),
	SYM(slist_free_all, "curl_slist_free_all"),
	SYM(version, "curl_version"),
};
#undef SYM

/* As the first libcurl call, before any thread uses it (libcurl's rule). */
static const char *global_init(void)
{
	return api.global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? NULL
								 : "global initialisation failed";
}

/* The ABI's soname: libcurl has kept version 4 since 2006. */
static const char *const sonames[] = {"libcurl.so.4", NULL};
static struct dlib libcurl = DLIB_INIT(sonames, syms, &api, global_init);

static bool ready(void)
{
	return dlib_ready(&libcurl);
}

int registry_http_load(struct strata_error **err)
{
	return dlib_load(&libcurl, err);
}

/* ---- libcurl's entry points, as curl/curl.h declares them ---- */

CURLcode curl_global_init(long flags)
{
	(void)flags; /* done once by load() */
	return ready() ? CURLE_OK : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
	return ready() ? api.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
	if (h && ready())
		api.easy_cleanup(h);
}

void curl_easy_reset(CURL *h)
{
	if (h && ready())
		api.easy_reset(h);
}

/*
 * curl_easy_setopt takes one argument after the option, whose type the
 * option's number range gives (curl.h's CURLOPTTYPE_*): a long, a curl_off_t,
 * or a pointer (objects, blobs and function pointers alike).
 */
#undef curl_easy_setopt
CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	va_list ap;
	CURLcode r;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT) {
		long v = va_arg(ap, long);

		r = api.easy_setopt(h, opt, v);
	} else if (opt >= CURLOPTTYPE_OFF_T && opt < CURLOPTTYPE_BLOB) {
		curl_off_t v = va_arg(ap, curl_off_t);

		r = api.easy_setopt(h, opt, v);
	} else {
		void *v = va_arg(ap, void *);

		r = api.easy_setopt(h, opt, v);
	}
	va_end(ap);
	return r;
}

/* curl_easy_getinfo's one argument is always a pointer to the result. */
#undef curl_easy_getinfo
CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	va_list ap;
	void *p;

	if (!ready())
		return CURLE_FAILED_INIT;
	va_start(ap, info);
	p = va_arg(ap, void *);
	va_end(ap);
	return api.easy_getinfo(h, info, p);
}

CURLcode curl_easy_perform(CURL *h)
{
	return ready() ? api.easy_perform(h) : CURLE_FAILED_INIT;
}

const char *curl_easy_strerror(CURLcode code)
{
	return ready() ? api.easy_strerror(code) : dlib_error(&libcurl);
}

char *curl_easy_escape(CURL *h, const char *s, int len)
{
	return ready() ? api.easy_escape(h, s, len) : NULL;
}

void curl_free(void *p)
{
	if (p && ready())
		api.free(p);
}

CURLM *curl_multi_init(void)
{
	return ready() ? api.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
	return ready() ? api.multi_cleanup(m) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
	return ready() ? api.multi_add_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return ready() ? api.multi_remove_handle(m, h) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
	return ready() ? api.multi_perform(m, running) : CURLM_BAD_HANDLE;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd *fds, unsigned int n, int timeout_ms,
			  int *numfds)
{
	return ready() ? api.multi_poll(m, fds, n, timeout_ms, numfds) : CURLM_BAD_HANDLE;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
	return ready() ? api.multi_info_read(m, left) : NULL;
}

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *s)
{
	return ready() ? api.slist_append(list, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *list)
{
	if (list && ready())
		api.slist_free_all(list);
}

char *curl_version(void)
{
	return ready() ? api.version() : (char *)dlib_error(&libcurl);
}
