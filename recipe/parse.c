/*
 * The Containerfile/Dockerfile parser. It follows BuildKit's
 * frontend/dockerfile/parser (the reference the Dockerfile documentation
 * describes) line by line:
 *
 *  - parser directives ("# escape=`", "# syntax=...", "# check=...") are
 *    read only before the first instruction, comment or blank line; an
 *    unknown one is a comment and ends the directives;
 *  - a line whose first non-blank character is '#' is a comment, also in the
 *    middle of a continued instruction, where blank lines are skipped too;
 *  - the escape character before trailing blanks continues the line; the
 *    continuation is joined without a separator;
 *  - "<<WORD" words in RUN, COPY and ADD (shell form) start here-documents,
 *    read from the lines after the instruction;
 *  - "--name=value" words before the arguments are builder flags;
 *  - the arguments are then split per instruction (see struct recipe_instr).
 *
 * Every error is "NAME:LINE: message" with the first line of the instruction.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "recipe/recipe-int.h"

struct line {
	const char *s;
	size_t len;
};

struct parser {
	const char *name;
	char escape;
	bool directives_done;
	bool seen_escape, seen_syntax, seen_check;
	struct line *lines;
	size_t n_lines;
	size_t next; /* index of the next line to read */
	struct strata_error **err;
};

static int fail_at(struct parser *p, unsigned line, const char *fmt, ...) FMT(3, 4);

static int fail_at(struct parser *p, unsigned line, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	return strata_fail_msg(p->err, EINVAL, "%s:%u: %s", p->name, line, msg);
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\v' || c == '\f' || c == '\r' || c == '\n';
}

static const char *skip_blanks(const char *s)
{
	while (*s && is_blank(*s))
		s++;
	return s;
}

static char *trim_copy(const char *s, size_t len)
{
	while (len && is_blank(*s)) {
		s++;
		len--;
	}
	while (len && is_blank(s[len - 1]))
		len--;
	return xstrndup(s, len);
}

static bool line_is_comment(const struct line *l)
{
	size_t i = 0;

	while (i < l->len && is_blank(l->s[i]))
		i++;
	return i < l->len && l->s[i] == '#';
}

static bool line_is_empty(const struct line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (!is_blank(l->s[i]))
			return false;
	return true;
}

/*
 * Strips a trailing escape character followed only by blanks; returns true
 * when it was there (the instruction continues on the next line).
 */
static bool strip_continuation(struct parser *p, struct line *l)
{
	size_t n = l->len;

	while (n && (l->s[n - 1] == ' ' || l->s[n - 1] == '\t'))
		n--;
	if (n && l->s[n - 1] == p->escape) {
		l->len = n - 1;
		return true;
	}
	return false;
}

/* "# name = value": a parser directive while they are still allowed. */
static int directive(struct parser *p, const struct line *raw, unsigned lineno)
{
	const char *s, *name, *eq, *v;
	size_t i = 0, nlen;
	cleanup_free char *copy = NULL;
	cleanup_free char *value = NULL;

	if (p->directives_done)
		return 0;
	while (i < raw->len && is_blank(raw->s[i]))
		i++;
	copy = xstrndup(raw->s + i, raw->len - i);
	s = copy;
	if (*s != '#') {
		p->directives_done = true;
		return 0;
	}
	s = skip_blanks(s + 1);
	name = s;
	if (!isalpha((unsigned char)*s)) {
		p->directives_done = true;
		return 0;
	}
	while (isalnum((unsigned char)*s))
		s++;
	nlen = (size_t)(s - name);
	eq = skip_blanks(s);
	if (*eq != '=') {
		p->directives_done = true;
		return 0;
	}
	v = skip_blanks(eq + 1);
	value = trim_copy(v, strlen(v));
	if (!*value) {
		p->directives_done = true;
		return 0;
	}
	if (nlen == 6 && strncasecmp(name, "escape", 6) == 0) {
		if (p->seen_escape)
			return fail_at(p, lineno, "only one escape parser directive can be used");
		p->seen_escape = true;
		if (strcmp(value, "\\") != 0 && strcmp(value, "`") != 0)
			return fail_at(p, lineno,
				       "invalid escape token '%s' does not match ` or \\", value);
		p->escape = value[0];
	} else if (nlen == 6 && strncasecmp(name, "syntax", 6) == 0) {
		/* Accepted and ignored: there is one frontend here. */
		if (p->seen_syntax)
			return fail_at(p, lineno, "only one syntax parser directive can be used");
		p->seen_syntax = true;
	} else if (nlen == 5 && strncasecmp(name, "check", 5) == 0) {
		if (p->seen_check)
			return fail_at(p, lineno, "only one check parser directive can be used");
		p->seen_check = true;
	} else {
		/* An unknown directive is a comment, and ends the directives. */
		p->directives_done = true;
	}
	return 0;
}

/*
 * Builder flags at the start of @line (buildkit's extractBuilderFlags): words
 * starting with "--", quotes and backslashes processed, until the first other
 * word or a bare "--". Returns where the arguments start.
 */
static const char *extract_flags(const char *line, char ***flags)
{
	struct sbuf w = SBUF_INIT;
	size_t len = strlen(line);
	bool in_word = false, in_quote = false, blank_ok = false;
	char quote = 0;

	*flags = xcalloc(1, sizeof(char *));
	for (size_t pos = 0; pos <= len; pos++) {
		char ch = pos < len ? line[pos] : '\0';

		if (!in_word && !in_quote) {
			if (pos == len)
				break;
			if (is_blank(ch))
				continue;
			if (ch != '-' || pos + 1 == len || line[pos + 1] != '-') {
				sbuf_release(&w);
				return line + pos;
			}
			in_word = true;
		}
		if (pos == len) {
			if ((w.len != 2 || memcmp(w.buf, "--", 2) != 0) && (blank_ok || w.len))
				strv_append(flags, w.buf ? w.buf : "");
			break;
		}
		if (in_word) {
			if (is_blank(ch)) {
				in_word = false;
				if (w.len == 2 && memcmp(w.buf, "--", 2) == 0) {
					sbuf_release(&w);
					return line + pos;
				}
				if (blank_ok || w.len)
					strv_append(flags, w.buf ? w.buf : "");
				sbuf_release(&w);
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				in_word = false;
				in_quote = true;
				continue;
			}
			if (ch == '\\') {
				if (pos + 1 == len)
					continue;
				ch = line[++pos];
			}
			sbuf_add(&w, &ch, 1);
			continue;
		}
		/* in a quote */
		if (ch == quote) {
			in_quote = false;
			in_word = true;
			continue;
		}
		if (ch == '\\') {
			if (pos + 1 == len) {
				in_quote = false;
				in_word = true;
				continue;
			}
			ch = line[++pos];
		}
		sbuf_add(&w, &ch, 1);
	}
	sbuf_release(&w);
	return line + len;
}

/* Checks and stores the flags of @in. */
static int parse_flags(struct parser *p, struct recipe_instr *in, char **words)
{
	const char *const *allowed = recipe_cmd_flags(in->cmd);
	const char *cmd = recipe_cmd_name(in->cmd);

	for (size_t i = 0; words[i]; i++) {
		const char *w = words[i];
		const char *eq;
		cleanup_free char *name = NULL;
		bool known = false;

		if (!str_has_prefix(w, "--"))
			return fail_at(p, in->line, "flag '%s' of %s should start with --", w, cmd);
		w += 2;
		eq = strchr(w, '=');
		name = eq ? xstrndup(w, (size_t)(eq - w)) : xstrdup(w);
		for (size_t k = 0; allowed[k]; k++)
			if (strcmp(allowed[k], name) == 0)
				known = true;
		if (!known) {
			if (in->cmd == RECIPE_RUN && strcmp(name, "security") == 0)
				return fail_at(p, in->line, "RUN --%s is not supported", name);
			return fail_at(p, in->line, "unknown flag '--%s' for %s", name, cmd);
		}
		if (recipe_instr_flag(in, name) && !recipe_flag_is_repeatable(in->cmd, name))
			return fail_at(p, in->line, "duplicate flag specified: --%s", name);
		if (recipe_flag_is_bool(in->cmd, name)) {
			if (eq && strcasecmp(eq + 1, "true") != 0 &&
			    strcasecmp(eq + 1, "false") != 0)
				return fail_at(p, in->line,
					       "expecting boolean value for flag '--%s', not: %s",
					       name, eq + 1);
		} else if (!eq) {
			return fail_at(p, in->line, "missing a value on flag '--%s'", name);
		}
		if (in->cmd == RECIPE_RUN && strcmp(name, "mount") == 0) {
			struct recipe_mount m;
			struct strata_error *e = NULL;

			if (recipe_mount_parse(eq + 1, p->escape, NULL, &m, &e) < 0) {
				int r = fail_at(p, in->line, "RUN %s", strata_error_msg(e));

				strata_error_free(e);
				return r;
			}
			recipe_mount_release(&m);
		}
		in->flags = xgrow(in->flags, &in->cap_flags, in->n_flags, sizeof(*in->flags));
		in->flags[in->n_flags].name = steal_ptr(&name);
		in->flags[in->n_flags].value = eq ? xstrdup(eq + 1) : NULL;
		in->n_flags++;
	}
	return 0;
}

static void add_arg(struct recipe_instr *in, const char *a)
{
	/* room for the NULL after it too */
	in->args = xgrow(in->args, &in->cap_args, in->n_args + 1, sizeof(*in->args));
	in->args[in->n_args++] = xstrdup(a);
	in->args[in->n_args] = NULL;
}

static void add_kv(struct recipe_instr *in, const char *key, size_t klen, const char *value)
{
	in->kvs = xgrow(in->kvs, &in->cap_kvs, in->n_kvs, sizeof(*in->kvs));
	in->kvs[in->n_kvs].key = xstrndup(key, klen);
	in->kvs[in->n_kvs].value = value ? xstrdup(value) : NULL;
	in->n_kvs++;
}

/*
 * The exec form: a JSON array of strings. Returns 1 when @rest is one, 0 when
 * it is not JSON (the shell form then), -1 for a JSON array holding something
 * other than strings.
 */
static int parse_json(struct parser *p, struct recipe_instr *in, const char *rest)
{
	cleanup_json json_t *a = NULL;
	json_t *e;
	size_t i;

	if (rest[0] != '[')
		return 0;
	a = json_loads(rest, 0, NULL);
	if (!json_is_array(a))
		return 0;
	json_array_foreach(a, i, e)
	{
		if (!json_is_string(e))
			return fail_at(p, in->line,
				       "when using JSON array syntax, arrays must be comprised of "
				       "strings only");
	}
	json_array_foreach(a, i, e) add_arg(in, json_string_value(e));
	in->is_json = true;
	return 1;
}

/* RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK CMD: JSON, else the whole text. */
static int parse_maybe_json(struct parser *p, struct recipe_instr *in, const char *rest)
{
	int r = parse_json(p, in, rest);

	if (r != 0)
		return r < 0 ? -1 : 0;
	if (*rest)
		add_arg(in, rest);
	return 0;
}

/* Words split at blanks only (buildkit's parseStringsWhitespaceDelimited). */
static void parse_blank_delimited(struct recipe_instr *in, const char *rest)
{
	const char *s = skip_blanks(rest);

	while (*s) {
		const char *e = s;
		cleanup_free char *w = NULL;

		while (*e && !is_blank(*e))
			e++;
		w = xstrndup(s, (size_t)(e - s));
		add_arg(in, w);
		s = skip_blanks(e);
	}
}

static int parse_maybe_json_list(struct parser *p, struct recipe_instr *in, const char *rest)
{
	int r = parse_json(p, in, rest);

	if (r != 0)
		return r < 0 ? -1 : 0;
	parse_blank_delimited(in, rest);
	return 0;
}

/* ENV and LABEL: "KEY=VALUE ..." or the old "KEY VALUE". */
static int parse_name_val(struct parser *p, struct recipe_instr *in, const char *rest)
{
	const char *cmd = recipe_cmd_name(in->cmd);
	cleanup_strv char **words = recipe_split_words(rest, p->escape);

	if (!words[0])
		return fail_at(p, in->line, "%s requires at least one argument", cmd);
	if (!strchr(words[0], '=')) {
		const char *s = rest, *e;

		while (*s && !is_blank(*s))
			s++;
		e = skip_blanks(s);
		if (!*e)
			return fail_at(p, in->line, "%s must have two arguments", cmd);
		add_kv(in, rest, (size_t)(s - rest), e);
		return 0;
	}
	for (size_t i = 0; words[i]; i++) {
		const char *eq = strchr(words[i], '=');

		if (!eq)
			return fail_at(
			    p, in->line,
			    "syntax error - can't find = in '%s'. Must be of the form: name=value",
			    words[i]);
		if (eq == words[i])
			return fail_at(p, in->line, "%s names can not be blank", cmd);
		add_kv(in, words[i], (size_t)(eq - words[i]), eq + 1);
	}
	return 0;
}

static int parse_arg(struct parser *p, struct recipe_instr *in, const char *rest)
{
	cleanup_strv char **words = recipe_split_words(rest, p->escape);

	if (!words[0])
		return fail_at(p, in->line, "ARG requires at least one argument");
	for (size_t i = 0; words[i]; i++) {
		const char *eq = strchr(words[i], '=');

		if (eq == words[i] || !words[i][0])
			return fail_at(p, in->line, "ARG names can not be blank");
		add_kv(in, words[i], eq ? (size_t)(eq - words[i]) : strlen(words[i]),
		       eq ? eq + 1 : NULL);
	}
	return 0;
}

static int check_duration_flag(struct parser *p, const struct recipe_instr *in, const char *name)
{
	const char *v = recipe_instr_flag(in, name);
	int64_t ns;

	if (!v)
		return 0;
	if (recipe_duration_parse(v, &ns) < 0)
		return fail_at(p, in->line, "invalid duration '%s' for --%s", v, name);
	if (ns < 0)
		return fail_at(p, in->line, "--%s '%s' cannot be negative", name, v);
	if (ns != 0 && ns < 1000000)
		return fail_at(p, in->line, "--%s '%s' cannot be less than 1ms", name, v);
	return 0;
}

static int parse_healthcheck(struct parser *p, struct recipe_instr *in, const char *rest)
{
	const char *sep = rest;
	cleanup_free char *typ = NULL;
	const char *retries = recipe_instr_flag(in, "retries");
	static const char *const durations[] = {"interval", "timeout", "start-period",
						"start-interval"};

	while (*sep && !is_blank(*sep))
		sep++;
	if (sep == rest)
		return fail_at(p, in->line, "HEALTHCHECK requires an argument");
	typ = xstrndup(rest, (size_t)(sep - rest));
	for (char *c = typ; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	add_arg(in, typ);
	for (size_t i = 0; i < ARRAY_SIZE(durations); i++)
		if (check_duration_flag(p, in, durations[i]) < 0)
			return -1;
	if (retries) {
		char *end = NULL;
		long long r;

		errno = 0;
		r = strtoll(retries, &end, 10);
		if (!*retries || *end || errno)
			return fail_at(p, in->line, "invalid --retries value '%s'", retries);
		if (r < 0)
			return fail_at(p, in->line, "--retries cannot be negative");
	}
	if (strcmp(typ, "NONE") == 0) {
		if (*skip_blanks(sep))
			return fail_at(p, in->line, "HEALTHCHECK NONE takes no arguments");
		return 0;
	}
	if (strcmp(typ, "CMD") != 0)
		return fail_at(p, in->line, "unknown type '%s' in HEALTHCHECK (try CMD)", typ);
	if (parse_maybe_json(p, in, skip_blanks(sep)) < 0)
		return -1;
	if (in->n_args < 2)
		return fail_at(p, in->line, "missing command after HEALTHCHECK CMD");
	return 0;
}

static bool valid_stage_name(const char *s)
{
	if (!islower((unsigned char)*s))
		return false;
	for (s++; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) &&
		    !strchr("-_.", *s))
			return false;
	return true;
}

static int parse_line(struct parser *p, const char *line, unsigned lineno, bool trigger,
		      struct recipe_instr *in);

/* Fills @in's arguments from @rest (flags already taken) as its instruction wants. */
static int parse_args(struct parser *p, struct recipe_instr *in, const char *rest)
{
	const char *cmd = recipe_cmd_name(in->cmd);

	switch (in->cmd) {
	case RECIPE_RUN:
	case RECIPE_CMD:
	case RECIPE_ENTRYPOINT:
		if (parse_maybe_json(p, in, rest) < 0)
			return -1;
		if (in->cmd == RECIPE_RUN && (in->n_args == 0 || (!in->is_json && !*rest)))
			return fail_at(p, in->line, "RUN requires at least one argument");
		if (!in->is_json && in->n_args == 0)
			return fail_at(p, in->line, "%s requires at least one argument", cmd);
		if (in->cmd == RECIPE_RUN) {
			const char *net = recipe_instr_flag(in, "network");

			if (net && strcmp(net, "default") != 0 && strcmp(net, "none") != 0 &&
			    strcmp(net, "host") != 0)
				return fail_at(
				    p, in->line,
				    "invalid --network '%s' (expected default, none or host)", net);
		}
		return 0;
	case RECIPE_SHELL:
		if (parse_json(p, in, rest) <= 0) {
			if (in->is_json)
				return -1;
			return fail_at(p, in->line,
				       "SHELL requires the arguments to be in JSON form");
		}
		if (in->n_args == 0)
			return fail_at(p, in->line, "SHELL requires at least one argument");
		return 0;
	case RECIPE_COPY:
	case RECIPE_ADD:
		if (parse_maybe_json_list(p, in, rest) < 0)
			return -1;
		if (in->n_args < 2)
			return fail_at(
			    p, in->line,
			    "%s requires at least two arguments, but only %zu was provided. "
			    "Destination could not be determined",
			    cmd, in->n_args);
		return 0;
	case RECIPE_VOLUME:
		if (parse_maybe_json_list(p, in, rest) < 0)
			return -1;
		if (in->n_args == 0)
			return fail_at(p, in->line, "VOLUME requires at least one argument");
		return 0;
	case RECIPE_EXPOSE:
		parse_blank_delimited(in, rest);
		if (in->n_args == 0)
			return fail_at(p, in->line, "EXPOSE requires at least one argument");
		return 0;
	case RECIPE_FROM:
		parse_blank_delimited(in, rest);
		if (in->n_args != 1 && in->n_args != 3)
			return fail_at(p, in->line, "FROM requires either one or three arguments");
		if (in->n_args == 3) {
			if (strcasecmp(in->args[1], "AS") != 0)
				return fail_at(p, in->line,
					       "FROM requires either one or three arguments, the "
					       "second being AS");
			for (char *c = in->args[2]; *c; c++)
				*c = (char)tolower((unsigned char)*c);
			if (!valid_stage_name(in->args[2]))
				return fail_at(
				    p, in->line,
				    "invalid name for build stage: '%s', name can't start with a "
				    "number or contain symbols",
				    in->args[2]);
		}
		return 0;
	case RECIPE_USER:
	case RECIPE_WORKDIR:
	case RECIPE_STOPSIGNAL:
	case RECIPE_MAINTAINER:
		if (!*rest)
			return fail_at(p, in->line, "%s requires exactly one argument", cmd);
		add_arg(in, rest);
		return 0;
	case RECIPE_ENV:
	case RECIPE_LABEL:
		return parse_name_val(p, in, rest);
	case RECIPE_ARG:
		return parse_arg(p, in, rest);
	case RECIPE_HEALTHCHECK:
		return parse_healthcheck(p, in, rest);
	case RECIPE_ONBUILD:
		if (!*rest)
			return fail_at(p, in->line, "ONBUILD requires at least one argument");
		add_arg(in, rest);
		in->sub = xcalloc(1, sizeof(*in->sub));
		return parse_line(p, rest, in->line, true, in->sub);
	}
	return fail_at(p, in->line, "unknown instruction");
}

/*
 * Parses the logical line @line (continuations joined) into @in. @trigger:
 * it is an ONBUILD trigger.
 */
static int parse_line(struct parser *p, const char *line, unsigned lineno, bool trigger,
		      struct recipe_instr *in)
{
	const char *s = skip_blanks(line), *e, *rest;
	cleanup_free char *word = NULL;
	cleanup_free char *args = NULL;
	cleanup_strv char **flags = NULL;
	enum recipe_cmd cmd;

	in->line = lineno;
	in->args = xcalloc(1, sizeof(char *));
	in->original = trim_copy(s, strlen(s));
	e = s;
	while (*e && !is_blank(*e))
		e++;
	word = xstrndup(s, (size_t)(e - s));
	if (recipe_cmd_parse(word, &cmd) < 0)
		return fail_at(p, lineno, "unknown instruction '%s'", word);
	in->cmd = cmd;
	if (trigger) {
		if (cmd == RECIPE_ONBUILD)
			return fail_at(p, lineno,
				       "chaining ONBUILD via 'ONBUILD ONBUILD' isn't allowed");
		if (cmd == RECIPE_FROM || cmd == RECIPE_MAINTAINER)
			return fail_at(p, lineno, "%s isn't allowed as an ONBUILD trigger",
				       recipe_cmd_name(cmd));
	}
	rest = extract_flags(skip_blanks(e), &flags);
	args = trim_copy(rest, strlen(rest));
	if (parse_flags(p, in, flags) < 0)
		return -1;
	return parse_args(p, in, args);
}

/*
 * A "<<[-]WORD" word (buildkit's heredoc regexp ^(\d*)<<(-?)([^<]*)$):
 * fills @h and returns true.
 */
static bool heredoc_word(struct parser *p, const char *w, struct recipe_heredoc *h)
{
	const char *s = w, *rest;
	struct recipe_vars none = {NULL, NULL};
	char *name;

	while (isdigit((unsigned char)*s))
		s++;
	if (!str_has_prefix(s, "<<"))
		return false;
	s += 2;
	h->chomp = *s == '-';
	if (h->chomp)
		s++;
	rest = s;
	if (!*rest || strchr(rest, '<'))
		return false;
	name = recipe_expand_word(rest, p->escape, &none, NULL);
	if (!name || !*name) {
		free(name);
		return false;
	}
	h->expand = strcmp(name, rest) == 0;
	h->name = name;
	return true;
}

static void strip_leading_tabs(struct line *l)
{
	while (l->len && l->s[0] == '\t') {
		l->s++;
		l->len--;
	}
}

/* Reads the bodies of the here-documents @line announces, from the next lines. */
static int read_heredocs(struct parser *p, struct recipe_instr *in, const char *line)
{
	cleanup_strv char **words = recipe_split_words(line, p->escape);

	for (size_t i = 0; words[i]; i++) {
		struct recipe_heredoc h = {0};
		struct sbuf body = SBUF_INIT;
		bool done = false;

		if (!heredoc_word(p, words[i], &h))
			continue;
		while (p->next < p->n_lines) {
			struct line l = p->lines[p->next++];
			struct line t = l;

			if (h.chomp)
				strip_leading_tabs(&t);
			if (t.len == strlen(h.name) && memcmp(t.s, h.name, t.len) == 0) {
				done = true;
				break;
			}
			sbuf_add(&body, h.chomp ? t.s : l.s, h.chomp ? t.len : l.len);
			sbuf_addstr(&body, "\n");
		}
		if (!done) {
			free(h.name);
			sbuf_release(&body);
			return fail_at(p, in->line, "unterminated heredoc '%s'", words[i]);
		}
		h.content = sbuf_detach(&body, NULL);
		in->heredocs =
		    xgrow(in->heredocs, &in->cap_heredocs, in->n_heredocs, sizeof(*in->heredocs));
		in->heredocs[in->n_heredocs++] = h;
	}
	return 0;
}

static void split_lines(struct parser *p, const char *buf, size_t len)
{
	size_t cap = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
		buf += 3;
		len -= 3;
	}
	while (len) {
		const char *nl = memchr(buf, '\n', len);
		size_t n = nl ? (size_t)(nl - buf) : len;
		struct line l = {buf, n};

		if (l.len && l.s[l.len - 1] == '\r')
			l.len--;
		if (p->n_lines == cap) {
			cap = cap ? cap * 2 : 64;
			p->lines = xrealloc(p->lines, cap * sizeof(*p->lines));
		}
		p->lines[p->n_lines++] = l;
		buf += nl ? n + 1 : n;
		len -= nl ? n + 1 : n;
	}
}

static void append_instr(struct recipe_file *f, struct recipe_instr *in)
{
	f->instrs = xgrow(f->instrs, &f->cap_instrs, f->n_instrs, sizeof(*f->instrs));
	f->instrs[f->n_instrs++] = *in;
	memset(in, 0, sizeof(*in));
}

/* Checks the variable references of @in: a bad ${...} fails at parse time. */
static int check_syntax(struct parser *p, const struct recipe_instr *in)
{
	struct recipe_instr *tmp = NULL;

	if (recipe_instr_expand(in, p->name, p->escape, NULL, &tmp, p->err) < 0)
		return -1;
	recipe_instr_free(tmp);
	return 0;
}

/* Only ARG may come before the first FROM; there must be a FROM. */
static int check_structure(struct parser *p, const struct recipe_file *f, unsigned last_line)
{
	bool seen_from = false;

	if (f->n_instrs == 0)
		return fail_at(p, last_line ? last_line : 1, "file with no instructions");
	for (size_t i = 0; i < f->n_instrs && !seen_from; i++) {
		if (f->instrs[i].cmd == RECIPE_FROM)
			seen_from = true;
		else if (f->instrs[i].cmd != RECIPE_ARG)
			return fail_at(
			    p, f->instrs[i].line,
			    "no build stage in current context: %s before the first FROM",
			    recipe_cmd_name(f->instrs[i].cmd));
	}
	if (!seen_from)
		return fail_at(p, f->instrs[f->n_instrs - 1].line, "no FROM instruction in file");
	return 0;
}

static int parse_all(struct parser *p, struct recipe_file *f)
{
	struct recipe_instr in;

	while (p->next < p->n_lines) {
		struct line l = p->lines[p->next];
		unsigned start = (unsigned)++p->next;
		struct sbuf buf = SBUF_INIT;
		bool cont;
		int r;

		if (directive(p, &l, start) < 0)
			return -1;
		if (line_is_comment(&l))
			continue;
		while (l.len && is_blank(l.s[0])) {
			l.s++;
			l.len--;
		}
		cont = strip_continuation(p, &l);
		if (!cont && l.len == 0)
			continue;
		sbuf_add(&buf, l.s, l.len);
		while (cont && p->next < p->n_lines) {
			struct line c = p->lines[p->next++];

			if (line_is_comment(&c) || line_is_empty(&c))
				continue;
			cont = strip_continuation(p, &c);
			sbuf_add(&buf, c.s, c.len);
		}
		memset(&in, 0, sizeof(in));
		r = parse_line(p, buf.buf ? buf.buf : "", start, false, &in);
		if (r == 0 && !in.is_json &&
		    (in.cmd == RECIPE_RUN || in.cmd == RECIPE_COPY || in.cmd == RECIPE_ADD) &&
		    strstr(buf.buf ? buf.buf : "", "<<"))
			r = read_heredocs(p, &in, buf.buf);
		sbuf_release(&buf);
		if (r == 0)
			r = check_syntax(p, &in);
		if (r < 0) {
			recipe_instr_release(&in);
			return -1;
		}
		append_instr(f, &in);
	}
	return check_structure(p, f, (unsigned)p->n_lines);
}

int recipe_parse(const char *buf, size_t len, const char *name, struct recipe_file **out,
		 struct strata_error **err)
{
	struct parser p = {.name = name, .escape = '\\', .err = err};
	struct recipe_file *f;
	int r;

	if (len > RECIPE_FILE_MAX)
		return strata_fail_msg(err, EFBIG, "%s: file is larger than %u bytes", name,
				       RECIPE_FILE_MAX);
	if (memchr(buf, '\0', len)) {
		const char *z = memchr(buf, '\0', len);
		unsigned line = 1;

		for (const char *c = buf; c < z; c++)
			line += *c == '\n';
		return strata_fail_msg(err, EINVAL, "%s:%u: NUL byte in file", name, line);
	}
	split_lines(&p, buf, len);
	f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	r = parse_all(&p, f);
	f->escape = p.escape;
	free(p.lines);
	if (r < 0) {
		recipe_file_free(f);
		return -1;
	}
	*out = f;
	return 0;
}

int recipe_parse_path(const char *path, struct recipe_file **out, struct strata_error **err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0;
	int r;

	if (strcmp(path, "-") == 0) {
		r = file_read_fd(STDIN_FILENO, RECIPE_FILE_MAX, &buf, &len, err);
		if (r < 0)
			return strata_wrap(err, "read recipe from stdin");
		return recipe_parse(buf, len, "-", out, err);
	}
	r = file_read_at(AT_FDCWD, path, RECIPE_FILE_MAX, &buf, &len, err);
	if (r < 0)
		return strata_wrap(err, "read recipe '%s'", path);
	return recipe_parse(buf, len, path, out, err);
}

int recipe_parse_trigger(const char *text, const char *what, struct recipe_instr **out,
			 struct strata_error **err)
{
	struct parser p = {.name = what, .escape = '\\', .directives_done = true, .err = err};
	struct recipe_instr *in = xcalloc(1, sizeof(*in));

	if (strchr(text, '\n') || strchr(text, '\r')) {
		free(in);
		return strata_fail_msg(err, EINVAL, "%s:1: trigger spans several lines", what);
	}
	if (parse_line(&p, text, 1, true, in) < 0 || check_syntax(&p, in) < 0) {
		recipe_instr_free(in);
		return -1;
	}
	*out = in;
	return 0;
}

void recipe_file_free(struct recipe_file *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n_instrs; i++)
		recipe_instr_release(&f->instrs[i]);
	free(f->instrs);
	free(f->name);
	free(f);
}
