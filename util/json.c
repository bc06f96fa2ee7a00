/*
 * JSON helpers over jansson. Serialisation keeps insertion order and uses no
 * whitespace, so a document built the same way always hashes the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "util/util.h"

json_t *jv_loadb(const char *buf, size_t len, const char *what, struct strata_error **err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!j) {
		strata_fail_msg(err, EINVAL, "parse %s: line %d column %d: %s", what, jerr.line,
				jerr.column, jerr.text);
		return NULL;
	}
	return j;
}

json_t *jv_load_at(int dirfd, const char *name, size_t max, struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	json_t *j;

	if (file_read_regular_at(dirfd, name, max, &buf, &len, err) < 0)
		return NULL;
	j = jv_loadb(buf, len, name, err);
	return j;
}

char *jv_dump(const json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);

	if (!s)
		abort();
	if (len)
		*len = strlen(s);
	return s;
}

char *jv_dump_pretty(const json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(4) | JSON_ENCODE_ANY);

	if (!s)
		abort();
	return s;
}

int jv_write_at(int dirfd, const char *name, const json_t *j, struct strata_error **err)
{
	size_t len;
	cleanup_free char *s = jv_dump(j, &len);

	return file_write_atomic_at(dirfd, name, s, len, 0644, err);
}

const char *jv_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

json_int_t jv_int(const json_t *obj, const char *key, json_int_t def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? json_integer_value(v) : def;
}

json_t *jv_string(const char *s)
{
	json_t *j = json_string(s);
	cleanup_free char *copy = NULL;

	if (j)
		return j;
	/* Not UTF-8: JSON cannot hold it, so invalid bytes become '?'. */
	copy = xstrdup(s);
	for (unsigned char *p = (unsigned char *)copy; *p; p++)
		if (*p >= 0x80)
			*p = '?';
	j = json_string(copy);
	if (!j)
		abort();
	return j;
}

void jv_set_str(json_t *obj, const char *key, const char *val)
{
	json_object_set_new(obj, key, val ? jv_string(val) : json_null());
}

json_t *jv_strv(char *const *v)
{
	json_t *a = json_array();

	for (size_t i = 0; v && v[i]; i++)
		json_array_append_new(a, jv_string(v[i]));
	return a;
}

char **jv_to_strv(const json_t *a)
{
	char **v;
	size_t n = 0, i;
	json_t *e;

	if (!json_is_array(a))
		return NULL;
	v = xcalloc(json_array_size(a) + 1, sizeof(char *));
	json_array_foreach(a, i, e)
	{
		if (json_is_string(e))
			v[n++] = xstrdup(json_string_value(e));
	}
	v[n] = NULL;
	return v;
}
