/*
 * The template engine's values and built-in functions (cmd/template.c
 * parses and executes): how a value prints, is true, is named in an
 * error, and each function a template can call.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd-int.h"
#include "cmd/template.h"

/* ---- Go-style printing of values ---- */

static void print_real(struct sbuf *b, double d)
{
	char buf[64];

	if (d == floor(d) && fabs(d) < 1e21) {
		snprintf(buf, sizeof(buf), "%.0f", d);
		sbuf_addstr(b, buf);
		return;
	}
	/* The shortest form that reads back, as Go's %v of a float64. */
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	sbuf_addstr(b, buf);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* An object's keys, sorted (Go prints and ranges over maps in key order). */
const char **cmd_template_keys_sorted(const json_t *o, size_t *n)
{
	const char **keys = xcalloc(json_object_size(o) + 1, sizeof(char *));
	const char *k;
	json_t *v;

	*n = 0;
	json_object_foreach((json_t *)o, k, v)
		keys[(*n)++] = k;
	qsort(keys, *n, sizeof(char *), cmp_keys);
	return keys;
}

/* @v as Go's fmt.Print prints it; NULL (a missing key) is <no value> at the top. */
void cmd_template_value_print(struct sbuf *b, const json_t *v, bool top)
{
	size_t i, n;

	if (!v) {
		sbuf_addstr(b, top ? "<no value>" : "<nil>");
		return;
	}
	switch (json_typeof(v)) {
	case JSON_STRING:
		sbuf_add(b, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		sbuf_addf(b, "%lld", (long long)json_integer_value(v));
		break;
	case JSON_REAL:
		print_real(b, json_real_value(v));
		break;
	case JSON_TRUE:
		sbuf_addstr(b, "true");
		break;
	case JSON_FALSE:
		sbuf_addstr(b, "false");
		break;
	case JSON_NULL:
		sbuf_addstr(b, "<nil>");
		break;
	case JSON_ARRAY:
		sbuf_addstr(b, "[");
		for (i = 0; i < json_array_size(v); i++) {
			if (i)
				sbuf_addstr(b, " ");
			cmd_template_value_print(b, json_array_get(v, i), false);
		}
		sbuf_addstr(b, "]");
		break;
	case JSON_OBJECT: {
		const char **keys = cmd_template_keys_sorted(v, &n);

		sbuf_addstr(b, "map[");
		for (i = 0; i < n; i++) {
			sbuf_addf(b, "%s%s:", i ? " " : "", keys[i]);
			cmd_template_value_print(b, json_object_get(v, keys[i]), false);
		}
		sbuf_addstr(b, "]");
		free(keys);
		break;
	}
	}
}

static char *value_text(const json_t *v)
{
	struct sbuf b = SBUF_INIT;

	cmd_template_value_print(&b, v, true);
	return sbuf_detach(&b, NULL);
}

bool cmd_template_value_is_true(const json_t *v)
{
	if (!v)
		return false;
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_string_length(v) > 0;
	case JSON_INTEGER:
		return json_integer_value(v) != 0;
	case JSON_REAL:
		return json_real_value(v) != 0;
	case JSON_TRUE:
		return true;
	case JSON_FALSE:
	case JSON_NULL:
		return false;
	case JSON_ARRAY:
		return json_array_size(v) > 0;
	case JSON_OBJECT:
		return json_object_size(v) > 0;
	}
	return false;
}

const char *cmd_template_value_type(const json_t *v)
{
	if (!v)
		return "nil";
	switch (json_typeof(v)) {
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
		return "int";
	case JSON_REAL:
		return "float64";
	case JSON_TRUE:
	case JSON_FALSE:
		return "bool";
	case JSON_NULL:
		return "nil";
	case JSON_ARRAY:
		return "slice";
	case JSON_OBJECT:
		return "map";
	}
	return "value";
}

/* ---- functions ---- */

json_t *cmd_template_string_owned(char *s)
{
	json_t *j = json_string(s);

	if (!j)
		j = json_stringn_nocheck(s, strlen(s)); /* not UTF-8: keep the bytes as they are */
	free(s);
	return j ? j : json_string("");
}

static int fn_json(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	char *s;

	(void)x, (void)ac, (void)err;
	if (!av[0]) {
		*out = json_string("null");
		return 0;
	}
	s = json_dumps(av[0], JSON_COMPACT | JSON_ENCODE_ANY);
	*out = cmd_template_string_owned(s ? s : xstrdup("null"));
	return 0;
}

static int fn_case(json_t **av, json_t **out, int (*conv)(int))
{
	char *s = value_text(av[0]);

	for (char *p = s; *p; p++)
		if (!((unsigned char)*p & 0x80))
			*p = (char)conv((unsigned char)*p);
	*out = cmd_template_string_owned(s);
	return 0;
}

static int fn_upper(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	(void)x, (void)ac, (void)err;
	return fn_case(av, out, toupper);
}

static int fn_lower(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	(void)x, (void)ac, (void)err;
	return fn_case(av, out, tolower);
}

static int fn_title(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	char *s = value_text(av[0]);
	bool start = true;

	(void)x, (void)ac, (void)err;
	/* Each word's first letter in capitals, as Go's strings.Title. */
	for (char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (start && islower(c))
			*p = (char)toupper(c);
		start = !(isalnum(c) || c == '_' || c == '\'' || (c & 0x80));
	}
	*out = cmd_template_string_owned(s);
	return 0;
}

static int fn_join(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	struct sbuf b = SBUF_INIT;
	cleanup_free char *sep = value_text(av[1]);

	(void)x, (void)ac;
	if (!json_is_array(av[0])) {
		sbuf_release(&b);
		return strata_fail_msg(err, EINVAL, "join: wants a list, not %s", cmd_template_value_type(av[0]));
	}
	for (size_t i = 0; i < json_array_size(av[0]); i++) {
		if (i)
			sbuf_addstr(&b, sep);
		cmd_template_value_print(&b, json_array_get(av[0], i), false);
	}
	*out = cmd_template_string_owned(sbuf_detach(&b, NULL));
	return 0;
}

static int fn_split(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	cleanup_free char *s = value_text(av[0]);
	cleanup_free char *sep = value_text(av[1]);
	json_t *arr = json_array();
	size_t n = strlen(sep);
	char *p = s, *q;

	(void)x, (void)ac, (void)err;
	if (!n) {
		for (; *p; p++)
			json_array_append_new(arr, cmd_template_string_owned(xstrndup(p, 1)));
	} else {
		while ((q = strstr(p, sep))) {
			json_array_append_new(arr, cmd_template_string_owned(xstrndup(p, (size_t)(q - p))));
			p = q + n;
		}
		json_array_append_new(arr, cmd_template_string_owned(xstrdup(p)));
	}
	*out = arr;
	return 0;
}

static int int_arg(const json_t *v, const char *fn, long long *out, struct strata_error **err)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		*out = (long long)json_real_value(v);
		return 0;
	}
	return strata_fail_msg(err, EINVAL, "%s: wants a number, not %s", fn, cmd_template_value_type(v));
}

static int fn_truncate(struct texec *x, json_t **av, size_t ac, json_t **out,
		       struct strata_error **err)
{
	char *s = value_text(av[0]);
	long long n;

	(void)x, (void)ac;
	if (int_arg(av[1], "truncate", &n, err) < 0) {
		free(s);
		return -1;
	}
	if (n >= 0 && strlen(s) > (size_t)n)
		s[n] = '\0';
	*out = cmd_template_string_owned(s);
	return 0;
}

static int fn_pad(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	cleanup_free char *s = value_text(av[0]);
	long long pre, post;

	(void)x, (void)ac;
	if (int_arg(av[1], "pad", &pre, err) < 0 || int_arg(av[2], "pad", &post, err) < 0)
		return -1;
	if (pre < 0 || post < 0 || pre > 4096 || post > 4096)
		return strata_fail_msg(err, EINVAL, "pad: widths from 0 to 4096");
	*out = cmd_template_string_owned(xasprintf("%*s%s%*s", (int)pre, "", s, (int)post, ""));
	return 0;
}

static int fn_len(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	json_int_t n;

	(void)x, (void)ac;
	if (json_is_string(av[0]))
		n = (json_int_t)json_string_length(av[0]);
	else if (json_is_array(av[0]))
		n = (json_int_t)json_array_size(av[0]);
	else if (json_is_object(av[0]))
		n = (json_int_t)json_object_size(av[0]);
	else
		return strata_fail_msg(err, EINVAL, "len of %s", cmd_template_value_type(av[0]));
	*out = json_integer(n);
	return 0;
}

static int fn_index(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	json_t *v = av[0];

	(void)x;
	for (size_t i = 1; i < ac; i++) {
		if (json_is_object(v)) {
			cleanup_free char *k = value_text(av[i]);

			v = json_object_get(v, k);
			/* A missing key is the zero value: podman's maps hold strings. */
			if (!v) {
				*out = json_string("");
				return 0;
			}
		} else if (json_is_array(v)) {
			long long k;

			if (int_arg(av[i], "index", &k, err) < 0)
				return -1;
			if (k < 0 || (size_t)k >= json_array_size(v))
				return strata_fail_msg(err, EINVAL, "index: index out of range: %lld", k);
			v = json_array_get(v, (size_t)k);
		} else {
			return strata_fail_msg(err, EINVAL, "index: cannot index %s", cmd_template_value_type(v));
		}
	}
	*out = v ? json_incref(v) : NULL;
	return 0;
}

static int fn_not(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	(void)x, (void)ac, (void)err;
	*out = json_boolean(!cmd_template_value_is_true(av[0]));
	return 0;
}

static int fn_and(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	size_t i;

	(void)x, (void)err;
	for (i = 0; i + 1 < ac && cmd_template_value_is_true(av[i]); i++)
		;
	*out = av[i] ? json_incref(av[i]) : NULL;
	return 0;
}

static int fn_or(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	size_t i;

	(void)x, (void)err;
	for (i = 0; i + 1 < ac && !cmd_template_value_is_true(av[i]); i++)
		;
	*out = av[i] ? json_incref(av[i]) : NULL;
	return 0;
}

/* -1, 0, 1 as @a compares with @b; -2 when they do not compare. */
static int compare(const json_t *a, const json_t *b)
{
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);

		if (json_is_integer(a) && json_is_integer(b)) {
			json_int_t i = json_integer_value(a), j = json_integer_value(b);

			return i < j ? -1 : i > j;
		}
		return x < y ? -1 : x > y;
	}
	if (json_is_string(a) && json_is_string(b)) {
		int c = strcmp(json_string_value(a), json_string_value(b));

		return c < 0 ? -1 : c > 0;
	}
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) == json_is_true(b) ? 0 : 2;
	if ((!a || json_is_null(a)) && (!b || json_is_null(b)))
		return 0;
	return -2;
}

static int fn_eq(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	bool eq = false;

	(void)x;
	for (size_t i = 1; i < ac; i++) {
		int c = compare(av[0], av[i]);

		if (c == -2)
			return strata_fail_msg(err, EINVAL, "eq: incompatible types for comparison (%s, %s)",
					   cmd_template_value_type(av[0]), cmd_template_value_type(av[i]));
		eq = eq || c == 0;
	}
	*out = json_boolean(eq);
	return 0;
}

static int fn_ne(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	if (fn_eq(x, av, ac, out, err) < 0)
		return -1;
	json_decref(*out);
	*out = json_boolean(compare(av[0], av[1]) != 0);
	return 0;
}

static int ordered(json_t **av, const char *name, int *c, struct strata_error **err)
{
	*c = compare(av[0], av[1]);
	if (*c == -2 || *c == 2 || json_is_boolean(av[0]))
		return strata_fail_msg(err, EINVAL, "%s: incompatible types for comparison (%s, %s)", name,
				   cmd_template_value_type(av[0]), cmd_template_value_type(av[1]));
	return 0;
}

#define ORDER_FN(NAME, TEST)                                                                    \
	static int fn_##NAME(struct texec *x, json_t **av, size_t ac, json_t **out,            \
			     struct strata_error **err)                                        \
	{                                                                                       \
		int c;                                                                          \
		(void)x, (void)ac;                                                              \
		if (ordered(av, #NAME, &c, err) < 0)                                            \
			return -1;                                                              \
		*out = json_boolean(TEST);                                                      \
		return 0;                                                                       \
	}
ORDER_FN(lt, c < 0)
ORDER_FN(le, c <= 0)
ORDER_FN(gt, c > 0)
ORDER_FN(ge, c >= 0)

static int fn_print(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	struct sbuf b = SBUF_INIT;

	(void)x, (void)err;
	/* fmt.Sprint: a space between operands when neither is a string. */
	for (size_t i = 0; i < ac; i++) {
		if (i && !json_is_string(av[i]) && !json_is_string(av[i - 1]))
			sbuf_addstr(&b, " ");
		cmd_template_value_print(&b, av[i], false);
	}
	*out = cmd_template_string_owned(sbuf_detach(&b, NULL));
	return 0;
}

static int fn_println(struct texec *x, json_t **av, size_t ac, json_t **out,
		      struct strata_error **err)
{
	struct sbuf b = SBUF_INIT;

	(void)x, (void)err;
	for (size_t i = 0; i < ac; i++) {
		if (i)
			sbuf_addstr(&b, " ");
		cmd_template_value_print(&b, av[i], false);
	}
	sbuf_addstr(&b, "\n");
	*out = cmd_template_string_owned(sbuf_detach(&b, NULL));
	return 0;
}

/* Go's %q: a double-quoted string with Go escapes. */
static void quote(struct sbuf *b, const char *s)
{
	sbuf_addstr(b, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			sbuf_addf(b, "\\%c", *p);
		else if (*p == '\n')
			sbuf_addstr(b, "\\n");
		else if (*p == '\t')
			sbuf_addstr(b, "\\t");
		else if (*p == '\r')
			sbuf_addstr(b, "\\r");
		else if (*p < 0x20 || *p == 0x7f)
			sbuf_addf(b, "\\x%02x", *p);
		else
			sbuf_add(b, p, 1);
	}
	sbuf_addstr(b, "\"");
}

/* The formats are built here from checked flags, width and precision. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

/* One verb of printf with its C conversion spec @spec (flags, width, precision, no verb). */
static void printf_verb(struct sbuf *b, const char *spec, char verb, const json_t *v)
{
	char fmt[64];

	switch (verb) {
	case 'd':
	case 'x':
	case 'X':
	case 'o':
	case 'c':
		if (json_is_integer(v) || json_is_real(v)) {
			long long n = json_is_integer(v) ? json_integer_value(v)
							 : (long long)json_real_value(v);

			snprintf(fmt, sizeof(fmt), "%%%sll%c", spec, verb == 'c' ? 'd' : verb);
			sbuf_addf(b, fmt, n);
			return;
		}
		if ((verb == 'x' || verb == 'X') && json_is_string(v)) {
			for (const unsigned char *p = (const unsigned char *)json_string_value(v); *p; p++)
				sbuf_addf(b, verb == 'x' ? "%02x" : "%02X", *p);
			return;
		}
		break;
	case 'f':
	case 'F':
	case 'e':
	case 'E':
	case 'g':
	case 'G':
		if (json_is_number(v)) {
			snprintf(fmt, sizeof(fmt), "%%%s%c", spec, verb);
			sbuf_addf(b, fmt, json_number_value(v));
			return;
		}
		break;
	case 't':
		if (json_is_boolean(v)) {
			snprintf(fmt, sizeof(fmt), "%%%ss", spec);
			sbuf_addf(b, fmt, json_is_true(v) ? "true" : "false");
			return;
		}
		break;
	case 'q':
	case 's':
	case 'v': {
		struct sbuf t = SBUF_INIT;
		cleanup_free char *txt = value_text(v);

		if (verb == 'q')
			quote(&t, txt);
		else
			sbuf_addstr(&t, txt);
		snprintf(fmt, sizeof(fmt), "%%%ss", spec);
		sbuf_addf(b, fmt, t.buf ? t.buf : "");
		sbuf_release(&t);
		return;
	}
	default:
		break;
	}
	{
		cleanup_free char *txt = value_text(v);

		sbuf_addf(b, "%%!%c(%s=%s)", verb, cmd_template_value_type(v), txt);
	}
}

#pragma GCC diagnostic pop

/*
 * Appends the number at *@p (a width or precision) to @spec and moves past
 * it; -1, appending nothing, when it passes 1e6, where Go's fmt says
 * BADWIDTH or BADPREC (a width of 2^31 made vasprintf fail, one of 10^9
 * wrote a gigabyte a row).
 */
static int spec_number(const char **p, char *spec, size_t *sl)
{
	long n = 0;

	while (isdigit((unsigned char)**p)) {
		if (n <= 1000000)
			n = n * 10 + (**p - '0');
		(*p)++;
	}
	if (n > 1000000)
		return -1;
	*sl += (size_t)snprintf(spec + *sl, 9, "%ld", n);
	return 0;
}

static int fn_printf(struct texec *x, json_t **av, size_t ac, json_t **out, struct strata_error **err)
{
	struct sbuf b = SBUF_INIT;
	cleanup_free char *f = value_text(av[0]);
	size_t next = 1;

	(void)x, (void)err;
	for (const char *p = f; *p; p++) {
		char spec[32];
		size_t sl = 0;

		if (*p != '%') {
			sbuf_add(&b, p, 1);
			continue;
		}
		p++;
		if (*p == '%') {
			sbuf_addstr(&b, "%");
			continue;
		}
		/* flags (each once is enough), width, precision */
		while (*p && strchr("-+# 0", *p)) {
			if (sl < 8 && !memchr(spec, *p, sl))
				spec[sl++] = *p;
			p++;
		}
		if (isdigit((unsigned char)*p) && spec_number(&p, spec, &sl) < 0)
			sbuf_addstr(&b, "%!(BADWIDTH)");
		if (*p == '.') {
			size_t dot = sl;

			spec[sl++] = *p++;
			if (spec_number(&p, spec, &sl) < 0) {
				sbuf_addstr(&b, "%!(BADPREC)");
				sl = dot;
			}
		}
		spec[sl] = '\0';
		if (!*p) {
			sbuf_addstr(&b, "%!(NOVERB)");
			break;
		}
		if (next >= ac) {
			sbuf_addf(&b, "%%!%c(MISSING)", *p);
			continue;
		}
		printf_verb(&b, spec, *p, av[next++]);
	}
	if (next < ac) {
		sbuf_addstr(&b, "%!(EXTRA ");
		for (size_t i = next; i < ac; i++) {
			cleanup_free char *t = value_text(av[i]);

			sbuf_addf(&b, "%s%s=%s", i > next ? ", " : "", cmd_template_value_type(av[i]), t);
		}
		sbuf_addstr(&b, ")");
	}
	*out = cmd_template_string_owned(sbuf_detach(&b, NULL));
	return 0;
}

static const struct tfunc funcs[] = {
	{ "and", fn_and, 1, -1 },	  { "eq", fn_eq, 2, -1 },
	{ "ge", fn_ge, 2, 2 },		  { "gt", fn_gt, 2, 2 },
	{ "index", fn_index, 1, -1 },	  { "join", fn_join, 2, 2 },
	{ "json", fn_json, 1, 1 },	  { "le", fn_le, 2, 2 },
	{ "len", fn_len, 1, 1 },	  { "lower", fn_lower, 1, 1 },
	{ "lt", fn_lt, 2, 2 },		  { "ne", fn_ne, 2, 2 },
	{ "not", fn_not, 1, 1 },	  { "or", fn_or, 1, -1 },
	{ "pad", fn_pad, 3, 3 },	  { "print", fn_print, 0, -1 },
	{ "printf", fn_printf, 1, -1 },	  { "println", fn_println, 0, -1 },
	{ "split", fn_split, 2, 2 },	  { "title", fn_title, 1, 1 },
	{ "truncate", fn_truncate, 2, 2 }, { "upper", fn_upper, 1, 1 },
};

const struct tfunc *cmd_template_func_find(const char *name, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(funcs); i++)
		if (strlen(funcs[i].name) == len && !strncmp(funcs[i].name, name, len))
			return &funcs[i];
	return NULL;
}
