/*
 * Variable substitution and word splitting as Docker's shell lexer does it
 * (moby/buildkit frontend/dockerfile/shell/lex.go): this is not a shell, only
 * what the builder itself expands in FROM, COPY, ENV and the like. RUN's
 * text goes to the real shell unexpanded.
 */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "recipe/recipe-int.h"

/* Deep ${a:-${b:-...}} nesting is refused rather than recursed into without end. */
#define MAX_DEPTH 64

/* The words being built (ProcessWords): unquoted whitespace ends one. */
struct words {
	char **v;
	struct sbuf w;
	bool in_word;
};

struct lexer {
	const char *s;
	size_t pos, len;
	char esc;
	const struct recipe_vars *vars; /* NULL: syntax only */
	bool heredoc; /* quotes are literal; escapes only before $, esc, newline */
	bool glob;    /* an escaped glob character stays escaped ('\\') for the matcher */
	int depth;
	struct strata_error **err;
};

static void words_add_char(struct words *w, char ch)
{
	if (!w)
		return;
	if (isspace((unsigned char)ch)) {
		if (w->in_word) {
			strv_append(&w->v, w->w.buf ? w->w.buf : "");
			sbuf_release(&w->w);
			w->in_word = false;
		}
		return;
	}
	sbuf_add(&w->w, &ch, 1);
	w->in_word = true;
}

static void words_add_raw(struct words *w, const char *s, size_t n)
{
	if (!w)
		return;
	sbuf_add(&w->w, s, n);
	w->in_word = true;
}

static void words_add_string(struct words *w, const char *s)
{
	for (; w && *s; s++)
		words_add_char(w, *s);
}

const char *recipe_vars_get(const struct recipe_vars *v, const char *key, bool *is_set)
{
	size_t klen = strlen(key);
	char *const *lists[2] = {v ? v->env : NULL, v ? v->args : NULL};

	for (size_t l = 0; l < 2; l++) {
		for (size_t i = 0; lists[l] && lists[l][i]; i++) {
			const char *e = lists[l][i];

			if (strncmp(e, key, klen) != 0)
				continue;
			if (e[klen] == '=') {
				*is_set = true;
				return e + klen + 1;
			}
			/* A declared ARG without a value hides nothing in env, but is unset. */
			if (e[klen] == '\0' && l == 1) {
				*is_set = false;
				return "";
			}
		}
	}
	*is_set = false;
	return "";
}

void recipe_vars_set(char ***list, const char *key, const char *value)
{
	size_t klen = strlen(key);
	char *kv = value ? xasprintf("%s=%s", key, value) : xstrdup(key);

	for (size_t i = 0; *list && (*list)[i]; i++) {
		char *e = (*list)[i];

		if (strncmp(e, key, klen) == 0 && (e[klen] == '=' || e[klen] == '\0')) {
			free(e);
			(*list)[i] = kv;
			return;
		}
	}
	strv_append(list, kv);
	free(kv);
}

void recipe_vars_release(struct recipe_vars *v)
{
	strv_free(v->env);
	strv_free(v->args);
	v->env = v->args = NULL;
}

void recipe_vars_copy(struct recipe_vars *out, const struct recipe_vars *v)
{
	out->env = v->env ? strv_dup(v->env) : xcalloc(1, sizeof(char *));
	out->args = v->args ? strv_dup(v->args) : xcalloc(1, sizeof(char *));
}

static int lex_fail(struct lexer *lx, const char *msg)
{
	return strata_fail_msg(lx->err, EINVAL, "%s", msg);
}

static bool at_end(const struct lexer *lx)
{
	return lx->pos >= lx->len;
}

static char peek(const struct lexer *lx)
{
	return at_end(lx) ? '\0' : lx->s[lx->pos];
}

static int process_stop_on(struct lexer *lx, char stop, struct sbuf *out, struct words *w);

static void process_name(struct lexer *lx, struct sbuf *name)
{
	char ch = peek(lx);

	if (at_end(lx))
		return;
	if (isdigit((unsigned char)ch)) {
		while (!at_end(lx) && isdigit((unsigned char)peek(lx)))
			sbuf_add(name, &lx->s[lx->pos++], 1);
		return;
	}
	if (strchr("@*#?-$!", ch)) {
		sbuf_add(name, &lx->s[lx->pos++], 1);
		return;
	}
	while (!at_end(lx)) {
		ch = peek(lx);
		if (!isalnum((unsigned char)ch) && ch != '_')
			break;
		sbuf_add(name, &ch, 1);
		lx->pos++;
	}
}

static const char *lookup(struct lexer *lx, const char *name, bool *is_set)
{
	if (!lx->vars) {
		/* Syntax only: pretend every variable is set and non-empty. */
		*is_set = true;
		return "x";
	}
	return recipe_vars_get(lx->vars, name, is_set);
}

/*
 * A shell pattern ('*', '?', "[...]" with '!' or '^', '\\' quoting) as a
 * POSIX extended regular expression, anchored at both ends when @whole.
 * regexec's leftmost-longest match is the shell's, in time polynomial in
 * the value where fnmatch backtracks exponentially on many stars.
 */
static char *pattern_regex(const char *pat, bool whole)
{
	struct sbuf re = SBUF_INIT;

	sbuf_addstr(&re, whole ? "^(" : "(");
	for (const char *p = pat; *p; p++) {
		if (*p == '*') {
			sbuf_addstr(&re, ".*");
		} else if (*p == '?') {
			sbuf_addstr(&re, ".");
		} else if (*p == '[') {
			const char *q = p + 1;

			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']')
				q++;
			if (!*q) {
				sbuf_addstr(&re, "\\[");
				continue;
			}
			sbuf_addstr(&re, "[");
			p++;
			if (*p == '!' || *p == '^') {
				sbuf_addstr(&re, "^");
				p++;
			}
			for (; p < q; p++)
				sbuf_add(&re, p, 1);
			sbuf_addstr(&re, "]");
		} else {
			char c = *p == '\\' && p[1] ? *++p : *p;

			if (strchr(".[]()*+?{}|^$\\", c))
				sbuf_addstr(&re, "\\");
			sbuf_add(&re, &c, 1);
		}
	}
	sbuf_addstr(&re, whole ? ")$" : ")");
	return sbuf_detach(&re, NULL);
}

/*
 * ${v#pat} ${v##pat} ${v%pat} ${v%%pat}: @value without its shortest (or,
 * @greedy, longest) prefix (or suffix, @suffix) matching the shell pattern
 * @pat, as a POSIX shell and buildkit's lexer do.
 */
static void trim_pattern(const char *value, const char *pat, bool suffix, bool greedy,
			 struct sbuf *out)
{
	size_t len = strlen(value);
	char *buf = xstrdup(value);
	cleanup_free char *rx = pattern_regex(pat, true);
	regex_t re;

	if (regcomp(&re, rx, REG_EXTENDED | REG_NOSUB) != 0) {
		sbuf_addstr(out, value);
		free(buf);
		return;
	}
	for (size_t k = 0; k <= len; k++) {
		/* the candidate length: growing for the shortest, shrinking for the longest */
		size_t n = greedy ? len - k : k;
		int m;

		if (suffix) {
			m = regexec(&re, buf + (len - n), 0, NULL, 0);
		} else {
			char c = buf[n];

			buf[n] = '\0';
			m = regexec(&re, buf, 0, NULL, 0);
			buf[n] = c;
		}
		if (m == 0) {
			if (suffix)
				sbuf_add(out, value, len - n);
			else
				sbuf_addstr(out, value + n);
			regfree(&re);
			free(buf);
			return;
		}
	}
	sbuf_addstr(out, value);
	regfree(&re);
	free(buf);
}

/*
 * ${v/pat/repl} and ${v//pat/repl}: the first (@all: every) longest match
 * of the shell pattern @pat, leftmost first, replaced by @repl, as bash
 * (an empty match replaces nothing).
 */
static void replace_pattern(const char *value, const char *pat, const char *repl, bool all,
			    struct sbuf *out)
{
	size_t len = strlen(value), i = 0;
	cleanup_free char *rx = pattern_regex(pat, false);
	bool done = !*pat;
	regex_t re;

	if (!done && regcomp(&re, rx, REG_EXTENDED) != 0) {
		sbuf_addstr(out, value);
		return;
	}
	while (i < len) {
		regmatch_t m[1];

		if (done || regexec(&re, value + i, 1, m, i ? REG_NOTBOL : 0) != 0) {
			sbuf_addstr(out, value + i);
			break;
		}
		sbuf_add(out, value + i, (size_t)m[0].rm_so);
		if (m[0].rm_eo > m[0].rm_so) {
			sbuf_addstr(out, repl);
			i += (size_t)m[0].rm_eo;
			done = !all;
		} else {
			/* an empty match: the next character stays, the search goes on after it */
			if (i + (size_t)m[0].rm_so < len)
				sbuf_add(out, value + i + m[0].rm_so, 1);
			i += (size_t)m[0].rm_so + 1;
		}
	}
	if (*pat)
		regfree(&re);
}

/* After '$': a name, or ${...} with its modifiers. Appends the value to @out. */
static int process_dollar(struct lexer *lx, struct sbuf *out)
{
	struct sbuf name = SBUF_INIT;
	struct sbuf word = SBUF_INIT;
	const char *value;
	bool is_set;
	char ch, mod;
	int ret = -1;

	lx->pos++; /* '$' */
	if (peek(lx) != '{' || at_end(lx)) {
		process_name(lx, &name);
		if (!name.len) {
			sbuf_addstr(out, "$");
			return 0;
		}
		sbuf_addstr(out, lookup(lx, name.buf, &is_set));
		sbuf_release(&name);
		return 0;
	}
	lx->pos++; /* '{' */
	if (at_end(lx))
		return lex_fail(lx, "syntax error: missing '}'");
	ch = peek(lx);
	if (ch == '{' || ch == '}' || ch == ':')
		return lex_fail(lx, "syntax error: bad substitution");
	process_name(lx, &name);
	if (!name.len) {
		/* Docker reads an empty name here and then fails on the modifier. */
		sbuf_addstr(&name, "");
	}
	if (at_end(lx)) {
		sbuf_release(&name);
		return lex_fail(lx, "syntax error: missing '}'");
	}
	if (++lx->depth > MAX_DEPTH) {
		sbuf_release(&name);
		return lex_fail(lx, "syntax error: substitution nested too deeply");
	}
	ch = lx->s[lx->pos++];
	value = lookup(lx, name.buf ? name.buf : "", &is_set);
	switch (ch) {
	case '}':
		sbuf_addstr(out, value);
		ret = 0;
		break;
	case '?':
	case '+':
	case '-':
		if (process_stop_on(lx, '}', &word, NULL) < 0)
			break;
		if (ch == '?') {
			if (!is_set && lx->vars) {
				strata_fail_msg(lx->err, EINVAL, "%s: %s", name.buf ? name.buf : "",
						word.len ? word.buf : "is not allowed to be unset");
				break;
			}
			sbuf_addstr(out, value);
		} else if (ch == '+') {
			sbuf_addstr(out, is_set ? (word.buf ? word.buf : "") : "");
		} else {
			sbuf_addstr(out, is_set ? value : (word.buf ? word.buf : ""));
		}
		ret = 0;
		break;
	case '#':
	case '%': {
		bool greedy = !at_end(lx) && peek(lx) == ch;

		if (greedy)
			lx->pos++;
		if (process_stop_on(lx, '}', &word, NULL) < 0)
			break;
		trim_pattern(value, word.buf ? word.buf : "", ch == '%', greedy, out);
		ret = 0;
		break;
	}
	case '/': {
		bool all = !at_end(lx) && peek(lx) == '/';
		struct sbuf repl = SBUF_INIT;
		size_t start;

		if (all)
			lx->pos++;
		/* the pattern ends at the next '/' of this ${}: none is a syntax error */
		start = lx->pos;
		while (!at_end(lx) && peek(lx) != '/' && peek(lx) != '}')
			lx->pos++;
		if (at_end(lx) || peek(lx) != '/') {
			lex_fail(lx, "syntax error: missing '/' in ${}");
			break;
		}
		lx->pos = start;
		if (process_stop_on(lx, '/', &word, NULL) < 0 ||
		    process_stop_on(lx, '}', &repl, NULL) < 0) {
			sbuf_release(&repl);
			break;
		}
		replace_pattern(value, word.buf ? word.buf : "", repl.buf ? repl.buf : "", all,
				out);
		sbuf_release(&repl);
		ret = 0;
		break;
	}
	case ':':
		if (at_end(lx)) {
			lex_fail(lx, "syntax error: missing '}'");
			break;
		}
		mod = lx->s[lx->pos++];
		if (mod != '+' && mod != '-' && mod != '?') {
			strata_fail_msg(lx->err, EINVAL,
					"unsupported modifier (%c) in substitution",
					isprint((unsigned char)mod) ? mod : '?');
			break;
		}
		if (process_stop_on(lx, '}', &word, NULL) < 0)
			break;
		if (mod == '+') {
			sbuf_addstr(out, *value ? (word.buf ? word.buf : "") : "");
		} else if (mod == '-') {
			sbuf_addstr(out, *value ? value : (word.buf ? word.buf : ""));
		} else {
			if (lx->vars && (!is_set || !*value)) {
				strata_fail_msg(lx->err, EINVAL, "%s: %s", name.buf ? name.buf : "",
						word.len ? word.buf
						: is_set ? "is not allowed to be empty"
							 : "is not allowed to be unset");
				break;
			}
			sbuf_addstr(out, value);
		}
		ret = 0;
		break;
	default:
		strata_fail_msg(lx->err, EINVAL, "unsupported modifier (%c) in substitution",
				isprint((unsigned char)ch) ? ch : '?');
		break;
	}
	lx->depth--;
	sbuf_release(&name);
	sbuf_release(&word);
	return ret;
}

static int process_single_quote(struct lexer *lx, struct sbuf *out)
{
	lx->pos++;
	for (;;) {
		if (at_end(lx))
			return lex_fail(
			    lx,
			    "unexpected end of statement while looking for matching single-quote");
		if (lx->s[lx->pos] == '\'') {
			lx->pos++;
			return 0;
		}
		sbuf_add(out, &lx->s[lx->pos++], 1);
	}
}

static int process_double_quote(struct lexer *lx, struct sbuf *out)
{
	lx->pos++;
	for (;;) {
		char ch;

		if (at_end(lx))
			return lex_fail(
			    lx,
			    "unexpected end of statement while looking for matching double-quote");
		ch = peek(lx);
		if (ch == '"') {
			lx->pos++;
			return 0;
		}
		if (ch == '$') {
			if (process_dollar(lx, out) < 0)
				return -1;
			continue;
		}
		lx->pos++;
		if (ch == lx->esc) {
			char next = peek(lx);

			if (at_end(lx))
				continue; /* an escape at the very end is dropped */
			if (next == '"' || next == '$' || next == lx->esc)
				ch = lx->s[lx->pos++];
		}
		sbuf_add(out, &ch, 1);
	}
}

/*
 * The main loop: processes until @stop (consumed) or the end. @w, when not
 * NULL, collects the words as well.
 */
static int process_stop_on(struct lexer *lx, char stop, struct sbuf *out, struct words *w)
{
	while (!at_end(lx)) {
		char ch = peek(lx);

		if (stop && ch == stop) {
			lx->pos++;
			return 0;
		}
		if (ch == '$') {
			struct sbuf tmp = SBUF_INIT;

			if (process_dollar(lx, &tmp) < 0) {
				sbuf_release(&tmp);
				return -1;
			}
			if (tmp.len) {
				sbuf_add(out, tmp.buf, tmp.len);
				words_add_string(w, tmp.buf);
			}
			sbuf_release(&tmp);
			continue;
		}
		if (!lx->heredoc && (ch == '\'' || ch == '"')) {
			struct sbuf tmp = SBUF_INIT;
			int r = ch == '\'' ? process_single_quote(lx, &tmp)
					   : process_double_quote(lx, &tmp);

			if (r < 0) {
				sbuf_release(&tmp);
				return -1;
			}
			sbuf_add(out, tmp.buf ? tmp.buf : "", tmp.len);
			words_add_raw(w, tmp.buf ? tmp.buf : "", tmp.len);
			sbuf_release(&tmp);
			continue;
		}
		lx->pos++;
		if (ch == lx->esc) {
			if (at_end(lx))
				break; /* Docker drops an escape at the end of a word */
			if (lx->heredoc) {
				char next = peek(lx);

				if (next == '$' || next == lx->esc) {
					ch = lx->s[lx->pos++];
				} else if (next == '\n') {
					lx->pos++;
					continue;
				}
				sbuf_add(out, &ch, 1);
				continue;
			}
			ch = lx->s[lx->pos++];
			if (lx->glob && strchr("*?[]\\", ch))
				sbuf_add(out, "\\", 1);
			sbuf_add(out, &ch, 1);
			words_add_raw(w, &ch, 1);
			continue;
		}
		sbuf_add(out, &ch, 1);
		words_add_char(w, ch);
	}
	if (stop) {
		if (stop == '}')
			return lex_fail(lx, "syntax error: missing '}'");
		return strata_fail_msg(lx->err, EINVAL,
				       "unexpected end of statement while looking for matching %c",
				       stop);
	}
	return 0;
}

static int run_lexer(const char *word, char escape, const struct recipe_vars *vars, bool heredoc,
		     struct sbuf *out, struct words *w, struct strata_error **err)
{
	struct lexer lx = {.s = word,
			   .len = strlen(word),
			   .esc = escape,
			   .vars = vars,
			   .heredoc = heredoc,
			   .err = err};

	return process_stop_on(&lx, 0, out, w);
}

char *recipe_expand_word(const char *word, char escape, const struct recipe_vars *vars,
			 struct strata_error **err)
{
	struct sbuf out = SBUF_INIT;

	if (run_lexer(word, escape, vars, false, &out, NULL, err) < 0) {
		sbuf_release(&out);
		return NULL;
	}
	return sbuf_detach(&out, NULL);
}

char *recipe_expand_glob_word(const char *word, char escape, const struct recipe_vars *vars,
			      struct strata_error **err)
{
	struct sbuf out = SBUF_INIT;
	struct lexer lx = {.s = word,
			   .len = strlen(word),
			   .esc = escape,
			   .vars = vars,
			   .glob = true,
			   .err = err};

	if (process_stop_on(&lx, 0, &out, NULL) < 0) {
		sbuf_release(&out);
		return NULL;
	}
	return sbuf_detach(&out, NULL);
}

char **recipe_expand_words(const char *word, char escape, const struct recipe_vars *vars,
			   struct strata_error **err)
{
	struct sbuf out = SBUF_INIT;
	struct words w = {xcalloc(1, sizeof(char *)), SBUF_INIT, false};

	if (run_lexer(word, escape, vars, false, &out, &w, err) < 0) {
		sbuf_release(&out);
		sbuf_release(&w.w);
		strv_free(w.v);
		return NULL;
	}
	if (w.in_word)
		strv_append(&w.v, w.w.buf ? w.w.buf : "");
	sbuf_release(&w.w);
	sbuf_release(&out);
	return w.v;
}

char *recipe_expand_heredoc(const char *text, char escape, const struct recipe_vars *vars,
			    struct strata_error **err)
{
	struct sbuf out = SBUF_INIT;

	if (run_lexer(text, escape, vars, true, &out, NULL, err) < 0) {
		sbuf_release(&out);
		return NULL;
	}
	return sbuf_detach(&out, NULL);
}

/*
 * Splits @rest into words at unquoted whitespace, keeping quotes and escapes
 * in the words (buildkit's parseWords, used for ENV, LABEL and ARG).
 */
char **recipe_split_words(const char *rest, char escape)
{
	char **words = xcalloc(1, sizeof(char *));
	struct sbuf w = SBUF_INIT;
	bool in_word = false, in_quote = false, blank_ok = false;
	char quote = 0;
	size_t len = strlen(rest);

	for (size_t pos = 0; pos < len; pos++) {
		char ch = rest[pos];

		if (!in_word && !in_quote) {
			if (isspace((unsigned char)ch))
				continue;
			in_word = true;
		}
		if (in_word) {
			if (isspace((unsigned char)ch)) {
				if (blank_ok || w.len)
					strv_append(&words, w.buf ? w.buf : "");
				sbuf_release(&w);
				in_word = false;
				blank_ok = false;
				continue;
			}
			if (ch == '\'' || ch == '"') {
				quote = ch;
				blank_ok = true;
				in_word = false;
				in_quote = true;
			}
			if (ch == escape && !in_quote) {
				if (pos + 1 == len)
					continue;
				sbuf_add(&w, &ch, 1);
				ch = rest[++pos];
			}
			sbuf_add(&w, &ch, 1);
			continue;
		}
		/* in a quote */
		if (ch == quote) {
			in_quote = false;
			in_word = true;
		} else if (ch == escape && quote != '\'') {
			if (pos + 1 == len) {
				in_quote = false;
				in_word = true;
				continue;
			}
			sbuf_add(&w, &ch, 1);
			ch = rest[++pos];
		}
		sbuf_add(&w, &ch, 1);
	}
	if ((in_word || in_quote) && (blank_ok || w.len))
		strv_append(&words, w.buf ? w.buf : "");
	sbuf_release(&w);
	return words;
}
