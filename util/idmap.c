/*
 * Id maps (user_namespaces(7)): ranges of ids in a namespace and the ids
 * they are in its parent. A container with a map of its own sees the
 * image's files through it; these translate owners both ways and give a
 * map the text podman prints ("0:1:1001") and a key that names it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

bool idmap_to_outside(const struct idrange *r, size_t n, unsigned id, unsigned *out)
{
	for (size_t i = 0; i < n; i++)
		if (id >= r[i].inside && id - r[i].inside < r[i].count) {
			*out = r[i].outside + (id - r[i].inside);
			return true;
		}
	return false;
}

bool idmap_to_inside(const struct idrange *r, size_t n, unsigned id, unsigned *out)
{
	for (size_t i = 0; i < n; i++)
		if (id >= r[i].outside && id - r[i].outside < r[i].count) {
			*out = r[i].inside + (id - r[i].outside);
			return true;
		}
	return false;
}

char *idmap_ranges_text(const struct idrange *r, size_t n)
{
	struct sbuf b = SBUF_INIT;

	sbuf_addf(&b, "%s", "");
	for (size_t i = 0; i < n; i++)
		sbuf_addf(&b, "%s%u:%u:%u", i ? "," : "", r[i].inside, r[i].outside, r[i].count);
	return sbuf_detach(&b, NULL);
}

static bool parse_num(const char *s, size_t len, unsigned long *out)
{
	char buf[16], *end;

	if (len == 0 || len >= sizeof(buf) || s[0] < '0' || s[0] > '9')
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*out = strtoul(buf, &end, 10);
	return !*end && !errno && *out <= 0xffffffffUL;
}

/* Two ranges that share an id on either side cannot be in one map (the kernel says EINVAL). */
static bool overlaps(const struct idrange *a, const struct idrange *b)
{
	return (a->inside < b->inside + (unsigned long)b->count &&
		b->inside < a->inside + (unsigned long)a->count) ||
	       (a->outside < b->outside + (unsigned long)b->count &&
		b->outside < a->outside + (unsigned long)a->count);
}

int idmap_ranges_add(const char *text, struct idrange **r, size_t *n, struct strata_error **err)
{
	const char *p = text;

	while (p && *p) {
		size_t len = strcspn(p, ",");
		const char *c1 = memchr(p, ':', len);
		const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - p)) : NULL;
		unsigned long in, out, count;
		struct idrange nr;

		if (!c2 || !parse_num(p, (size_t)(c1 - p), &in) ||
		    !parse_num(c1 + 1, (size_t)(c2 - c1 - 1), &out) ||
		    !parse_num(c2 + 1, len - (size_t)(c2 + 1 - p), &count))
			return strata_fail_msg(err, EINVAL,
					       "'%.*s' is not CONTAINER_ID:HOST_ID:SIZE", (int)len, p);
		if (count == 0 || in + count - 1 > 0xfffffffeUL || out + count - 1 > 0xfffffffeUL)
			return strata_fail_msg(err, EINVAL, "'%.*s': the range is empty or past 2^32-2",
					       (int)len, p);
		nr = (struct idrange){ (unsigned)in, (unsigned)out, (unsigned)count };
		for (size_t i = 0; i < *n; i++)
			if (overlaps(&(*r)[i], &nr))
				return strata_fail_msg(err, EINVAL, "'%.*s' overlaps %u:%u:%u",
						       (int)len, p, (*r)[i].inside, (*r)[i].outside,
						       (*r)[i].count);
		if (*n >= 340)
			return strata_fail_msg(err, EINVAL, "more than 340 ranges");
		*r = xrealloc(*r, (*n + 1) * sizeof(**r));
		(*r)[(*n)++] = nr;
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

void idmap_release(struct idmap *m)
{
	free(m->uid);
	free(m->gid);
	memset(m, 0, sizeof(*m));
}

bool idmap_is_set(const struct idmap *m)
{
	return m && m->n_uid > 0 && m->n_gid > 0;
}

void idmap_key(const struct idmap *m, char out[DIGEST_HEX_LEN + 1])
{
	cleanup_free char *u = idmap_ranges_text(m->uid, m->n_uid);
	cleanup_free char *g = idmap_ranges_text(m->gid, m->n_gid);
	cleanup_free char *t = xasprintf("uid=%s;gid=%s", u, g);
	char d[DIGEST_STR_LEN];

	digest_buf(t, strlen(t), d);
	memcpy(out, digest_hex(d), DIGEST_HEX_LEN + 1);
}
