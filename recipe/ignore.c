/*
 * .containerignore/.dockerignore, with the rules of moby/patternmatcher:
 *  - lines starting with '#' are comments, blank lines are skipped, the rest
 *    is trimmed; "!" makes an exception; patterns are cleaned like Go's
 *    filepath.Clean and a leading '/' is dropped;
 *  - '*' and '?' never match '/', "**" matches any number of directories
 *    ("**" followed by '/' also none, "**" at the end everything); a pattern
 *    that is "**" then plain text is a suffix test ("**.txt" matches
 *    "a/b.txt"); a "[...]" class is a regexp class (a negated one matches '/');
 *  - a pattern matches a path or any of its parent directories;
 *  - every pattern is tried in order and the last one that matches decides.
 * Source globs of COPY/ADD use Go's filepath.Match: the same without "**".
 *
 * Matching is a dynamic programme over (pattern token, path offset): linear
 * in their product, never exponential whatever the pattern.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "recipe/recipe-int.h"

enum tok_kind { T_LIT, T_ANY, T_STAR, T_CLASS, T_DSTAR_SLASH, T_DSTAR_END };

struct tok {
	enum tok_kind kind;
	unsigned char ch;
	bool negate;
	unsigned char set[32]; /* T_CLASS: a bitmap of bytes */
};

struct pattern {
	char *text;
	bool exclusion;
	const char *suffix; /* "**" then literal text: a plain suffix test (into @text) */
	struct tok *toks;
	size_t n;
};

struct recipe_ignore {
	struct pattern *p;
	size_t n, cap;
	bool has_exceptions;
};

static void set_bit(unsigned char *set, unsigned char c)
{
	set[c >> 3] |= (unsigned char)(1u << (c & 7));
}

static bool has_bit(const unsigned char *set, unsigned char c)
{
	return set[c >> 3] & (1u << (c & 7));
}

/*
 * One end of a class range at *pp, as Go's getEsc: never '-' or ']' there,
 * '\\' escapes, and the class must go on after it. -1 when malformed.
 */
static int class_char(const char **pp, unsigned char *out)
{
	const char *p = *pp;

	if (!*p || *p == '-' || *p == ']')
		return -1;
	if (*p == '\\' && !*++p)
		return -1;
	*out = (unsigned char)*p++;
	if (!*p)
		return -1;
	*pp = p;
	return 0;
}

/*
 * Parses "[...]" at *pp (just after '['); -1 when malformed. The syntax is
 * Go's filepath.Match (which moby's matcher checks every pattern with): a
 * class is not empty, a bare '-' or a ']' first is an error. "z-a" is an
 * empty range for Match, an error in an ignore file (@strict), whose
 * patterns moby compiles as regular expressions.
 */
static int parse_class(const char **pp, struct tok *t, bool strict)
{
	const char *p = *pp;
	size_t nrange = 0;

	t->kind = T_CLASS;
	memset(t->set, 0, sizeof(t->set));
	if (*p == '^') {
		t->negate = true;
		p++;
	}
	for (;;) {
		unsigned char lo, hi;

		if (*p == ']' && nrange > 0)
			break;
		if (class_char(&p, &lo) < 0)
			return -1;
		hi = lo;
		if (*p == '-') {
			p++;
			if (class_char(&p, &hi) < 0 || (strict && hi < lo))
				return -1;
		}
		for (unsigned c = lo; c <= hi; c++)
			set_bit(t->set, (unsigned char)c);
		nrange++;
	}
	*pp = p + 1;
	return 0;
}

/* Compiles @pat; @dstar: "**" has its ignore-file meaning. */
static int compile(const char *pat, bool dstar, struct tok **out, size_t *n)
{
	size_t cap = strlen(pat) + 1;
	struct tok *t = xcalloc(cap, sizeof(*t));
	size_t k = 0;
	const char *p = pat;

	while (*p) {
		struct tok *c = &t[k];

		if (*p == '*') {
			p++;
			if (dstar && *p == '*') {
				p++;
				if (*p == '/')
					p++;
				c->kind = *p ? T_DSTAR_SLASH : T_DSTAR_END;
			} else {
				c->kind = T_STAR;
			}
		} else if (*p == '?') {
			p++;
			c->kind = T_ANY;
		} else if (*p == '[') {
			p++;
			if (parse_class(&p, c, dstar) < 0) {
				free(t);
				return -1;
			}
		} else if (*p == '\\') {
			p++;
			if (!*p) {
				/* filepath.Match: a trailing '\\' is malformed, in ignore files too */
				free(t);
				return -1;
			} else {
				c->kind = T_LIT;
				c->ch = (unsigned char)*p++;
			}
		} else {
			c->kind = T_LIT;
			c->ch = (unsigned char)*p++;
		}
		k++;
	}
	*out = t;
	*n = k;
	return 0;
}

static bool match_toks(const struct tok *t, size_t nt, const char *s)
{
	size_t ns = strlen(s);
	bool *next = xcalloc(ns + 1, sizeof(bool)); /* row ti + 1 */
	bool *cur = xcalloc(ns + 1, sizeof(bool));  /* row ti */
	bool r;

	next[ns] = true; /* no tokens left: only the end matches */
	for (size_t ti = nt; ti-- > 0;) {
		const struct tok *k = &t[ti];
		bool acc = false;
		bool *tmp;

		for (size_t si = ns + 1; si-- > 0;) {
			unsigned char c = si < ns ? (unsigned char)s[si] : 0;
			bool have = si < ns;
			bool v = false;

			switch (k->kind) {
			case T_LIT:
				v = have && c == k->ch && next[si + 1];
				break;
			case T_ANY:
				v = have && c != '/' && next[si + 1];
				break;
			case T_CLASS:
				/* a regexp class: "[^a]" matches '/' too */
				v = have && has_bit(k->set, c) != k->negate && next[si + 1];
				break;
			case T_STAR:
				v = next[si] || (have && c != '/' && cur[si + 1]);
				break;
			case T_DSTAR_END:
				v = next[si] || (have && cur[si + 1]);
				break;
			case T_DSTAR_SLASH:
				/* (.*\/)?: nothing, or anything up to and including a '/'. */
				if (have && c == '/' && next[si + 1])
					acc = true;
				v = next[si] || acc;
				break;
			}
			cur[si] = v;
		}
		tmp = next;
		next = cur;
		cur = tmp;
		memset(cur, 0, (ns + 1) * sizeof(bool));
	}
	r = next[0];
	free(next);
	free(cur);
	return r;
}

int recipe_glob_match(const char *pattern, const char *name)
{
	struct tok *t = NULL;
	size_t n = 0;
	bool r;

	if (compile(pattern, false, &t, &n) < 0)
		return -1;
	r = match_toks(t, n, name);
	free(t);
	return r ? 1 : 0;
}

bool recipe_glob_has_magic(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/*
 * Go's filepath.Clean for a relative pattern: no empty or "." components,
 * ".." removing the one before it when there is one, no trailing '/'.
 */
static char *clean_pattern(const char *p)
{
	char **parts = xcalloc(1, sizeof(char *));
	struct sbuf out = SBUF_INIT;
	size_t n = 0;
	bool abs = *p == '/';

	while (*p) {
		size_t len = strcspn(p, "/");

		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* skip */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (n && strcmp(parts[n - 1], "..") != 0) {
				free(parts[--n]);
				parts[n] = NULL;
			} else if (!abs) {
				strv_append(&parts, "..");
				n++;
			}
		} else {
			char *c = xstrndup(p, len);

			strv_append(&parts, c);
			free(c);
			n++;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	for (size_t i = 0; i < n; i++) {
		if (i)
			sbuf_addstr(&out, "/");
		sbuf_addstr(&out, parts[i]);
	}
	strv_free(parts);
	return out.len ? sbuf_detach(&out, NULL) : (sbuf_release(&out), xstrdup("."));
}

int recipe_ignore_parse(const char *buf, size_t len, const char *name, struct recipe_ignore **out,
			struct strata_error **err)
{
	struct recipe_ignore *ig = xcalloc(1, sizeof(*ig));
	unsigned lineno = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) : len;
		cleanup_free char *line = xstrndup(buf, n);
		char *s = line, *e;
		bool excl = false;
		struct pattern pt = {0};

		buf += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
		lineno++;
		if (strlen(line) != n) {
			recipe_ignore_free(ig);
			return strata_fail_msg(err, EINVAL, "%s:%u: NUL byte in file", name,
					       lineno);
		}
		if (*s == '#')
			continue;
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
			s++;
		e = s + strlen(s);
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\v' ||
				 e[-1] == '\f'))
			*--e = '\0';
		if (!*s)
			continue;
		if (*s == '!') {
			excl = true;
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
			if (!*s) {
				recipe_ignore_free(ig);
				return strata_fail_msg(err, EINVAL,
						       "%s:%u: illegal exclusion pattern: '!'",
						       name, lineno);
			}
		}
		pt.text = clean_pattern(s);
		if (strcmp(pt.text, ".") == 0) {
			free(pt.text);
			continue;
		}
		pt.exclusion = excl;
		/* "**" then no special character: the path ends with the rest, any way */
		if (str_has_prefix(pt.text, "**") && !strpbrk(pt.text + 2, "*?[]\\"))
			pt.suffix = pt.text + 2;
		if (compile(pt.text, true, &pt.toks, &pt.n) < 0) {
			strata_fail_msg(err, EINVAL, "%s:%u: syntax error in pattern '%s'", name,
					lineno, pt.text);
			free(pt.text);
			recipe_ignore_free(ig);
			return -1;
		}
		ig->p = xgrow(ig->p, &ig->cap, ig->n, sizeof(*ig->p));
		ig->p[ig->n++] = pt;
		ig->has_exceptions |= excl;
	}
	*out = ig;
	return 0;
}

int recipe_ignore_load(int ctxfd, struct recipe_ignore **out, struct strata_error **err)
{
	static const char *const names[] = {".containerignore", ".dockerignore"};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		cleanup_free char *buf = NULL;
		size_t len = 0;
		int fd = openat(ctxfd, names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return strata_fail(err, errno, "open '%s'", names[i]);
		}
		if (file_read_fd(fd, RECIPE_FILE_MAX, &buf, &len, err) < 0) {
			close(fd);
			return strata_wrap(err, "read '%s'", names[i]);
		}
		close(fd);
		return recipe_ignore_parse(buf, len, names[i], out, err);
	}
	*out = xcalloc(1, sizeof(**out));
	return 0;
}

static bool match_one(const struct pattern *pt, const char *path)
{
	size_t n, k;

	if (!pt->suffix)
		return match_toks(pt->toks, pt->n, path);
	n = strlen(path);
	k = strlen(pt->suffix);
	if (n >= k && strcmp(path + n - k, pt->suffix) == 0)
		return true;
	/* "**\/foo" matches "foo" */
	return pt->suffix[0] == '/' && strcmp(path, pt->suffix + 1) == 0;
}

bool recipe_ignore_match(const struct recipe_ignore *ig, const char *path)
{
	bool matched = false;
	cleanup_free char *clean = NULL;

	if (!ig || !ig->n)
		return false;
	clean = clean_pattern(path);
	for (size_t i = 0; i < ig->n; i++) {
		const struct pattern *pt = &ig->p[i];
		bool m;

		/* An inclusion cannot change a match, nor an exclusion a non-match. */
		if (pt->exclusion != matched)
			continue;
		m = match_one(pt, clean);
		for (char *sl = strchr(clean, '/'); !m && sl; sl = strchr(sl + 1, '/')) {
			*sl = '\0';
			m = match_one(pt, clean);
			*sl = '/';
		}
		if (m)
			matched = !pt->exclusion;
	}
	return matched;
}

bool recipe_ignore_is_empty(const struct recipe_ignore *ig)
{
	return !ig || ig->n == 0;
}

bool recipe_ignore_has_exceptions(const struct recipe_ignore *ig)
{
	return ig && ig->has_exceptions;
}

bool recipe_ignore_may_reinclude(const struct recipe_ignore *ig, const char *dir)
{
	size_t n = strlen(dir);

	for (size_t i = 0; ig && i < ig->n; i++) {
		const char *t = ig->p[i].text;

		/* the exception, '/' added, begins with "DIR/" */
		if (!ig->p[i].exclusion)
			continue;
		if (strncmp(t, dir, n) == 0 && (t[n] == '/' || t[n] == '\0'))
			return true;
	}
	return false;
}

void recipe_ignore_free(struct recipe_ignore *ig)
{
	if (!ig)
		return;
	for (size_t i = 0; i < ig->n; i++) {
		free(ig->p[i].text);
		free(ig->p[i].toks);
	}
	free(ig->p);
	free(ig);
}
