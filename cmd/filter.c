/*
 * --filter KEY=VALUE as podman takes it: values of one key are
 * alternatives, different keys must all match.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd/cmd.h"

int cmd_filters_parse(struct cmd_ctx *ctx, char *const *specs, const char *const *keys,
		      struct cmd_filters *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; specs && specs[i]; i++) {
		const char *eq = strchr(specs[i], '=');
		cleanup_free char *key = eq ? xstrndup(specs[i], (size_t)(eq - specs[i]))
					    : xstrdup(specs[i]);
		const char *val = eq ? eq + 1 : "";
		bool known = false;
		size_t k;

		for (k = 0; keys[k]; k++)
			known = known || !strcmp(keys[k], key);
		if (!known) {
			struct sbuf want = SBUF_INIT;
			int r;

			for (k = 0; keys[k]; k++)
				sbuf_addf(&want, "%s%s", k ? ", " : "", keys[k]);
			r = cmd_usage_error(ctx, "invalid filter '%s': unknown key '%s' (want %s)",
					    specs[i], key, want.buf);
			sbuf_release(&want);
			cmd_filters_release(out);
			return r;
		}
		/* label=KEY and the like take no value; the others need one */
		if (!*val && strcmp(key, "label") && strcmp(key, "label!")) {
			cmd_filters_release(out);
			return cmd_usage_error(ctx, "invalid filter '%s' (want %s=VALUE)", specs[i],
					       key);
		}
		for (k = 0; k < out->n && strcmp(out->v[k].key, key); k++)
			;
		if (k == out->n) {
			out->v = xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
			out->v[k].key = xstrdup(key);
			out->v[k].values = xcalloc(1, sizeof(char *));
			out->n++;
		}
		strv_append(&out->v[k].values, val);
	}
	return 0;
}

void cmd_filters_release(struct cmd_filters *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].key);
		strv_free(f->v[i].values);
	}
	free(f->v);
	memset(f, 0, sizeof(*f));
}

char *const *cmd_filters_get(const struct cmd_filters *f, const char *key)
{
	for (size_t i = 0; i < f->n; i++)
		if (!strcmp(f->v[i].key, key))
			return f->v[i].values;
	return NULL;
}

/* A Go duration: 90s, 10m, 24h, 1h30m, 1.5h. */
static int parse_duration(const char *s, int64_t *out)
{
	double total = 0;
	const char *p = s;

	if (!*p)
		return -1;
	while (*p) {
		char *end = NULL;
		double v = strtod(p, &end);
		double mult;

		if (end == p || v < 0)
			return -1;
		p = end;
		if (!strncmp(p, "ms", 2))
			mult = 0.001, p += 2;
		else if (*p == 's')
			mult = 1, p++;
		else if (*p == 'm')
			mult = 60, p++;
		else if (*p == 'h')
			mult = 3600, p++;
		else
			return -1;
		total += v * mult;
	}
	*out = (int64_t)total;
	return 0;
}

int cmd_time_parse(const char *s, int64_t *out)
{
	char *end = NULL;
	struct tm tm = { 0 };
	long long n;
	int64_t d;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (*s && !*end && !errno) {
		*out = n;
		return 0;
	}
	if (time_parse_rfc3339(s, out, NULL) == 0)
		return 0;
	end = strptime(s, "%Y-%m-%d", &tm);
	if (end && !*end) {
		*out = (int64_t)timegm(&tm);
		return 0;
	}
	if (parse_duration(s, &d) == 0) {
		*out = time_now_ns() / 1000000000LL - d;
		return 0;
	}
	return -1;
}

bool cmd_label_matches(const json_t *labels, const char *spec)
{
	const char *eq = strchr(spec, '=');
	cleanup_free char *key = eq ? xstrndup(spec, (size_t)(eq - spec)) : xstrdup(spec);
	const char *v = jv_str(labels, key);

	if (!json_object_get(labels, key))
		return false;
	return !eq || (v && !strcmp(v, eq + 1));
}

bool cmd_filters_labels_pass(const struct cmd_filters *f, const json_t *labels)
{
	char *const *v;

	for (v = cmd_filters_get(f, "label"); v && *v; v++)
		if (!cmd_label_matches(labels, *v))
			return false;
	for (v = cmd_filters_get(f, "label!"); v && *v; v++)
		if (cmd_label_matches(labels, *v))
			return false;
	return true;
}
