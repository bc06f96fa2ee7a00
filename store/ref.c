/*
 * Image references, validated against the grammar of the distribution
 * spec (distribution/reference):
 *
 *   reference      := name [ ":" tag ] [ "@" digest ]
 *   name           := [domain "/"] path-component ["/" path-component]*
 *   domain         := domain-component ["." domain-component]* [":" port]
 *   path-component := [a-z0-9]+ (separator [a-z0-9]+)*
 *   separator      := [_.] | "__" | [-]+
 *   tag            := [\w][\w.-]{0,127}
 *
 * The first component is a domain when it contains '.' or ':' or is
 * "localhost" (docker's rule). Every error names the rule that was broken.
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "store/store-int.h"

#define NAME_MAX_LEN 255

static bool is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool is_word(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

bool store_tag_is_valid(const char *tag)
{
	size_t n = strlen(tag);

	if (n == 0 || n > 128 || !is_word(tag[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!is_word(tag[i]) && tag[i] != '.' && tag[i] != '-')
			return false;
	return true;
}

/* Checks one path component of @len bytes; returns a rule description on failure. */
static const char *check_path_component(const char *c, size_t len)
{
	size_t i = 0;

	if (len == 0)
		return "path components must not be empty";
	/* an upper-case letter anywhere is the reason, whatever sits around it */
	for (size_t k = 0; k < len; k++)
		if (isupper((unsigned char)c[k]))
			return "repository name must be lowercase";
	if (!is_alnum_lower(c[0]))
		return "path components must start with a lowercase letter or digit";
	while (i < len) {
		if (is_alnum_lower(c[i])) {
			i++;
			continue;
		}
		/* A separator: one '.', one '_', two '_', or any number of '-'. */
		if (c[i] == '.' || c[i] == '_') {
			size_t j = i + 1;

			if (c[i] == '_' && j < len && c[j] == '_')
				j++;
			if (j >= len || !is_alnum_lower(c[j]))
				return "separators ('.', '_', '__', '-') must sit between letters or digits";
			i = j;
			continue;
		}
		if (c[i] == '-') {
			size_t j = i;

			while (j < len && c[j] == '-')
				j++;
			if (j >= len || !is_alnum_lower(c[j]))
				return "separators ('.', '_', '__', '-') must sit between letters or digits";
			i = j;
			continue;
		}
		return "path components may hold only [a-z0-9] and the separators '.', '_', '__', '-'";
	}
	return NULL;
}

static const char *check_domain(const char *d, size_t len)
{
	const char *colon = memchr(d, ':', len);
	size_t hlen = colon ? (size_t)(colon - d) : len;
	size_t i = 0;

	if (hlen == 0)
		return "the registry host must not be empty";
	if (d[0] == '[') {
		/* An IPv6 literal in brackets. */
		const char *close = memchr(d, ']', len);

		if (!close)
			return "an IPv6 registry host needs a closing ']'";
		for (const char *p = d + 1; p < close; p++)
			if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.')
				return "an IPv6 registry host may hold only hex digits, ':' and '.'";
		colon = (close + 1 < d + len && close[1] == ':') ? close + 1 : NULL;
		if (!colon && close + 1 != d + len)
			return "unexpected characters after the IPv6 registry host";
	} else {
		while (i < hlen) {
			size_t start = i;

			while (i < hlen && d[i] != '.')
				i++;
			if (i == start)
				return "registry host components must not be empty";
			if (!isalnum((unsigned char)d[start]) || !isalnum((unsigned char)d[i - 1]))
				return "registry host components must start and end with a letter or digit";
			for (size_t k = start; k < i; k++)
				if (!isalnum((unsigned char)d[k]) && d[k] != '-')
					return "registry host components may hold only letters, digits and '-'";
			if (i < hlen)
				i++;
			if (i == hlen && d[hlen - 1] == '.')
				return "registry host components must not be empty";
		}
	}
	if (colon) {
		const char *p = colon + 1;
		size_t plen = (size_t)(d + len - p);

		if (plen == 0 || plen > 5)
			return "the registry port must be 1 to 5 digits";
		for (size_t k = 0; k < plen; k++)
			if (!isdigit((unsigned char)p[k]))
				return "the registry port must be 1 to 5 digits";
	}
	return NULL;
}

static bool looks_like_domain(const char *c, size_t len)
{
	if (len == 9 && strncmp(c, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < len; i++)
		if (c[i] == '.' || c[i] == ':' || isupper((unsigned char)c[i]))
			return true;
	return false;
}

int store_ref_parse(const char *s, struct store_ref *out, struct strata_error **err)
{
	cleanup_free char *copy = xstrdup(s);
	char *at, *name, *tag = NULL, *slash, *lastslash, *colon;
	const char *rule;

	memset(out, 0, sizeof(*out));
	if (!*s)
		return strata_fail_msg(err, EINVAL, "invalid reference '': a reference must not be empty");

	at = strchr(copy, '@');
	if (at) {
		*at = '\0';
		if (!digest_is_valid(at + 1))
			return strata_fail_msg(err, EINVAL,
					       "invalid reference '%s': a digest must be 'sha256:' and 64 lowercase hex digits",
					       s);
	}
	name = copy;
	/* A tag is after the last ':' that follows the last '/'. */
	lastslash = strrchr(name, '/');
	colon = strrchr(lastslash ? lastslash : name, ':');
	if (colon) {
		*colon = '\0';
		tag = colon + 1;
		if (!store_tag_is_valid(tag))
			return strata_fail_msg(err, EINVAL,
					       "invalid reference '%s': a tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
					       s);
	}
	if (!*name)
		return strata_fail_msg(err, EINVAL, "invalid reference '%s': the name must not be empty",
				       s);
	if (strlen(name) > NAME_MAX_LEN)
		return strata_fail_msg(err, EINVAL,
				       "invalid reference '%s': a name must be at most %d characters", s,
				       NAME_MAX_LEN);

	slash = strchr(name, '/');
	if (slash && looks_like_domain(name, (size_t)(slash - name))) {
		rule = check_domain(name, (size_t)(slash - name));
		if (rule)
			return strata_fail_msg(err, EINVAL, "invalid reference '%s': %s", s, rule);
		out->domain = xstrndup(name, (size_t)(slash - name));
		name = slash + 1;
	}
	for (char *p = name;;) {
		char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		rule = check_path_component(p, len);
		if (rule) {
			free(out->domain);
			out->domain = NULL;
			return strata_fail_msg(err, EINVAL, "invalid reference '%s': %s", s, rule);
		}
		if (!e)
			break;
		p = e + 1;
	}
	out->path = xstrdup(name);
	if (tag)
		out->tag = xstrdup(tag);
	if (at)
		out->digest = xstrdup(at + 1);
	if (!tag && !at)
		out->tag = xstrdup("latest");
	return 0;
}

void store_ref_release(struct store_ref *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	memset(r, 0, sizeof(*r));
}

char *store_ref_name(const struct store_ref *r)
{
	if (r->domain)
		return xasprintf("%s/%s", r->domain, r->path);
	return xstrdup(r->path);
}

char *store_ref_string(const struct store_ref *r)
{
	cleanup_free char *name = store_ref_name(r);

	return xasprintf("%s%s%s%s%s", name, r->tag ? ":" : "", r->tag ? r->tag : "",
			 r->digest ? "@" : "", r->digest ? r->digest : "");
}
