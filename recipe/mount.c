/*
 * RUN --mount: the option list (a CSV record of KEY=VALUE fields, as the
 * dockerfile frontend reads it with Go's encoding/csv), checked for its
 * keys and values, with the frontend's defaults filled in. Each value is
 * expanded with the variables in scope where the step runs; at parse time
 * (no variables) a value holding '$' is kept as written and checked then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "recipe/recipe-int.h"

static const char *const type_names[] = {
	[RECIPE_MOUNT_BIND] = "bind",	  [RECIPE_MOUNT_CACHE] = "cache",
	[RECIPE_MOUNT_TMPFS] = "tmpfs",	  [RECIPE_MOUNT_SECRET] = "secret",
	[RECIPE_MOUNT_SSH] = "ssh",
};

static const char *const sharing_names[] = {
	[RECIPE_SHARING_SHARED] = "shared",
	[RECIPE_SHARING_PRIVATE] = "private",
	[RECIPE_SHARING_LOCKED] = "locked",
};

const char *recipe_mount_type_name(enum recipe_mount_type t)
{
	return (size_t)t < ARRAY_SIZE(type_names) ? type_names[t] : "?";
}

void recipe_mount_release(struct recipe_mount *m)
{
	free(m->target);
	free(m->source);
	free(m->from);
	free(m->id);
	free(m->env);
	memset(m, 0, sizeof(*m));
}

/*
 * Splits @spec into its CSV fields: ',' separates, a field that starts with
 * '"' runs to the closing quote ("" is a quote inside it). NULL with a
 * message for an unterminated quote.
 */
static char **csv_fields(const char *spec, struct strata_error **err)
{
	char **out = xcalloc(1, sizeof(char *));
	const char *s = spec;

	for (;;) {
		struct sbuf f = SBUF_INIT;
		char *v;

		if (*s == '"') {
			for (s++;; s++) {
				if (!*s) {
					sbuf_release(&f);
					strv_free(out);
					strata_fail_msg(err, EINVAL, "unterminated quote");
					return NULL;
				}
				if (*s == '"' && s[1] == '"') {
					sbuf_add(&f, "\"", 1);
					s++;
				} else if (*s == '"') {
					s++;
					break;
				} else {
					sbuf_add(&f, s, 1);
				}
			}
		}
		while (*s && *s != ',')
			sbuf_add(&f, s++, 1);
		v = sbuf_detach(&f, NULL);
		strv_append(&out, v ? v : "");
		free(v);
		if (!*s)
			break;
		s++;
	}
	return out;
}

/* Go's strconv.ParseBool. */
static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static int parse_num(const char *v, int base, long long max, long long *out)
{
	char *end = NULL;
	long long n;

	errno = 0;
	n = strtoll(v, &end, base);
	if (!*v || *end || errno || n < 0 || n > max)
		return -1;
	*out = n;
	return 0;
}

/* What one parse holds besides the result: which fields were given. */
struct mount_seen {
	bool type, ro, rw, sharing, mode, uid, gid, size, required, env, id, from, source;
	bool deferred; /* some value waits for expansion */
};

/* True when @v still holds a variable reference (parse time, no variables). */
static bool is_deferred(const struct recipe_vars *vars, const char *v)
{
	return !vars && strchr(v, '$');
}

static int set_field(struct recipe_mount *m, struct mount_seen *seen, const char *key,
		     const char *v, bool bare, const struct recipe_vars *vars,
		     struct strata_error **err)
{
	long long n;
	bool b;

	if (bare) {
		/* a key alone: the boolean ones only, meaning true */
		if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
			m->readonly = seen->ro = true;
		} else if (!strcmp(key, "readwrite") || !strcmp(key, "rw")) {
			m->readonly = false;
			seen->rw = true;
		} else if (!strcmp(key, "required")) {
			m->required = seen->required = true;
		} else {
			return strata_fail_msg(err, EINVAL, "invalid field '%s': must be a key=value pair",
					       key);
		}
		return 0;
	}
	if (is_deferred(vars, v) && strcmp(key, "target") && strcmp(key, "dst") &&
	    strcmp(key, "destination") && strcmp(key, "source") && strcmp(key, "src") &&
	    strcmp(key, "from") && strcmp(key, "id") && strcmp(key, "env")) {
		seen->deferred = true;
		return 0;
	}
	if (!strcmp(key, "type")) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(type_names); i++)
			if (!strcasecmp(v, type_names[i]))
				break;
		if (i == ARRAY_SIZE(type_names))
			return strata_fail_msg(err, EINVAL,
					       "unsupported mount type '%s' (bind, cache, tmpfs, "
					       "secret or ssh)",
					       v);
		m->type = (enum recipe_mount_type)i;
		seen->type = true;
	} else if (!strcmp(key, "target") || !strcmp(key, "dst") ||
		   !strcmp(key, "destination")) {
		free(m->target);
		m->target = xstrdup(v);
	} else if (!strcmp(key, "source") || !strcmp(key, "src")) {
		free(m->source);
		m->source = xstrdup(v);
		seen->source = true;
	} else if (!strcmp(key, "from")) {
		free(m->from);
		m->from = xstrdup(v);
		seen->from = true;
	} else if (!strcmp(key, "id")) {
		free(m->id);
		m->id = xstrdup(v);
		seen->id = true;
	} else if (!strcmp(key, "env")) {
		free(m->env);
		m->env = xstrdup(v);
		seen->env = true;
	} else if (!strcmp(key, "readonly") || !strcmp(key, "ro") || !strcmp(key, "readwrite") ||
		   !strcmp(key, "rw") || !strcmp(key, "required")) {
		if (parse_bool(v, &b) < 0)
			return strata_fail_msg(err, EINVAL, "invalid value for %s: '%s'", key, v);
		if (key[0] == 'r' && key[1] == 'e' && key[2] == 'q') {
			m->required = b;
			seen->required = true;
		} else if (!strcmp(key, "readonly") || !strcmp(key, "ro")) {
			m->readonly = b;
			seen->ro = true;
		} else {
			m->readonly = !b;
			seen->rw = true;
		}
	} else if (!strcmp(key, "sharing")) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(sharing_names); i++)
			if (!strcasecmp(v, sharing_names[i]))
				break;
		if (i == ARRAY_SIZE(sharing_names))
			return strata_fail_msg(err, EINVAL,
					       "unsupported sharing value '%s' (shared, private or "
					       "locked)",
					       v);
		m->sharing = (enum recipe_mount_sharing)i;
		seen->sharing = true;
	} else if (!strcmp(key, "mode")) {
		if (parse_num(v, 8, 07777, &n) < 0)
			return strata_fail_msg(err, EINVAL, "invalid mode '%s' (octal, at most 7777)",
					       v);
		m->mode = (long)n;
		seen->mode = true;
	} else if (!strcmp(key, "uid") || !strcmp(key, "gid")) {
		if (parse_num(v, 10, 0xfffffffeLL, &n) < 0)
			return strata_fail_msg(err, EINVAL, "invalid %s '%s'", key, v);
		if (key[0] == 'u') {
			m->uid = n;
			seen->uid = true;
		} else {
			m->gid = n;
			seen->gid = true;
		}
	} else if (!strcmp(key, "size")) {
		if (size_parse(v, &m->size) < 0)
			return strata_fail_msg(err, EINVAL, "invalid size '%s'", v);
		seen->size = true;
	} else {
		return strata_fail_msg(err, EINVAL, "unexpected key '%s'", key);
	}
	return 0;
}

/* Which keys each type takes, beyond type and target. */
static int check_keys(const struct recipe_mount *m, const struct mount_seen *seen,
		      struct strata_error **err)
{
	const char *t = recipe_mount_type_name(m->type);
	const struct {
		bool given;
		const char *key;
		unsigned types; /* a bit per type that takes it */
	} keys[] = {
		{ seen->from, "from", 1u << RECIPE_MOUNT_BIND | 1u << RECIPE_MOUNT_CACHE },
		{ seen->source, "source", 1u << RECIPE_MOUNT_BIND | 1u << RECIPE_MOUNT_CACHE },
		{ seen->id, "id",
		  1u << RECIPE_MOUNT_CACHE | 1u << RECIPE_MOUNT_SECRET | 1u << RECIPE_MOUNT_SSH },
		{ seen->sharing, "sharing", 1u << RECIPE_MOUNT_CACHE },
		{ seen->mode, "mode",
		  1u << RECIPE_MOUNT_CACHE | 1u << RECIPE_MOUNT_SECRET | 1u << RECIPE_MOUNT_SSH },
		{ seen->uid, "uid",
		  1u << RECIPE_MOUNT_CACHE | 1u << RECIPE_MOUNT_SECRET | 1u << RECIPE_MOUNT_SSH },
		{ seen->gid, "gid",
		  1u << RECIPE_MOUNT_CACHE | 1u << RECIPE_MOUNT_SECRET | 1u << RECIPE_MOUNT_SSH },
		{ seen->size, "size", 1u << RECIPE_MOUNT_TMPFS },
		{ seen->required, "required", 1u << RECIPE_MOUNT_SECRET | 1u << RECIPE_MOUNT_SSH },
		{ seen->env, "env", 1u << RECIPE_MOUNT_SECRET },
		{ seen->rw, "rw", 1u << RECIPE_MOUNT_BIND | 1u << RECIPE_MOUNT_CACHE },
		{ seen->ro, "ro",
		  1u << RECIPE_MOUNT_BIND | 1u << RECIPE_MOUNT_CACHE | 1u << RECIPE_MOUNT_TMPFS },
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (keys[i].given && !(keys[i].types & (1u << m->type)))
			return strata_fail_msg(err, EINVAL, "'%s' is not an option of type=%s",
					       keys[i].key, t);
	if (seen->ro && seen->rw)
		return strata_fail_msg(err, EINVAL, "both ro and rw given");
	return 0;
}

/* The frontend's defaults, once every field is read. */
static int fill_defaults(struct recipe_mount *m, const struct mount_seen *seen,
			 struct strata_error **err)
{
	const char *t = recipe_mount_type_name(m->type);

	if (m->target && !*m->target)
		return strata_fail_msg(err, EINVAL, "empty target");
	switch (m->type) {
	case RECIPE_MOUNT_BIND:
	case RECIPE_MOUNT_CACHE:
	case RECIPE_MOUNT_TMPFS:
		if (!m->target)
			return strata_fail_msg(err, EINVAL, "type=%s needs a target", t);
		if (m->type == RECIPE_MOUNT_CACHE && !m->id)
			m->id = xstrdup(m->target);
		if (m->type == RECIPE_MOUNT_CACHE && m->id && !*m->id)
			return strata_fail_msg(err, EINVAL, "empty cache id");
		if (m->type == RECIPE_MOUNT_BIND && !seen->ro && !seen->rw)
			m->readonly = true;
		if (m->type == RECIPE_MOUNT_CACHE && m->mode < 0)
			m->mode = 0755;
		break;
	case RECIPE_MOUNT_SECRET:
		if (!m->id && m->target && !seen->deferred) {
			const char *slash = strrchr(m->target, '/');

			m->id = xstrdup(slash ? slash + 1 : m->target);
		}
		if (!m->id || !*m->id)
			return strata_fail_msg(err, EINVAL, "type=secret needs an id or a target");
		if (!m->target && !m->env)
			m->target = xasprintf("/run/secrets/%s", m->id);
		if (m->mode < 0)
			m->mode = 0400;
		m->readonly = true;
		break;
	case RECIPE_MOUNT_SSH:
		if (!m->id)
			m->id = xstrdup("default");
		if (m->mode < 0)
			m->mode = 0600;
		m->readonly = true;
		break;
	}
	if (m->env && !*m->env)
		return strata_fail_msg(err, EINVAL, "empty env name");
	return 0;
}

int recipe_mount_parse(const char *spec, char escape, const struct recipe_vars *vars,
		       struct recipe_mount *out, struct strata_error **err)
{
	struct recipe_mount m = { .type = RECIPE_MOUNT_BIND, .mode = -1, .uid = -1, .gid = -1 };
	struct mount_seen seen = { 0 };
	cleanup_strv char **fields = csv_fields(spec, err);
	int r = 0;

	if (!fields)
		return strata_wrap(err, "--mount '%s'", spec);
	for (size_t i = 0; fields[i] && r == 0; i++) {
		const char *eq = strchr(fields[i], '=');
		cleanup_free char *key = xstrndup(fields[i], eq ? (size_t)(eq - fields[i])
							       : strlen(fields[i]));
		cleanup_free char *v = NULL;

		for (char *c = key; *c; c++)
			*c = (char)((*c >= 'A' && *c <= 'Z') ? *c - 'A' + 'a' : *c);
		if (!*fields[i])
			continue;
		if (eq && vars) {
			v = recipe_expand_word(eq + 1, escape, vars, err);
			if (!v) {
				r = -1;
				break;
			}
		} else if (eq) {
			v = xstrdup(eq + 1);
		}
		r = set_field(&m, &seen, key, v ? v : "", !eq, vars, err);
	}
	if (r == 0)
		r = check_keys(&m, &seen, err);
	if (r == 0)
		r = fill_defaults(&m, &seen, err);
	if (r < 0) {
		recipe_mount_release(&m);
		return strata_wrap(err, "--mount '%s'", spec);
	}
	*out = m;
	return 0;
}
