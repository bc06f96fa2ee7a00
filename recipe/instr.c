/*
 * Instructions: their names and flags, copies, their text for history and
 * cache keys, and the expansion of what Docker expands in each of them
 * (buildkit's instructions package: the commands implementing
 * SupportsSingleWordExpansion, plus the flags it expands).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "recipe/recipe-int.h"

static const struct {
	enum recipe_cmd cmd;
	const char *name;
	const char *const flags[8];
} cmds[] = {
    {RECIPE_ADD, "ADD", {"chown", "chmod", "checksum", "keep-git-dir", "link", "exclude", NULL}},
    {RECIPE_ARG, "ARG", {NULL}},
    {RECIPE_CMD, "CMD", {NULL}},
    {RECIPE_COPY, "COPY", {"from", "chown", "chmod", "link", "parents", "exclude", NULL}},
    {RECIPE_ENTRYPOINT, "ENTRYPOINT", {NULL}},
    {RECIPE_ENV, "ENV", {NULL}},
    {RECIPE_EXPOSE, "EXPOSE", {NULL}},
    {RECIPE_FROM, "FROM", {"platform", NULL}},
    {RECIPE_HEALTHCHECK,
     "HEALTHCHECK",
     {"interval", "timeout", "start-period", "start-interval", "retries", NULL}},
    {RECIPE_LABEL, "LABEL", {NULL}},
    {RECIPE_MAINTAINER, "MAINTAINER", {NULL}},
    {RECIPE_ONBUILD, "ONBUILD", {NULL}},
    {RECIPE_RUN, "RUN", {"network", "mount", NULL}},
    {RECIPE_SHELL, "SHELL", {NULL}},
    {RECIPE_STOPSIGNAL, "STOPSIGNAL", {NULL}},
    {RECIPE_USER, "USER", {NULL}},
    {RECIPE_VOLUME, "VOLUME", {NULL}},
    {RECIPE_WORKDIR, "WORKDIR", {NULL}},
};

const char *recipe_cmd_name(enum recipe_cmd c)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (cmds[i].cmd == c)
			return cmds[i].name;
	return "?";
}

int recipe_cmd_parse(const char *name, enum recipe_cmd *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (strcasecmp(cmds[i].name, name) == 0) {
			*out = cmds[i].cmd;
			return 0;
		}
	}
	return -1;
}

const char *const *recipe_cmd_flags(enum recipe_cmd c)
{
	for (size_t i = 0; i < ARRAY_SIZE(cmds); i++)
		if (cmds[i].cmd == c)
			return cmds[i].flags;
	return cmds[1].flags;
}

bool recipe_flag_is_bool(enum recipe_cmd c, const char *name)
{
	return (c == RECIPE_COPY || c == RECIPE_ADD) &&
	       (strcmp(name, "link") == 0 || strcmp(name, "keep-git-dir") == 0 ||
		strcmp(name, "parents") == 0);
}

const char *recipe_instr_flag(const struct recipe_instr *in, const char *name)
{
	for (size_t i = 0; i < in->n_flags; i++)
		if (strcmp(in->flags[i].name, name) == 0)
			return in->flags[i].value ? in->flags[i].value : "";
	return NULL;
}

char **recipe_instr_flag_all(const struct recipe_instr *in, const char *name)
{
	char **out = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < in->n_flags; i++)
		if (strcmp(in->flags[i].name, name) == 0)
			strv_append(&out, in->flags[i].value ? in->flags[i].value : "");
	return out;
}

bool recipe_flag_is_repeatable(enum recipe_cmd c, const char *name)
{
	return (c == RECIPE_RUN && strcmp(name, "mount") == 0) ||
	       ((c == RECIPE_COPY || c == RECIPE_ADD) && strcmp(name, "exclude") == 0);
}

void recipe_instr_release(struct recipe_instr *in)
{
	free(in->original);
	for (size_t i = 0; i < in->n_flags; i++) {
		free(in->flags[i].name);
		free(in->flags[i].value);
	}
	free(in->flags);
	strv_free(in->args);
	for (size_t i = 0; i < in->n_kvs; i++) {
		free(in->kvs[i].key);
		free(in->kvs[i].value);
	}
	free(in->kvs);
	for (size_t i = 0; i < in->n_heredocs; i++) {
		free(in->heredocs[i].name);
		free(in->heredocs[i].content);
	}
	free(in->heredocs);
	recipe_instr_free(in->sub);
	memset(in, 0, sizeof(*in));
}

void recipe_instr_free(struct recipe_instr *in)
{
	if (!in)
		return;
	recipe_instr_release(in);
	free(in);
}

void recipe_instr_copy(struct recipe_instr *out, const struct recipe_instr *in)
{
	memset(out, 0, sizeof(*out));
	out->cmd = in->cmd;
	out->line = in->line;
	out->original = xstrdup(in->original);
	out->is_json = in->is_json;
	out->n_flags = in->n_flags;
	out->flags = in->n_flags ? xcalloc(in->n_flags, sizeof(*out->flags)) : NULL;
	for (size_t i = 0; i < in->n_flags; i++) {
		out->flags[i].name = xstrdup(in->flags[i].name);
		out->flags[i].value = xstrdup(in->flags[i].value);
	}
	out->args = in->args ? strv_dup(in->args) : xcalloc(1, sizeof(char *));
	out->n_args = strv_len(out->args);
	out->n_kvs = in->n_kvs;
	out->kvs = in->n_kvs ? xcalloc(in->n_kvs, sizeof(*out->kvs)) : NULL;
	for (size_t i = 0; i < in->n_kvs; i++) {
		out->kvs[i].key = xstrdup(in->kvs[i].key);
		out->kvs[i].value = xstrdup(in->kvs[i].value);
	}
	out->n_heredocs = in->n_heredocs;
	out->heredocs = in->n_heredocs ? xcalloc(in->n_heredocs, sizeof(*out->heredocs)) : NULL;
	for (size_t i = 0; i < in->n_heredocs; i++) {
		out->heredocs[i] = in->heredocs[i];
		out->heredocs[i].name = xstrdup(in->heredocs[i].name);
		out->heredocs[i].content = xstrdup(in->heredocs[i].content);
	}
	if (in->sub) {
		out->sub = xcalloc(1, sizeof(*out->sub));
		recipe_instr_copy(out->sub, in->sub);
	}
}

/* A word for the text form: quoted as JSON when it holds blanks, quotes or nothing. */
static void add_word(struct sbuf *b, const char *w)
{
	bool plain = *w != '\0';

	for (const char *c = w; *c; c++)
		if (isspace((unsigned char)*c) || *c == '"' || *c == '\'' || *c == '\\' ||
		    (unsigned char)*c < 0x20)
			plain = false;
	if (plain) {
		sbuf_addstr(b, w);
	} else {
		cleanup_json json_t *j = jv_string(w);
		cleanup_free char *s = json_dumps(j, JSON_ENCODE_ANY);

		sbuf_addstr(b, s ? s : "\"\"");
	}
}

char *recipe_instr_string(const struct recipe_instr *in)
{
	struct sbuf b = SBUF_INIT;

	sbuf_addstr(&b, recipe_cmd_name(in->cmd));
	for (size_t i = 0; i < in->n_flags; i++) {
		sbuf_addf(&b, " --%s", in->flags[i].name);
		if (in->flags[i].value) {
			sbuf_addstr(&b, "=");
			add_word(&b, in->flags[i].value);
		}
	}
	if (in->cmd == RECIPE_ONBUILD && in->sub) {
		cleanup_free char *sub = recipe_instr_string(in->sub);

		sbuf_addf(&b, " %s", sub);
	} else if (in->is_json) {
		size_t i = 0;

		if (in->cmd == RECIPE_HEALTHCHECK)
			sbuf_addf(&b, " %s", in->args[i++]);
		{
			cleanup_json json_t *a = jv_strv(in->args + i);
			cleanup_free char *s = jv_dump(a, NULL);

			sbuf_addf(&b, " %s", s);
		}
	} else if (in->n_kvs) {
		for (size_t i = 0; i < in->n_kvs; i++) {
			sbuf_addstr(&b, " ");
			add_word(&b, in->kvs[i].key);
			if (in->kvs[i].value) {
				sbuf_addstr(&b, "=");
				add_word(&b, in->kvs[i].value);
			}
		}
	} else {
		for (size_t i = 0; i < in->n_args; i++)
			sbuf_addf(&b, " %s", in->args[i]);
	}
	for (size_t i = 0; i < in->n_heredocs; i++)
		sbuf_addf(&b, "\n%s%s", in->heredocs[i].content, in->heredocs[i].name);
	return sbuf_detach(&b, NULL);
}

int recipe_duration_parse(const char *s, int64_t *ns)
{
	static const struct {
		const char *unit;
		double mult;
	} units[] = {{"ns", 1},	 {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"ms", 1e6},
		     {"s", 1e9}, {"m", 6e10}, {"h", 3.6e12}};
	double total = 0;
	bool neg = false;
	const char *p = s;

	if (*p == '-' || *p == '+') {
		neg = *p == '-';
		p++;
	}
	if (strcmp(p, "0") == 0) {
		*ns = 0;
		return 0;
	}
	if (!*p)
		return -1;
	while (*p) {
		char *end = NULL;
		double v;
		size_t best = 0, best_len = 0;

		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		errno = 0;
		v = strtod(p, &end);
		if (end == p || errno || !isfinite(v))
			return -1;
		for (const char *c = p; c < end; c++)
			if (!isdigit((unsigned char)*c) && *c != '.')
				return -1;
		p = end;
		for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
			size_t n = strlen(units[i].unit);

			if (strncmp(p, units[i].unit, n) == 0 && n > best_len) {
				best = i;
				best_len = n;
			}
		}
		if (!best_len)
			return -1;
		p += best_len;
		total += v * units[best].mult;
		if (total > 9.2e18)
			return -1;
	}
	*ns = (int64_t)(neg ? -total : total);
	return 0;
}

/* ---- expansion ---- */

struct exp {
	const char *file;
	unsigned line;
	char esc;
	const struct recipe_vars *vars;
	struct strata_error **err;
};

static char *word1(struct exp *x, const char *w)
{
	char *r = recipe_expand_word(w, x->esc, x->vars, x->err);

	if (!r)
		strata_wrap(x->err, "%s:%u", x->file, x->line);
	return r;
}

static int expand_in_place(struct exp *x, char **w)
{
	char *r = word1(x, *w);

	if (!r)
		return -1;
	free(*w);
	*w = r;
	return 0;
}

/* Replaces the arguments by the words their expansions split into. */
static int expand_split_args(struct exp *x, struct recipe_instr *in)
{
	char **out = xcalloc(1, sizeof(char *));

	for (size_t i = 0; i < in->n_args; i++) {
		cleanup_strv char **ws = recipe_expand_words(in->args[i], x->esc, x->vars, x->err);

		if (!ws) {
			strv_free(out);
			return strata_wrap(x->err, "%s:%u", x->file, x->line);
		}
		for (size_t k = 0; ws[k]; k++)
			strv_append(&out, ws[k]);
	}
	strv_free(in->args);
	in->args = out;
	in->n_args = strv_len(out);
	return 0;
}

static int expand_flags(struct exp *x, struct recipe_instr *in, const char *const *names)
{
	for (size_t i = 0; i < in->n_flags; i++) {
		for (size_t k = 0; names[k]; k++) {
			if (strcmp(in->flags[i].name, names[k]) == 0 && in->flags[i].value &&
			    expand_in_place(x, &in->flags[i].value) < 0)
				return -1;
		}
	}
	return 0;
}

static int expand(struct exp *x, struct recipe_instr *in)
{
	static const char *const copy_flags[] = {"from", "chown", "chmod", "checksum", "exclude",
						 NULL};
	static const char *const from_flags[] = {"platform", NULL};

	switch (in->cmd) {
	case RECIPE_COPY:
	case RECIPE_ADD:
		if (expand_flags(x, in, copy_flags) < 0)
			return -1;
		for (size_t i = 0; i < in->n_args; i++) {
			char *r;

			if (i + 1 == in->n_args || in->is_json) {
				if (expand_in_place(x, &in->args[i]) < 0)
					return -1;
				continue;
			}
			/* sources: an escaped glob character stays literal for the matcher */
			r = recipe_expand_glob_word(in->args[i], x->esc, x->vars, x->err);
			if (!r)
				return strata_wrap(x->err, "%s:%u", x->file, x->line);
			free(in->args[i]);
			in->args[i] = r;
		}
		for (size_t i = 0; i < in->n_heredocs; i++) {
			char *c;

			if (!in->heredocs[i].expand)
				continue;
			c = recipe_expand_heredoc(in->heredocs[i].content, x->esc, x->vars, x->err);
			if (!c)
				return strata_wrap(x->err, "%s:%u", x->file, x->line);
			free(in->heredocs[i].content);
			in->heredocs[i].content = c;
		}
		return 0;
	case RECIPE_FROM:
		if (expand_flags(x, in, from_flags) < 0)
			return -1;
		return expand_in_place(x, &in->args[0]);
	case RECIPE_ENV:
	case RECIPE_LABEL:
	case RECIPE_ARG:
		for (size_t i = 0; i < in->n_kvs; i++) {
			if (in->cmd != RECIPE_ARG && expand_in_place(x, &in->kvs[i].key) < 0)
				return -1;
			if (in->kvs[i].value && expand_in_place(x, &in->kvs[i].value) < 0)
				return -1;
			if (in->cmd == RECIPE_ENV && !*in->kvs[i].key)
				return strata_fail_msg(x->err, EINVAL,
						       "%s:%u: ENV names can not be blank", x->file,
						       x->line);
		}
		return 0;
	case RECIPE_EXPOSE:
		return expand_split_args(x, in);
	case RECIPE_VOLUME:
		for (size_t i = 0; i < in->n_args; i++) {
			if (expand_in_place(x, &in->args[i]) < 0)
				return -1;
			if (!*in->args[i])
				return strata_fail_msg(
				    x->err, EINVAL,
				    "%s:%u: VOLUME specified can not be an empty string", x->file,
				    x->line);
		}
		return 0;
	case RECIPE_USER:
	case RECIPE_WORKDIR:
	case RECIPE_STOPSIGNAL:
		return expand_in_place(x, &in->args[0]);
	case RECIPE_RUN:
	case RECIPE_CMD:
	case RECIPE_ENTRYPOINT:
	case RECIPE_SHELL:
	case RECIPE_HEALTHCHECK:
	case RECIPE_MAINTAINER:
	case RECIPE_ONBUILD:
		return 0;
	}
	return 0;
}

int recipe_instr_expand(const struct recipe_instr *in, const char *file, char escape,
			const struct recipe_vars *vars, struct recipe_instr **out,
			struct strata_error **err)
{
	struct exp x = {file, in->line, escape, vars, err};
	struct recipe_instr *c = xcalloc(1, sizeof(*c));

	recipe_instr_copy(c, in);
	if (expand(&x, c) < 0) {
		recipe_instr_free(c);
		return -1;
	}
	*out = c;
	return 0;
}
