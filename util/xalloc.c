/*
 * Allocation that cannot fail (out of memory aborts, as crun's OOM()), string
 * arrays and a growable buffer.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util/util.h"

static void __attribute__((noreturn)) oom(void)
{
	static const char msg[] = "strata: out of memory\n";

	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more can be done */
	}
	abort();
}

/*
 * A command about to build a large catalog in many small pieces (10,000
 * images: 20 MB in 60,000 allocations) took a page fault per 4 KiB page
 * touched, and on a paravirtualised machine each fault costs several
 * microseconds of hypervisor work: a third of `images`. Here the heap
 * grows once by what is expected, every later allocation comes from it
 * (none mmap'ed on its own), and the kernel is asked to back it with huge
 * pages (transparent huge pages in "madvise" mode, as Debian ships): a
 * fault per 2 MiB. Nothing is returned to the kernel before exit.
 */
void xalloc_expect(size_t bytes)
{
	static bool done;
	const uintptr_t huge = 2u << 20;
	uintptr_t start, end;

	if (done || bytes < huge)
		return;
	done = true;
	bytes = bytes > (30u << 20) ? 30u << 20 : bytes; /* under the mmap threshold set here */
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	start = (uintptr_t)sbrk(0);
	free(xmalloc(bytes)); /* the heap grows, and keeps its top free */
	end = (uintptr_t)sbrk(0);
	start = (start + huge - 1) & ~(huge - 1);
	if (end > start + huge)
		madvise((void *)start, (end - start) & ~(huge - 1), MADV_HUGEPAGE);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom();
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (!q)
		oom();
	return q;
}

/*
 * Growing by one element made every append copy the whole array (realloc
 * moves a block it cannot extend, and under AddressSanitizer always does):
 * a 20 KB template of parentheses cost 20,000 copies of its token array.
 */
void *xgrow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t want;

	if (n < *cap)
		return p;
	if (!size || n >= SIZE_MAX / size || *cap > SIZE_MAX / 2)
		oom();
	want = *cap < 4 ? 8 : *cap * 2;
	if (want <= n)
		want = n + 1;
	if (want > SIZE_MAX / size)
		oom();
	p = xrealloc(p, want * size);
	*cap = want;
	return p;
}

char *xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		oom();
	return d;
}

char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (!d)
		oom();
	return d;
}

char *xvasprintf(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *xasprintf(const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

size_t strv_len(char *const *v)
{
	size_t n = 0;

	if (!v)
		return 0;
	while (v[n])
		n++;
	return n;
}

void strv_append(char ***v, const char *s)
{
	size_t n = strv_len(*v);

	*v = xrealloc(*v, (n + 2) * sizeof(char *));
	(*v)[n] = xstrdup(s);
	(*v)[n + 1] = NULL;
}

char **strv_dup(char *const *v)
{
	size_t n;
	char **d;

	if (!v)
		return NULL;
	n = strv_len(v);
	d = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		d[i] = xstrdup(v[i]);
	return d;
}

bool strv_contains(char *const *v, const char *s)
{
	for (size_t i = 0; v && v[i]; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

static void sbuf_grow(struct sbuf *b, size_t extra)
{
	size_t need = b->len + extra + 1;

	if (need <= b->cap)
		return;
	if (b->cap * 2 > need)
		need = b->cap * 2;
	if (need < 64)
		need = 64;
	b->buf = xrealloc(b->buf, need);
	b->cap = need;
}

void sbuf_add(struct sbuf *b, const void *data, size_t n)
{
	sbuf_grow(b, n);
	if (n)
		memcpy(b->buf + b->len, data, n);
	b->len += n;
	b->buf[b->len] = '\0';
}

void sbuf_addstr(struct sbuf *b, const char *s)
{
	sbuf_add(b, s, strlen(s));
}

void sbuf_addf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	sbuf_grow(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void sbuf_release(struct sbuf *b)
{
	free(b->buf);
	b->buf = NULL;
	b->len = b->cap = 0;
}

char *sbuf_detach(struct sbuf *b, size_t *len)
{
	char *r;

	if (!b->buf) {
		sbuf_grow(b, 0);
		b->buf[0] = '\0';
	}
	r = b->buf;
	if (len)
		*len = b->len;
	b->buf = NULL;
	b->len = b->cap = 0;
	return r;
}
