/*
 * A JSON scanner: walks a document in a buffer value by value, decoding the
 * strings it is asked for in place, and builds no tree. Reading a few
 * members of 10,000 objects this way costs one pass over the bytes, where a
 * jansson tree costs several allocations per value. It accepts what jansson
 * accepts (RFC 8259, UTF-8, no NUL in strings, nesting at most
 * JSCAN_DEPTH_MAX), except that duplicate keys are not looked for.
 */
#include <string.h>

#include "util/util.h"

#define JSCAN_DEPTH_MAX 2048

void jscan_init(struct jscan *j, char *buf, size_t len)
{
	j->p = buf;
	j->end = buf + len;
	j->depth = 0;
	j->failed = false;
}

static bool fail(struct jscan *j)
{
	j->failed = true;
	return false;
}

static void skip_ws(struct jscan *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' || *j->p == '\r'))
		j->p++;
}

bool jscan_eat(struct jscan *j, char c)
{
	if (j->failed)
		return false;
	skip_ws(j);
	if (j->p < j->end && *j->p == c) {
		j->p++;
		return true;
	}
	return false;
}

char jscan_peek(struct jscan *j)
{
	skip_ws(j);
	return j->failed || j->p == j->end ? '\0' : *j->p;
}

bool jscan_at_end(struct jscan *j)
{
	skip_ws(j);
	return !j->failed && j->p == j->end;
}

static int hex4(const char *p)
{
	int v = 0;

	for (int i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* Writes code point @cp as UTF-8 at @out; returns the bytes written. */
static size_t put_utf8(char *out, unsigned cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The length of the well-formed UTF-8 sequence at @p (before @end), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	unsigned cp;
	size_t n;

	if (p[0] < 0xc2)
		return 0;
	n = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : p[0] < 0xf5 ? 4 : 0;
	if (!n || (size_t)(end - p) < n)
		return 0;
	cp = p[0] & (0x7f >> n);
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *jscan_string(struct jscan *j)
{
	char *out, *start;

	if (!jscan_eat(j, '"'))
		return fail(j), NULL;
	start = out = j->p;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"') {
			j->p++;
			*out = '\0'; /* at most where the closing quote was */
			return start;
		}
		if (c < 0x20)
			break;
		if (c >= 0x80) {
			size_t n = utf8_len((const unsigned char *)j->p, (const unsigned char *)j->end);

			if (!n)
				break;
			memmove(out, j->p, n);
			out += n;
			j->p += n;
			continue;
		}
		if (c != '\\') {
			*out++ = (char)c;
			j->p++;
			continue;
		}
		if (j->end - j->p < 2)
			break;
		c = (unsigned char)j->p[1];
		j->p += 2;
		switch (c) {
		case '"': case '\\': case '/': *out++ = (char)c; continue;
		case 'b': *out++ = '\b'; continue;
		case 'f': *out++ = '\f'; continue;
		case 'n': *out++ = '\n'; continue;
		case 'r': *out++ = '\r'; continue;
		case 't': *out++ = '\t'; continue;
		case 'u': break;
		default: return fail(j), NULL;
		}
		{
			int hi = j->end - j->p >= 4 ? hex4(j->p) : -1;
			unsigned cp;

			if (hi <= 0) /* malformed, or U+0000 (no NUL inside a C string) */
				break;
			j->p += 4;
			cp = (unsigned)hi;
			if (cp >= 0xdc00 && cp <= 0xdfff)
				break;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				int lo = j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u'
						 ? hex4(j->p + 2)
						 : -1;

				if (lo < 0xdc00 || lo > 0xdfff)
					break;
				j->p += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) + ((unsigned)lo - 0xdc00);
			}
			/* 6 or 12 bytes of escape give at most 3 or 4 of UTF-8: @out stays behind. */
			out += put_utf8(out, cp);
		}
	}
	return fail(j), NULL;
}

static bool is_digit(const char *p, const char *end)
{
	return p < end && *p >= '0' && *p <= '9';
}

bool jscan_number(struct jscan *j, int64_t *ival, bool *is_int)
{
	const char *p;
	bool neg = false, integral = true, overflow = false;
	uint64_t v = 0;

	if (j->failed)
		return false;
	skip_ws(j);
	p = j->p;
	if (p < j->end && *p == '-') {
		neg = true;
		p++;
	}
	if (!is_digit(p, j->end))
		return fail(j);
	if (*p == '0') {
		p++;
	} else {
		for (; is_digit(p, j->end); p++) {
			if (v > (UINT64_MAX - 9) / 10)
				overflow = true;
			v = v * 10 + (uint64_t)(*p - '0');
		}
	}
	if (p < j->end && *p == '.') {
		integral = false;
		if (!is_digit(++p, j->end))
			return fail(j);
		while (is_digit(p, j->end))
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		integral = false;
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (!is_digit(p, j->end))
			return fail(j);
		while (is_digit(p, j->end))
			p++;
	}
	j->p = (char *)p;
	/* As jansson: an integer beyond int64 is an error, not a real. */
	if (integral && (overflow || v > (uint64_t)INT64_MAX + neg))
		return fail(j);
	if (is_int)
		*is_int = integral;
	if (ival)
		*ival = !integral ? 0 : neg ? (int64_t)(0 - v) : (int64_t)v;
	return true;
}

static bool literal(struct jscan *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0)
		return fail(j);
	j->p += n;
	return true;
}

bool jscan_object_next(struct jscan *j, bool *first, char **key)
{
	if (j->failed)
		return false;
	if (jscan_eat(j, '}')) {
		j->depth--;
		return false;
	}
	if (!*first && !jscan_eat(j, ','))
		return fail(j);
	*first = false;
	if (!(*key = jscan_string(j)) || !jscan_eat(j, ':'))
		return fail(j);
	return true;
}

bool jscan_array_next(struct jscan *j, bool *first)
{
	if (j->failed)
		return false;
	if (jscan_eat(j, ']')) {
		j->depth--;
		return false;
	}
	if (!*first && !jscan_eat(j, ','))
		return fail(j);
	*first = false;
	return true;
}

bool jscan_enter(struct jscan *j, char open)
{
	if (!jscan_eat(j, open))
		return false;
	if (++j->depth > JSCAN_DEPTH_MAX)
		return fail(j);
	return true;
}

bool jscan_skip(struct jscan *j)
{
	bool first = true;
	char *key;

	if (j->failed)
		return false;
	skip_ws(j);
	if (j->p == j->end)
		return fail(j);
	switch (*j->p) {
	case '"':
		return jscan_string(j) != NULL;
	case '{':
		if (!jscan_enter(j, '{'))
			return fail(j);
		while (jscan_object_next(j, &first, &key))
			if (!jscan_skip(j))
				return false;
		return !j->failed;
	case '[':
		if (!jscan_enter(j, '['))
			return fail(j);
		while (jscan_array_next(j, &first))
			if (!jscan_skip(j))
				return false;
		return !j->failed;
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	default:
		return jscan_number(j, NULL, NULL);
	}
}
