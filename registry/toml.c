/*
 * A strict parser for the part of TOML (v1.0.0) that containers'
 * configuration files use, into a jansson tree: tables become objects,
 * arrays arrays, strings, booleans and integers themselves. Bare, quoted
 * and dotted keys; [table] and [[array.of.tables]] headers; basic and
 * literal strings; arrays over several lines; inline tables. What it does
 * not take (multi-line strings, floats, dates) is refused by name, as is
 * anything TOML forbids (a key or table defined twice, a table extended
 * after it was written inline): the error gives the line.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/registry-int.h"

#define TOML_MAX_DEPTH 32

struct tparse {
	const char *p, *end;
	int line;
	struct strata_error **err;
	json_t *root;
	json_t **defined; /* tables given a [header] or written inline: closed to headers */
	size_t n_defined, cap_defined;
	json_t **implicit; /* tables made by a dotted key's prefix: closed to [headers] too */
	size_t n_implicit, cap_implicit;
	json_t **sealed; /* inline tables: closed to everything */
	size_t n_sealed, cap_sealed;
};

static int tfail(struct tparse *t, const char *fmt, ...) FMT(2, 3);

static int tfail(struct tparse *t, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A key or value quoted back may hold escaped control characters. */
	for (char *m = msg; *m; m++)
		if ((unsigned char)*m < ' ' || *m == 0x7f)
			*m = '?';
	return strata_fail_msg(t->err, EINVAL, "line %d: %s", t->line, msg);
}

/* @c for a message: itself when printable, else its code ("\\x0a"). */
static const char *show(char c, char buf[8])
{
	unsigned char u = (unsigned char)c;

	if (u > ' ' && u < 0x7f && u != '\'')
		snprintf(buf, 8, "%c", c);
	else
		snprintf(buf, 8, "\\x%02x", u);
	return buf;
}

static void mark(json_t ***v, size_t *n, size_t *cap, json_t *j)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*v = xrealloc(*v, *cap * sizeof(**v));
	}
	(*v)[(*n)++] = j;
}

static bool marked(json_t *const *v, size_t n, const json_t *j)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == j)
			return true;
	return false;
}

static void skip_ws(struct tparse *t)
{
	while (t->p < t->end && (*t->p == ' ' || *t->p == '\t'))
		t->p++;
}

/* Skips a comment, if any; its characters must not be control characters. */
static int skip_comment(struct tparse *t)
{
	if (t->p >= t->end || *t->p != '#')
		return 0;
	for (; t->p < t->end && *t->p != '\n'; t->p++) {
		unsigned char c = (unsigned char)*t->p;

		if ((c < 0x20 && c != '\t' && !(c == '\r' && t->p + 1 < t->end && t->p[1] == '\n')) ||
		    c == 0x7f)
			return tfail(t, "control character in a comment");
	}
	return 0;
}

/* Expects the end of a line (after blanks and a comment) and moves past it. */
static int end_of_line(struct tparse *t)
{
	skip_ws(t);
	if (skip_comment(t) < 0)
		return -1;
	if (t->p >= t->end)
		return 0;
	if (*t->p == '\r' && t->p + 1 < t->end && t->p[1] == '\n')
		t->p++;
	if (*t->p != '\n') {
		char b[8];

		return tfail(t, "unexpected '%s' after the value (one key = value per line)",
			     show(*t->p, b));
	}
	t->p++;
	t->line++;
	return 0;
}

/* Blanks, comments and newlines, as between the values of an array. */
static int skip_ws_nl(struct tparse *t)
{
	for (;;) {
		skip_ws(t);
		if (skip_comment(t) < 0)
			return -1;
		if (t->p < t->end && *t->p == '\r' && t->p + 1 < t->end && t->p[1] == '\n')
			t->p++;
		if (t->p < t->end && *t->p == '\n') {
			t->p++;
			t->line++;
			continue;
		}
		return 0;
	}
}

static void utf8_put(struct sbuf *b, unsigned long cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	sbuf_add(b, u, n);
}

static int parse_escape(struct tparse *t, struct sbuf *b)
{
	const char *map = "b\bt\tn\nf\fr\r\"\"\\\\";
	unsigned long cp = 0;
	int digits;
	char c, shown[8];

	if (t->p >= t->end)
		return tfail(t, "unterminated string");
	c = *t->p++;
	for (const char *m = map; *m; m += 2)
		if (*m == c) {
			sbuf_add(b, m + 1, 1);
			return 0;
		}
	if (c != 'u' && c != 'U')
		return tfail(t, "invalid escape '\\%s' in a string", show(c, shown));
	digits = c == 'u' ? 4 : 8;
	for (int i = 0; i < digits; i++, t->p++) {
		char h = t->p < t->end ? *t->p : '\0';
		int v = h >= '0' && h <= '9'   ? h - '0'
			: h >= 'a' && h <= 'f' ? h - 'a' + 10
			: h >= 'A' && h <= 'F' ? h - 'A' + 10
					       : -1;

		if (v < 0)
			return tfail(t, "invalid \\%c escape: want %d hex digits", c, digits);
		cp = cp * 16 + (unsigned long)v;
	}
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return tfail(t, "invalid \\%c escape: not a Unicode scalar value", c);
	utf8_put(b, cp);
	return 0;
}

/* A string ("basic" or 'literal') at t->p into *out (caller frees). */
static int parse_string(struct tparse *t, char **out, size_t *len)
{
	struct sbuf b = SBUF_INIT;
	char q = *t->p;

	if (t->end - t->p >= 3 && t->p[1] == q && t->p[2] == q)
		return tfail(t, "multi-line strings are not supported");
	t->p++;
	for (;;) {
		unsigned char c;

		if (t->p >= t->end || *t->p == '\n') {
			sbuf_release(&b);
			return tfail(t, "unterminated string");
		}
		c = (unsigned char)*t->p;
		if (c == (unsigned char)q) {
			t->p++;
			break;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			sbuf_release(&b);
			return tfail(t, "control character in a string");
		}
		t->p++;
		if (c == '\\' && q == '"') {
			if (parse_escape(t, &b) < 0) {
				sbuf_release(&b);
				return -1;
			}
			continue;
		}
		sbuf_add(&b, (const char *)&c, 1);
	}
	*out = sbuf_detach(&b, len);
	if (memchr(*out, '\0', *len)) {
		free(*out);
		*out = NULL;
		return tfail(t, "NUL character in a string");
	}
	return 0;
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* One key component (bare or quoted) into *out. */
static int parse_key_part(struct tparse *t, char **out)
{
	size_t len;
	const char *s = t->p;

	skip_ws(t);
	if (t->p < t->end && (*t->p == '"' || *t->p == '\''))
		return parse_string(t, out, &len);
	s = t->p;
	while (t->p < t->end && is_bare(*t->p))
		t->p++;
	if (t->p == s) {
		char b[8];

		if (t->p >= t->end || *t->p == '\n')
			return tfail(t, "a key is missing");
		return tfail(t, "invalid character '%s' in a key", show(*t->p, b));
	}
	*out = xstrndup(s, (size_t)(t->p - s));
	return 0;
}

/* A dotted key into the list *keys (caller frees). */
static int parse_key(struct tparse *t, char ***keys)
{
	for (;;) {
		char *k = NULL;

		if (parse_key_part(t, &k) < 0)
			return -1;
		strv_append(keys, k);
		free(k);
		skip_ws(t);
		if (t->p < t->end && *t->p == '.') {
			t->p++;
			continue;
		}
		return 0;
	}
}

/* Sets @key of @obj to @v (stolen); a key set twice is refused. */
static int set_new(struct tparse *t, json_t *obj, const char *key, json_t *v)
{
	if (json_object_get(obj, key)) {
		json_decref(v);
		return tfail(t, "key '%s' is defined twice", key);
	}
	if (json_object_set_new(obj, key, v) < 0)
		return tfail(t, "key '%s' is not valid UTF-8", key);
	return 0;
}

static int parse_value(struct tparse *t, json_t **out, int depth);

static int parse_array(struct tparse *t, json_t **out, int depth)
{
	json_t *a = json_array();

	t->p++; /* '[' */
	for (;;) {
		json_t *v = NULL;

		if (skip_ws_nl(t) < 0)
			goto fail;
		if (t->p < t->end && *t->p == ']') {
			t->p++;
			break;
		}
		if (parse_value(t, &v, depth + 1) < 0)
			goto fail;
		json_array_append_new(a, v);
		if (skip_ws_nl(t) < 0)
			goto fail;
		if (t->p < t->end && *t->p == ',') {
			t->p++;
			continue;
		}
		if (t->p < t->end && *t->p == ']') {
			t->p++;
			break;
		}
		tfail(t, "an array wants ',' or ']' after a value");
		goto fail;
	}
	*out = a;
	return 0;
fail:
	json_decref(a);
	return -1;
}

static int assign(struct tparse *t, json_t *table, char **keys, json_t *v);

static int parse_inline_table(struct tparse *t, json_t **out, int depth)
{
	json_t *o = json_object();

	t->p++; /* '{' */
	skip_ws(t);
	if (t->p < t->end && *t->p == '}') {
		t->p++;
		goto done;
	}
	for (;;) {
		cleanup_strv char **keys = NULL;
		json_t *v = NULL;

		if (parse_key(t, &keys) < 0)
			goto fail;
		if (t->p >= t->end || *t->p != '=') {
			tfail(t, "want '=' after the key '%s'", keys[strv_len(keys) - 1]);
			goto fail;
		}
		t->p++;
		skip_ws(t);
		if (parse_value(t, &v, depth + 1) < 0 || assign(t, o, keys, v) < 0)
			goto fail;
		skip_ws(t);
		if (t->p < t->end && *t->p == ',') {
			t->p++;
			continue;
		}
		if (t->p < t->end && *t->p == '}') {
			t->p++;
			break;
		}
		tfail(t, "an inline table wants ',' or '}' after a value (on one line)");
		goto fail;
	}
done:
	mark(&t->sealed, &t->n_sealed, &t->cap_sealed, o);
	*out = o;
	return 0;
fail:
	json_decref(o);
	return -1;
}

static int parse_scalar(struct tparse *t, json_t **out)
{
	const char *s = t->p;
	size_t n;
	long long v = 0;
	bool neg = false, digits = false;
	const char *q;

	while (t->p < t->end && !strchr(" \t\r\n,]}#", *t->p))
		t->p++;
	n = (size_t)(t->p - s);
	if (n == 4 && strncmp(s, "true", 4) == 0) {
		*out = json_true();
		return 0;
	}
	if (n == 5 && strncmp(s, "false", 5) == 0) {
		*out = json_false();
		return 0;
	}
	if (n == 0)
		return tfail(t, "a value is missing");
	q = s;
	if (*q == '+' || *q == '-')
		neg = *q++ == '-';
	for (; q < t->p; q++) {
		if (*q == '_' && digits && q + 1 < t->p && q[1] >= '0' && q[1] <= '9')
			continue;
		if (*q < '0' || *q > '9')
			return tfail(t, "unsupported value '%.*s' (strings are quoted; floats and dates "
				     "are not supported)",
				     (int)(n > 40 ? 40 : n), s);
		if (v > (LLONG_MAX - (*q - '0')) / 10)
			return tfail(t, "integer '%.*s' is too large", (int)(n > 40 ? 40 : n), s);
		v = v * 10 + (*q - '0');
		digits = true;
	}
	if (!digits)
		return tfail(t, "unsupported value '%.*s'", (int)(n > 40 ? 40 : n), s);
	if (s[neg || *s == '+' ? 1 : 0] == '0' && v != 0)
		return tfail(t, "an integer must not have leading zeros");
	*out = json_integer((json_int_t)(neg ? -v : v));
	return 0;
}

static int parse_value(struct tparse *t, json_t **out, int depth)
{
	if (depth > TOML_MAX_DEPTH)
		return tfail(t, "values nested more than %d deep", TOML_MAX_DEPTH);
	if (t->p >= t->end)
		return tfail(t, "a value is missing");
	if (*t->p == '"' || *t->p == '\'') {
		cleanup_free char *s = NULL;
		size_t len;

		if (parse_string(t, &s, &len) < 0)
			return -1;
		*out = json_stringn(s, len);
		if (!*out)
			return tfail(t, "a string is not valid UTF-8");
		return 0;
	}
	if (*t->p == '[')
		return parse_array(t, out, depth);
	if (*t->p == '{')
		return parse_inline_table(t, out, depth);
	return parse_scalar(t, out);
}

/*
 * Walks @keys but the last from @table, making the tables a dotted key
 * implies, then sets the last to @v (stolen).
 */
static int assign(struct tparse *t, json_t *table, char **keys, json_t *v)
{
	size_t n = strv_len(keys);

	for (size_t i = 0; i + 1 < n; i++) {
		json_t *next = json_object_get(table, keys[i]);

		if (!next) {
			next = json_object();
			if (set_new(t, table, keys[i], next) < 0) {
				json_decref(v);
				return -1;
			}
			mark(&t->implicit, &t->n_implicit, &t->cap_implicit, next);
		} else if (!json_is_object(next) || marked(t->defined, t->n_defined, next) ||
			   marked(t->sealed, t->n_sealed, next)) {
			json_decref(v);
			return tfail(t, "key '%s' is already defined as a value", keys[i]);
		}
		table = next;
	}
	return set_new(t, table, keys[n - 1], v);
}

/* A [header] or [[header]]: sets *cur to the table that follows. */
static int parse_header(struct tparse *t, json_t **cur)
{
	cleanup_strv char **keys = NULL;
	bool aot = t->end - t->p >= 2 && t->p[1] == '[';
	json_t *table = t->root;
	size_t n;

	t->p += aot ? 2 : 1;
	if (parse_key(t, &keys) < 0)
		return -1;
	if (t->p >= t->end || *t->p != ']' || (aot && (t->end - t->p < 2 || t->p[1] != ']')))
		return tfail(t, "a table header wants '%s' after its name", aot ? "]]" : "]");
	t->p += aot ? 2 : 1;
	n = strv_len(keys);
	for (size_t i = 0; i < n; i++) {
		json_t *next = json_object_get(table, keys[i]);
		bool last = i + 1 == n;

		if (last && aot) {
			json_t *elem = json_object();

			if (!next) {
				next = json_array();
				if (set_new(t, table, keys[i], next) < 0) {
					json_decref(elem);
					return -1;
				}
				mark(&t->defined, &t->n_defined, &t->cap_defined, next);
			} else if (!json_is_array(next) || !marked(t->defined, t->n_defined, next)) {
				json_decref(elem);
				return tfail(t, "'%s' is not an array of tables", keys[i]);
			}
			json_array_append_new(next, elem);
			*cur = elem;
			return end_of_line(t);
		}
		if (!next) {
			next = json_object();
			if (set_new(t, table, keys[i], next) < 0)
				return -1;
		} else if (json_is_array(next) && !last && marked(t->defined, t->n_defined, next) &&
			   json_array_size(next) > 0) {
			/* [a.b] after [[a]]: a table in a's last element. */
			next = json_array_get(next, json_array_size(next) - 1);
		} else if (!json_is_object(next)) {
			return tfail(t, "key '%s' is already defined as a value", keys[i]);
		} else if (last && (marked(t->defined, t->n_defined, next) ||
				    marked(t->implicit, t->n_implicit, next))) {
			return tfail(t, "table '%s' is defined twice", keys[i]);
		} else if (marked(t->sealed, t->n_sealed, next)) {
			return tfail(t, "table '%s' was written inline and cannot be extended", keys[i]);
		}
		table = next;
	}
	mark(&t->defined, &t->n_defined, &t->cap_defined, table);
	*cur = table;
	return end_of_line(t);
}

int reg_toml_parse(const char *buf, size_t len, json_t **out, struct strata_error **err)
{
	struct tparse t = { .p = buf, .end = buf + len, .line = 1, .err = err };
	json_t *cur;
	int ret = -1;

	if (memchr(buf, '\0', len))
		return strata_fail_msg(err, EINVAL, "a NUL byte in the file (not TOML text)");
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		t.p += 3;
	t.root = cur = json_object();
	for (;;) {
		if (skip_ws_nl(&t) < 0)
			goto out;
		if (t.p >= t.end)
			break;
		if (*t.p == '[') {
			if (parse_header(&t, &cur) < 0)
				goto out;
			continue;
		}
		{
			cleanup_strv char **keys = NULL;
			json_t *v = NULL;

			if (parse_key(&t, &keys) < 0)
				goto out;
			if (t.p >= t.end || *t.p != '=') {
				tfail(&t, "want '=' after the key '%s'", keys[strv_len(keys) - 1]);
				goto out;
			}
			t.p++;
			skip_ws(&t);
			if (parse_value(&t, &v, 0) < 0 || assign(&t, cur, keys, v) < 0)
				goto out;
			if (end_of_line(&t) < 0)
				goto out;
		}
	}
	*out = steal_ptr(&t.root);
	ret = 0;
out:
	if (t.root)
		json_decref(t.root);
	free(t.defined);
	free(t.implicit);
	free(t.sealed);
	return ret;
}
