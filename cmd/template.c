/*
 * A Go text/template subset on JSON values (template.h); its values and
 * functions are in template-funcs.c. The text is cut
 * into text and actions ({{...}}), each action into tokens, and the
 * tokens parsed into a tree of nodes that is executed once per row: the
 * parse costs once per command, a row costs only its own evaluation.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd-int.h"
#include "cmd/template.h"

/* ---- the tree ---- */

enum arg_kind { ARG_DOT, ARG_FIELD, ARG_VAR, ARG_LIT, ARG_FUNC, ARG_PIPE };

struct tfunc;
struct tpipe;

struct targ {
	enum arg_kind kind;
	char **chain; /* field names after the operand (.A.B), NULL-terminated */
	char *var;    /* ARG_VAR: "$" or "$name" */
	json_t *lit;
	const struct tfunc *fn;
	struct tpipe *pipe; /* ARG_PIPE: (pipeline) */
};

struct tcmd {
	struct targ *args;
	size_t n;
};

struct tpipe {
	char *vars[2]; /* $x := or $k, $v := (range) */
	int nvars;
	struct tcmd *cmds;
	size_t n;
};

enum node_kind { NODE_TEXT, NODE_ACTION, NODE_IF, NODE_RANGE, NODE_WITH };

struct tnode;

struct tlist {
	struct tnode **v;
	size_t n, cap;
};

struct tnode {
	enum node_kind kind;
	char *text; /* NODE_TEXT */
	size_t len;
	struct tpipe *pipe;
	struct tlist body, alt; /* alt: the else branch (an "else if" is an NODE_IF in it) */
};

struct cmd_template {
	struct tlist root;
	bool table;
};

/* ---- freeing ---- */

static void pipe_free(struct tpipe *p);

static void arg_release(struct targ *a)
{
	strv_free(a->chain);
	free(a->var);
	if (a->lit)
		json_decref(a->lit);
	pipe_free(a->pipe);
}

static void pipe_free(struct tpipe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		for (size_t k = 0; k < p->cmds[i].n; k++)
			arg_release(&p->cmds[i].args[k]);
		free(p->cmds[i].args);
	}
	free(p->cmds);
	free(p->vars[0]);
	free(p->vars[1]);
	free(p);
}

static void list_release(struct tlist *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct tnode *nd = l->v[i];

		free(nd->text);
		pipe_free(nd->pipe);
		list_release(&nd->body);
		list_release(&nd->alt);
		free(nd);
	}
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

void cmd_template_free(struct cmd_template *t)
{
	if (!t)
		return;
	list_release(&t->root);
	free(t);
}

bool cmd_template_is_table(const struct cmd_template *t)
{
	return t->table;
}

static void list_add(struct tlist *l, struct tnode *nd)
{
	l->v = xgrow(l->v, &l->cap, l->n, sizeof(*l->v));
	l->v[l->n++] = nd;
}

/* ---- execution state ---- */

struct tvar {
	const char *name; /* borrowed from the tree (or "$") */
	json_t *value;
};

struct texec {
	const json_t *root;
	struct sbuf *out;
	struct tvar *vars; /* inline_vars until more are needed: a row allocates none */
	size_t nvars, cap;
	struct tvar inline_vars[8];
	/* header mode: fields print their header */
	bool header;
	const json_t *fields, *headers;
};

static void vars_push(struct texec *x, const char *name, json_t *v)
{
	if (!x->vars) {
		x->vars = x->inline_vars;
		x->cap = ARRAY_SIZE(x->inline_vars);
	}
	if (x->nvars == x->cap) {
		struct tvar *nv = xcalloc(x->cap * 2, sizeof(*nv));

		memcpy(nv, x->vars, x->nvars * sizeof(*nv));
		if (x->vars != x->inline_vars)
			free(x->vars);
		x->vars = nv;
		x->cap *= 2;
	}
	x->vars[x->nvars].name = name;
	x->vars[x->nvars].value = v ? json_incref(v) : NULL;
	x->nvars++;
}

static void vars_pop_to(struct texec *x, size_t n)
{
	while (x->nvars > n) {
		x->nvars--;
		if (x->vars[x->nvars].value)
			json_decref(x->vars[x->nvars].value);
	}
}

/* ---- lexing an action ---- */

enum tok_kind {
	TOK_EOF,
	TOK_FIELD,  /* .A.B (text from the first dot) */
	TOK_DOT,    /* . */
	TOK_VAR,    /* $x.A (text from the dollar) */
	TOK_IDENT,  /* a function or keyword */
	TOK_STRING, /* "..." or `...` (value decoded) */
	TOK_NUMBER,
	TOK_PIPE,
	TOK_LPAREN,
	TOK_RPAREN,
	TOK_DECLARE, /* := */
	TOK_ASSIGN,  /* = */
	TOK_COMMA,
};

struct tok {
	enum tok_kind kind;
	char *text;
	size_t len;
	bool glued; /* no space before it (a field chain after ")") */
};

/*
 * Nesting of parentheses, and of if, range and with, that a template may
 * have: as Go's text/template (its maxStackDepth); past it parsing and
 * running recurse deep enough to overflow the stack.
 */
#define TEMPLATE_DEPTH_MAX 10000
/* The largest string a function may make. */
#define TEMPLATE_VALUE_MAX (16 << 20)

struct lexer {
	struct tok *v;
	size_t n, cap, pos;
	unsigned depth; /* of parentheses, against TEMPLATE_DEPTH_MAX */
};

static void lexer_release(struct lexer *lx)
{
	for (size_t i = 0; i < lx->n; i++)
		free(lx->v[i].text);
	free(lx->v);
}

static void tok_add(struct lexer *lx, enum tok_kind k, const char *s, size_t len, bool glued)
{
	lx->v = xgrow(lx->v, &lx->cap, lx->n, sizeof(*lx->v));
	lx->v[lx->n].kind = k;
	lx->v[lx->n].text = xstrndup(s, len);
	lx->v[lx->n].len = len;
	lx->v[lx->n].glued = glued;
	lx->n++;
}

/* Decodes a Go string literal at @p (quoted or raw) into @b; the length taken, or 0 if bad. */
static size_t lex_string(const char *p, const char *end, struct sbuf *b)
{
	const char *q = p + 1;

	if (*p == '`') {
		while (q < end && *q != '`')
			q++;
		if (q >= end)
			return 0;
		sbuf_add(b, p + 1, (size_t)(q - p - 1));
		return (size_t)(q + 1 - p);
	}
	for (; q < end && *q != '"'; q++) {
		if (*q == '\n')
			return 0;
		if (*q != '\\') {
			sbuf_add(b, q, 1);
			continue;
		}
		if (++q >= end)
			return 0;
		switch (*q) {
		case 'n': sbuf_addstr(b, "\n"); break;
		case 't': sbuf_addstr(b, "\t"); break;
		case 'r': sbuf_addstr(b, "\r"); break;
		case '\\': sbuf_addstr(b, "\\"); break;
		case '"': sbuf_addstr(b, "\""); break;
		case '\'': sbuf_addstr(b, "'"); break;
		case 'x':
			if (end - q < 3 || !isxdigit((unsigned char)q[1]) || !isxdigit((unsigned char)q[2]))
				return 0;
			{
				char hex[3] = { q[1], q[2], 0 };
				char c = (char)strtol(hex, NULL, 16);

				sbuf_add(b, &c, 1);
			}
			q += 2;
			break;
		default:
			return 0;
		}
	}
	if (q >= end)
		return 0;
	return (size_t)(q + 1 - p);
}

static bool is_ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* Cuts the text of one action into tokens; -1 with *err on a character that is none. */
static int lex_action(const char *p, const char *end, struct lexer *lx, struct strata_error **err)
{
	bool glued = false;

	while (p < end) {
		const char *s = p;

		if (isspace((unsigned char)*p)) {
			p++;
			glued = false;
			continue;
		}
		if (*p == '.' && (p + 1 >= end || !is_ident_char(p[1]))) {
			tok_add(lx, TOK_DOT, p, 1, glued);
			p++;
		} else if (*p == '.' || *p == '$') {
			p++;
			while (p < end && (is_ident_char(*p) || (*p == '.' && p + 1 < end &&
								 is_ident_char(p[1]))))
				p++;
			tok_add(lx, *s == '.' ? TOK_FIELD : TOK_VAR, s, (size_t)(p - s), glued);
		} else if (*p == '"' || *p == '`') {
			struct sbuf b = SBUF_INIT;
			size_t n = lex_string(p, end, &b);

			if (!n) {
				sbuf_release(&b);
				return strata_fail_msg(err, EINVAL, "unterminated or bad string %.*s",
						   (int)(end - p), p);
			}
			tok_add(lx, TOK_STRING, b.buf ? b.buf : "", b.len, glued);
			sbuf_release(&b);
			p += n;
		} else if (isdigit((unsigned char)*p) ||
			   ((*p == '-' || *p == '+') && p + 1 < end && isdigit((unsigned char)p[1]))) {
			p++;
			while (p < end && (isalnum((unsigned char)*p) || *p == '.'))
				p++;
			tok_add(lx, TOK_NUMBER, s, (size_t)(p - s), glued);
		} else if (isalpha((unsigned char)*p) || *p == '_') {
			while (p < end && is_ident_char(*p))
				p++;
			tok_add(lx, TOK_IDENT, s, (size_t)(p - s), glued);
		} else if (*p == ':' && p + 1 < end && p[1] == '=') {
			tok_add(lx, TOK_DECLARE, p, 2, glued);
			p += 2;
		} else if (strchr("|()=,", *p)) {
			static const enum tok_kind k[] = { TOK_PIPE, TOK_LPAREN, TOK_RPAREN, TOK_ASSIGN,
							   TOK_COMMA };

			tok_add(lx, k[strchr("|()=,", *p) - "|()=,"], p, 1, glued);
			p++;
		} else {
			return strata_fail_msg(err, EINVAL, "unexpected '%c' in action", *p);
		}
		glued = true;
	}
	tok_add(lx, TOK_EOF, "", 0, false);
	return 0;
}

static const struct tok *peek(const struct lexer *lx)
{
	return &lx->v[lx->pos];
}

static const struct tok *next(struct lexer *lx)
{
	const struct tok *t = &lx->v[lx->pos];

	if (t->kind != TOK_EOF)
		lx->pos++;
	return t;
}

/* ---- parsing a pipeline ---- */

static struct tpipe *parse_pipe(struct lexer *lx, bool in_parens, bool is_range,
				struct strata_error **err);

/* ".A.B" (or "$x.A.B" past the variable) into a NULL-terminated list of names. */
static char **split_chain(const char *s)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *p = s;

	while (*p == '.') {
		const char *q = ++p;

		while (*q && *q != '.')
			q++;
		strv_append(&v, "");
		free(v[strv_len(v) - 1]);
		v[strv_len(v) - 1] = xstrndup(p, (size_t)(q - p));
		p = q;
	}
	return v;
}

static int parse_number(const struct tok *t, json_t **out, struct strata_error **err)
{
	char *end = NULL;
	long long n;
	double d;

	errno = 0;
	n = strtoll(t->text, &end, 0);
	if (!errno && end && !*end) {
		*out = json_integer(n);
		return 0;
	}
	d = strtod(t->text, &end);
	if (end && !*end) {
		*out = json_real(d);
		return 0;
	}
	return strata_fail_msg(err, EINVAL, "bad number syntax: %s", t->text);
}

/* One operand of a command into @a; -1 with *err. */
static int parse_operand(struct lexer *lx, struct targ *a, struct strata_error **err)
{
	const struct tok *t = next(lx);

	memset(a, 0, sizeof(*a));
	switch (t->kind) {
	case TOK_DOT:
		a->kind = ARG_DOT;
		break;
	case TOK_FIELD:
		a->kind = ARG_FIELD;
		a->chain = split_chain(t->text);
		break;
	case TOK_VAR: {
		const char *dot = strchr(t->text, '.');

		a->kind = ARG_VAR;
		a->var = dot ? xstrndup(t->text, (size_t)(dot - t->text)) : xstrdup(t->text);
		a->chain = split_chain(dot ? dot : "");
		break;
	}
	case TOK_STRING:
		a->kind = ARG_LIT;
		/* the bytes as written, UTF-8 or not */
		a->lit = json_stringn_nocheck(t->text, t->len);
		break;
	case TOK_NUMBER:
		a->kind = ARG_LIT;
		return parse_number(t, &a->lit, err);
	case TOK_IDENT:
		if (!strcmp(t->text, "true") || !strcmp(t->text, "false")) {
			a->kind = ARG_LIT;
			a->lit = json_boolean(!strcmp(t->text, "true"));
		} else if (!strcmp(t->text, "nil")) {
			a->kind = ARG_LIT;
			a->lit = json_null();
		} else if ((a->fn = cmd_template_func_find(t->text, t->len))) {
			a->kind = ARG_FUNC;
		} else {
			return strata_fail_msg(err, EINVAL, "function \"%s\" not defined", t->text);
		}
		break;
	case TOK_LPAREN:
		a->kind = ARG_PIPE;
		if (lx->depth >= TEMPLATE_DEPTH_MAX)
			return strata_fail_msg(err, EINVAL, "max expression depth exceeded");
		lx->depth++;
		a->pipe = parse_pipe(lx, true, false, err);
		lx->depth--;
		if (!a->pipe)
			return -1;
		if (next(lx)->kind != TOK_RPAREN)
			return strata_fail_msg(err, EINVAL, "unclosed left paren");
		if (peek(lx)->kind == TOK_FIELD && peek(lx)->glued)
			a->chain = split_chain(next(lx)->text);
		break;
	case TOK_EOF:
	case TOK_PIPE:
	case TOK_RPAREN:
	case TOK_DECLARE:
	case TOK_ASSIGN:
	case TOK_COMMA:
		return strata_fail_msg(err, EINVAL, "unexpected \"%s\" in operand", t->text);
	}
	return 0;
}

static bool ends_command(enum tok_kind k)
{
	return k == TOK_EOF || k == TOK_PIPE || k == TOK_RPAREN;
}

static int parse_command(struct lexer *lx, struct tcmd *c, struct strata_error **err)
{
	while (!ends_command(peek(lx)->kind)) {
		c->args = xrealloc(c->args, (c->n + 1) * sizeof(*c->args));
		c->n++;
		if (parse_operand(lx, &c->args[c->n - 1], err) < 0)
			return -1;
	}
	if (!c->n)
		return strata_fail_msg(err, EINVAL, "missing value for command");
	if (c->args[0].kind != ARG_FUNC && c->n > 1)
		return strata_fail_msg(err, EINVAL, "can't give argument to non-function %s",
				   c->args[0].kind == ARG_FIELD ? c->args[0].chain[0] : "value");
	return 0;
}

/* "$x :=", "$k, $v :=" (range only) at the start of a pipeline. */
static int parse_decl(struct lexer *lx, struct tpipe *p, bool is_range, struct strata_error **err)
{
	size_t save = lx->pos;

	while (peek(lx)->kind == TOK_VAR && !strchr(peek(lx)->text, '.') && p->nvars < 2) {
		p->vars[p->nvars++] = xstrdup(next(lx)->text);
		if (peek(lx)->kind == TOK_COMMA && is_range && p->nvars == 1) {
			next(lx);
			continue;
		}
		break;
	}
	if (p->nvars && (peek(lx)->kind == TOK_DECLARE || peek(lx)->kind == TOK_ASSIGN)) {
		next(lx);
		return 0;
	}
	if (p->nvars == 2)
		return strata_fail_msg(err, EINVAL, "too many declarations");
	/* not a declaration: a pipeline starting with a variable */
	free(p->vars[0]);
	free(p->vars[1]);
	p->vars[0] = p->vars[1] = NULL;
	p->nvars = 0;
	lx->pos = save;
	return 0;
}

static struct tpipe *parse_pipe(struct lexer *lx, bool in_parens, bool is_range,
				struct strata_error **err)
{
	struct tpipe *p = xcalloc(1, sizeof(*p));

	if (parse_decl(lx, p, is_range, err) < 0)
		goto fail;
	for (;;) {
		p->cmds = xrealloc(p->cmds, (p->n + 1) * sizeof(*p->cmds));
		memset(&p->cmds[p->n], 0, sizeof(p->cmds[p->n]));
		p->n++;
		if (parse_command(lx, &p->cmds[p->n - 1], err) < 0)
			goto fail;
		if (peek(lx)->kind != TOK_PIPE)
			break;
		next(lx);
	}
	if (!in_parens && peek(lx)->kind != TOK_EOF) {
		strata_fail_msg(err, EINVAL, "unexpected \"%s\" in command", peek(lx)->text);
		goto fail;
	}
	return p;
fail:
	pipe_free(p);
	return NULL;
}

/* ---- cutting the text into text and actions ---- */

struct item {
	bool action;
	const char *s; /* text, or the action's inside (trim markers and braces off) */
	size_t len;
	size_t line;
};

struct items {
	struct item *v;
	size_t n, cap, pos;
	unsigned depth; /* of if, range and with, against TEMPLATE_DEPTH_MAX */
};

/* The end of the action whose inside starts at @p: the "}}" outside strings; NULL if none. */
static const char *action_end(const char *p)
{
	for (; *p; p++) {
		if (*p == '"' || *p == '`' || *p == '\'') {
			char q = *p;

			for (p++; *p && *p != q; p++)
				if (*p == '\\' && q != '`' && p[1])
					p++;
			if (!*p)
				return NULL;
		} else if (p[0] == '}' && p[1] == '}') {
			return p;
		}
	}
	return NULL;
}

static size_t line_of(const char *start, const char *p)
{
	size_t n = 1;

	for (; start < p; start++)
		n += *start == '\n';
	return n;
}

static void items_add(struct items *it, bool action, const char *s, size_t len, size_t line)
{
	it->v = xgrow(it->v, &it->cap, it->n, sizeof(*it->v));
	it->v[it->n++] = (struct item){ action, s, len, line };
}

static int cut_items(const char *text, struct items *it, struct strata_error **err)
{
	const char *p = text;
	bool trim_next = false;

	while (*p) {
		const char *open = strstr(p, "{{");
		const char *in, *close, *inner_end;
		size_t tlen = open ? (size_t)(open - p) : strlen(p);

		if (trim_next)
			while (tlen && isspace((unsigned char)*p))
				p++, tlen--;
		if (!open) {
			items_add(it, false, p, tlen, 0);
			break;
		}
		in = open + 2;
		if (in[0] == '-' && isspace((unsigned char)in[1])) {
			while (tlen && isspace((unsigned char)p[tlen - 1]))
				tlen--;
			in += 2;
		}
		items_add(it, false, p, tlen, 0);
		if (!(close = action_end(in)))
			return strata_fail_msg(err, EINVAL, "%zu: unclosed action", line_of(text, open));
		inner_end = close;
		trim_next = close - in >= 2 && close[-1] == '-' && isspace((unsigned char)close[-2]);
		if (trim_next)
			inner_end -= 2;
		while (in < inner_end && isspace((unsigned char)*in))
			in++;
		/* comments: an action that is slash-star ... star-slash */
		if (!(inner_end - in >= 4 && !strncmp(in, "/*", 2) && !strncmp(inner_end - 2, "*/", 2)))
			items_add(it, true, in, (size_t)(inner_end - in), line_of(text, open));
		p = close + 2;
	}
	return 0;
}

/* ---- parsing the node tree ---- */

/* The keyword an action starts with (if, else, end, range, with), or "" for none. */
static const char *keyword(const struct item *i)
{
	static const char *const kw[] = { "if", "else", "end", "range", "with",
					  "define", "template", "block", "break", "continue" };

	for (size_t k = 0; k < ARRAY_SIZE(kw); k++) {
		size_t n = strlen(kw[k]);

		if (i->len >= n && !strncmp(i->s, kw[k], n) &&
		    (i->len == n || !is_ident_char(i->s[n])))
			return kw[k];
	}
	return "";
}

static int parse_list(struct items *it, struct tlist *l, const char **stop,
		      struct strata_error **err);

/* The pipeline of action @i after its keyword of @skip characters. */
static struct tpipe *item_pipe(const struct item *i, size_t skip, bool is_range,
			       struct strata_error **err)
{
	struct lexer lx = { 0 };
	struct tpipe *p = NULL;

	if (lex_action(i->s + skip, i->s + i->len, &lx, err) == 0)
		p = parse_pipe(&lx, false, is_range, err);
	lexer_release(&lx);
	if (!p)
		strata_wrap(err, "%zu", i->line);
	return p;
}

static int parse_control_in(struct items *it, const struct item *i, const char *kw,
			    struct tnode *nd, struct strata_error **err);

/* if/range/with at item @i, within TEMPLATE_DEPTH_MAX of them (the parser and the execution recurse). */
static int parse_control(struct items *it, const struct item *i, const char *kw, struct tnode *nd,
			 struct strata_error **err)
{
	int r;

	if (it->depth >= TEMPLATE_DEPTH_MAX)
		return strata_fail_msg(err, EINVAL, "%zu: max block depth exceeded", i->line);
	it->depth++;
	r = parse_control_in(it, i, kw, nd, err);
	it->depth--;
	return r;
}

/* if/range/with at item @i: its pipeline, body, and else branch up to its end. */
static int parse_control_in(struct items *it, const struct item *i, const char *kw,
			    struct tnode *nd, struct strata_error **err)
{
	const char *stop = NULL;

	nd->kind = !strcmp(kw, "if") ? NODE_IF : !strcmp(kw, "range") ? NODE_RANGE : NODE_WITH;
	if (!(nd->pipe = item_pipe(i, strlen(kw), nd->kind == NODE_RANGE, err)))
		return -1;
	if (parse_list(it, &nd->body, &stop, err) < 0)
		return -1;
	if (!strcmp(stop, "end"))
		return 0;
	if (strcmp(stop, "else"))
		return strata_fail_msg(err, EINVAL, "%zu: unexpected EOF: missing {{end}}", i->line);
	{
		const struct item *e = &it->v[it->pos - 1];
		size_t rest = 4;

		while (rest < e->len && isspace((unsigned char)e->s[rest]))
			rest++;
		/* {{else if ...}}: a nested if in the else branch that shares the end */
		if (rest < e->len && nd->kind == NODE_IF) {
			struct item sub = { true, e->s + rest, e->len - rest, e->line };
			struct tnode *inner = xcalloc(1, sizeof(*inner));

			list_add(&nd->alt, inner);
			if (strcmp(keyword(&sub), "if"))
				return strata_fail_msg(err, EINVAL, "%zu: unexpected %.*s after else",
						   e->line, (int)(e->len - rest), e->s + rest);
			return parse_control(it, &sub, "if", inner, err);
		}
		if (rest < e->len)
			return strata_fail_msg(err, EINVAL, "%zu: unexpected %.*s after else", e->line,
					   (int)(e->len - rest), e->s + rest);
	}
	if (parse_list(it, &nd->alt, &stop, err) < 0)
		return -1;
	if (strcmp(stop, "end"))
		return strata_fail_msg(err, EINVAL, "%zu: expected {{end}}", i->line);
	return 0;
}

/* Nodes until an {{end}} or {{else}} (named in *stop) or the end ("" in *stop). */
static int parse_list(struct items *it, struct tlist *l, const char **stop,
		      struct strata_error **err)
{
	*stop = "";
	while (it->pos < it->n) {
		const struct item *i = &it->v[it->pos++];
		const char *kw = i->action ? keyword(i) : "";
		struct tnode *nd;

		if (!strcmp(kw, "end") || !strcmp(kw, "else")) {
			*stop = kw;
			if (!strcmp(kw, "end") && i->len != 3)
				return strata_fail_msg(err, EINVAL, "%zu: unexpected %.*s in end", i->line,
						   (int)i->len, i->s);
			return 0;
		}
		if (*kw && strcmp(kw, "if") && strcmp(kw, "range") && strcmp(kw, "with"))
			return strata_fail_msg(err, EINVAL, "%zu: {{%s}} is not supported", i->line, kw);
		if (!i->action && !i->len)
			continue;
		nd = xcalloc(1, sizeof(*nd));
		list_add(l, nd);
		if (!i->action) {
			nd->kind = NODE_TEXT;
			nd->text = xstrndup(i->s, i->len);
			nd->len = i->len;
		} else if (*kw) {
			if (parse_control(it, i, kw, nd, err) < 0)
				return -1;
		} else {
			nd->kind = NODE_ACTION;
			if (!(nd->pipe = item_pipe(i, 0, false, err)))
				return -1;
		}
	}
	return 0;
}

/* podman's normalisation: the escapes \t and \n, "table " off, a final newline. */
static char *normalise(const char *text, bool *table)
{
	struct sbuf b = SBUF_INIT;
	const char *p = text;

	*table = false;
	if (str_has_prefix(p, "table") && (isspace((unsigned char)p[5]) || !p[5])) {
		*table = true;
		p += 5;
		while (*p == ' ')
			p++;
	}
	for (; *p; p++) {
		if (p[0] == '\\' && (p[1] == 't' || p[1] == 'n')) {
			sbuf_addstr(&b, p[1] == 't' ? "\t" : "\n");
			p++;
		} else {
			sbuf_add(&b, p, 1);
		}
	}
	if (!b.len || b.buf[b.len - 1] != '\n')
		sbuf_addstr(&b, "\n");
	return sbuf_detach(&b, NULL);
}

struct cmd_template *cmd_template_parse(const char *text, struct strata_error **err)
{
	struct cmd_template *t = xcalloc(1, sizeof(*t));
	cleanup_free char *norm = normalise(text, &t->table);
	struct items it = { 0 };
	const char *stop = "";
	int r;

	r = cut_items(norm, &it, err);
	if (r == 0)
		r = parse_list(&it, &t->root, &stop, err);
	if (r == 0 && *stop)
		r = strata_fail_msg(err, EINVAL, "%zu: unexpected {{%s}}", it.v[it.pos - 1].line, stop);
	free(it.v);
	if (r < 0) {
		strata_wrap(err, "template");
		cmd_template_free(t);
		return NULL;
	}
	/* Text nodes point into @norm, which goes: they were copied by parse_list. */
	return t;
}

/* ---- what a template reads ---- */

static bool pipe_uses(const struct tpipe *p, const char *name);

static bool arg_uses(const struct targ *a, const char *name)
{
	if (a->kind == ARG_DOT || (a->kind == ARG_VAR && !a->chain[0]))
		return true;
	if (a->kind == ARG_PIPE && pipe_uses(a->pipe, name))
		return true;
	return a->chain && strv_contains(a->chain, name);
}

static bool pipe_uses(const struct tpipe *p, const char *name)
{
	for (size_t i = 0; p && i < p->n; i++)
		for (size_t k = 0; k < p->cmds[i].n; k++)
			if (arg_uses(&p->cmds[i].args[k], name))
				return true;
	return false;
}

static bool list_uses(const struct tlist *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (pipe_uses(l->v[i]->pipe, name) || list_uses(&l->v[i]->body, name) ||
		    list_uses(&l->v[i]->alt, name))
			return true;
	return false;
}

bool cmd_template_uses(const struct cmd_template *t, const char *name)
{
	return list_uses(&t->root, name);
}

/* ---- execution ---- */

static int exec_list(struct texec *x, const struct tlist *l, json_t *dot,
		     struct strata_error **err);

/* A header: "CreatedAt" -> "CREATED AT", "ImageID" -> "IMAGE ID", as podman derives them. */
static char *header_of(const char *name)
{
	struct sbuf b = SBUF_INIT;

	for (const char *p = name; *p; p++) {
		bool up = isupper((unsigned char)*p);

		if (p > name && up &&
		    (islower((unsigned char)p[-1]) ||
		     (isupper((unsigned char)p[-1]) && p[1] && islower((unsigned char)p[1]))))
			sbuf_addstr(&b, " ");
		sbuf_addf(&b, "%c", toupper((unsigned char)*p));
	}
	return sbuf_detach(&b, NULL);
}

/* Follows @chain from @v; *out NULL for a missing key. @strict: @v is the row. */
static int walk(struct texec *x, json_t *v, char *const *chain, bool strict, json_t **out,
		struct strata_error **err)
{
	if (x->header && strict && chain && chain[0]) {
		const json_t *h = json_object_get(x->headers, chain[0]);

		if (!json_object_get(x->fields, chain[0]))
			return strata_fail_msg(err, EINVAL, "can't evaluate field %s", chain[0]);
		*out = h ? json_incref((json_t *)h) : cmd_template_string_owned(header_of(chain[0]));
		return 0;
	}
	for (size_t i = 0; chain && chain[i]; i++) {
		json_t *next_v;

		if (!v || json_is_null(v)) {
			v = NULL;
			break;
		}
		if (!json_is_object(v))
			return strata_fail_msg(err, EINVAL, "can't evaluate field %s in type %s", chain[i],
					   cmd_template_value_type(v));
		next_v = json_object_get(v, chain[i]);
		if (!next_v && strict && i == 0)
			return strata_fail_msg(err, EINVAL, "can't evaluate field %s", chain[i]);
		v = next_v;
	}
	*out = v ? json_incref(v) : NULL;
	return 0;
}

static int eval_pipe(struct texec *x, const struct tpipe *p, json_t *dot, json_t **out,
		     struct strata_error **err);

static int eval_arg(struct texec *x, const struct targ *a, json_t *dot, json_t **out,
		    struct strata_error **err);

static void decref_all(json_t **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i])
			json_decref(v[i]);
}

/* A function call: @a the function, @args its operands, @piped the last one (or NULL). */
static int call(struct texec *x, const struct targ *a, const struct targ *args, size_t nargs,
		json_t *piped, bool has_piped, json_t *dot, json_t **out, struct strata_error **err)
{
	size_t ac = nargs + (has_piped ? 1 : 0);
	json_t **av = xcalloc(ac + 1, sizeof(json_t *));
	int r = 0;

	for (size_t i = 0; i < nargs && r == 0; i++)
		r = eval_arg(x, &args[i], dot, &av[i], err);
	if (r == 0 && has_piped)
		av[nargs] = piped ? json_incref(piped) : NULL;
	if (r == 0 && ((int)ac < a->fn->min || (a->fn->max >= 0 && (int)ac > a->fn->max)))
		r = strata_fail_msg(err, EINVAL, "wrong number of args for %s: want %d got %zu",
				a->fn->name, a->fn->min, ac);
	if (r == 0)
		r = a->fn->fn(x, av, ac, out, err);
	/* a value doubled again and again ($a = printf "%s%s" $a $a) would fill the memory */
	if (r == 0 && *out && json_is_string(*out) && json_string_length(*out) > TEMPLATE_VALUE_MAX) {
		json_decref(*out);
		*out = NULL;
		r = strata_fail_msg(err, EFBIG, "%s: a value of more than %d MiB", a->fn->name,
				    TEMPLATE_VALUE_MAX >> 20);
	}
	decref_all(av, ac);
	free(av);
	return r;
}

static int eval_arg(struct texec *x, const struct targ *a, json_t *dot, json_t **out,
		    struct strata_error **err)
{
	json_t *base = NULL;
	int r;

	*out = NULL;
	switch (a->kind) {
	case ARG_DOT:
		*out = dot ? json_incref(dot) : NULL;
		return 0;
	case ARG_FIELD:
		return walk(x, dot, a->chain, dot == x->root, out, err);
	case ARG_LIT:
		*out = json_incref(a->lit);
		return 0;
	case ARG_FUNC:
		return call(x, a, NULL, 0, NULL, false, dot, out, err);
	case ARG_VAR:
		for (size_t i = x->nvars; i-- > 0;)
			if (!strcmp(x->vars[i].name, a->var)) {
				base = x->vars[i].value;
				return walk(x, base, a->chain, base == x->root, out, err);
			}
		return strata_fail_msg(err, EINVAL, "undefined variable: %s", a->var);
	case ARG_PIPE:
		if (eval_pipe(x, a->pipe, dot, &base, err) < 0)
			return -1;
		r = walk(x, base, a->chain, false, out, err);
		if (base)
			json_decref(base);
		return r;
	}
	return strata_fail_msg(err, EINVAL, "bad operand");
}

static int eval_pipe(struct texec *x, const struct tpipe *p, json_t *dot, json_t **out,
		     struct strata_error **err)
{
	json_t *v = NULL;

	for (size_t i = 0; i < p->n; i++) {
		const struct tcmd *c = &p->cmds[i];
		json_t *r = NULL;
		int ret;

		if (c->args[0].kind == ARG_FUNC)
			ret = call(x, &c->args[0], c->args + 1, c->n - 1, v, i > 0, dot, &r, err);
		else if (i > 0)
			ret = strata_fail_msg(err, EINVAL, "can't give argument to non-function");
		else
			ret = eval_arg(x, &c->args[0], dot, &r, err);
		if (v)
			json_decref(v);
		v = r;
		if (ret < 0) {
			if (v)
				json_decref(v);
			return -1;
		}
	}
	*out = v;
	return 0;
}

/* Evaluates @p (declaring its variable, if any); *out owned. */
static int eval_decl_pipe(struct texec *x, const struct tpipe *p, json_t *dot, json_t **out,
			  struct strata_error **err)
{
	if (eval_pipe(x, p, dot, out, err) < 0)
		return -1;
	if (p->nvars == 1)
		vars_push(x, p->vars[0], *out);
	return 0;
}

static int exec_range(struct texec *x, const struct tnode *nd, json_t *v,
		      struct strata_error **err)
{
	size_t mark = x->nvars, n = 0;
	int r = 0;

	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v) && r == 0; i++, n++) {
			json_t *e = json_array_get(v, i), *k = json_integer((json_int_t)i);

			if (nd->pipe->nvars == 2)
				vars_push(x, nd->pipe->vars[0], k);
			if (nd->pipe->nvars)
				vars_push(x, nd->pipe->vars[nd->pipe->nvars - 1], e);
			r = exec_list(x, &nd->body, e, err);
			json_decref(k);
			vars_pop_to(x, mark);
		}
	} else if (json_is_object(v)) {
		const char **keys = cmd_template_keys_sorted(v, &n);

		for (size_t i = 0; i < n && r == 0; i++) {
			json_t *e = json_object_get(v, keys[i]), *k = json_string(keys[i]);

			if (nd->pipe->nvars == 2)
				vars_push(x, nd->pipe->vars[0], k);
			if (nd->pipe->nvars)
				vars_push(x, nd->pipe->vars[nd->pipe->nvars - 1], e);
			r = exec_list(x, &nd->body, e, err);
			json_decref(k);
			vars_pop_to(x, mark);
		}
		free(keys);
	} else if (v && !json_is_null(v)) {
		return strata_fail_msg(err, EINVAL, "range can't iterate over %s", cmd_template_value_type(v));
	}
	if (r == 0 && n == 0)
		r = exec_list(x, &nd->alt, v, err);
	return r;
}

static int exec_node(struct texec *x, const struct tnode *nd, json_t *dot,
		     struct strata_error **err)
{
	size_t mark = x->nvars;
	json_t *v = NULL;
	int r = 0;

	switch (nd->kind) {
	case NODE_TEXT:
		sbuf_add(x->out, nd->text, nd->len);
		return 0;
	case NODE_ACTION:
		if (eval_pipe(x, nd->pipe, dot, &v, err) < 0)
			return -1;
		/* a declaration prints nothing and lives to the end of the enclosing block */
		if (nd->pipe->nvars)
			vars_push(x, nd->pipe->vars[0], v);
		else
			cmd_template_value_print(x->out, v, true);
		break;
	case NODE_IF:
	case NODE_WITH:
		if (eval_decl_pipe(x, nd->pipe, dot, &v, err) < 0)
			return -1;
		if (x->header && nd->kind == NODE_WITH)
			break;
		if (cmd_template_value_is_true(v))
			r = exec_list(x, &nd->body, nd->kind == NODE_WITH ? v : dot, err);
		else
			r = exec_list(x, &nd->alt, dot, err);
		vars_pop_to(x, mark);
		break;
	case NODE_RANGE:
		if (eval_pipe(x, nd->pipe, dot, &v, err) < 0)
			return -1;
		/* a header row has one line: what a range repeats has no header */
		if (!x->header)
			r = exec_range(x, nd, v, err);
		break;
	}
	if (v)
		json_decref(v);
	return r;
}

static int exec_list(struct texec *x, const struct tlist *l, json_t *dot,
		     struct strata_error **err)
{
	size_t mark = x->nvars;
	int r = 0;

	for (size_t i = 0; i < l->n && r == 0; i++)
		r = exec_node(x, l->v[i], dot, err);
	vars_pop_to(x, mark);
	return r;
}

static int exec_root(struct texec *x, const struct cmd_template *t, struct strata_error **err)
{
	size_t len = x->out->len;
	int r;

	vars_push(x, "$", (json_t *)x->root);
	r = exec_list(x, &t->root, (json_t *)x->root, err);
	vars_pop_to(x, 0);
	if (x->vars != x->inline_vars)
		free(x->vars);
	if (r < 0) {
		/* no half row */
		x->out->len = len;
		if (x->out->buf)
			x->out->buf[len] = '\0';
		return strata_wrap(err, "template");
	}
	return 0;
}

int cmd_template_exec(const struct cmd_template *t, const json_t *dot, struct sbuf *out,
		      struct strata_error **err)
{
	struct texec x = { .root = dot, .out = out };

	return exec_root(&x, t, err);
}

int cmd_template_exec_header(const struct cmd_template *t, const json_t *fields,
			     const json_t *headers, struct sbuf *out, struct strata_error **err)
{
	struct texec x = { .root = fields, .out = out, .header = true, .fields = fields,
			   .headers = headers };

	return exec_root(&x, t, err);
}

/* ---- columns, as Go's text/tabwriter (minwidth 12, padding 2, spaces) ---- */

struct tw_cell {
	const char *s;
	size_t len, width; /* bytes, and characters (UTF-8) */
};

struct tw_line {
	struct tw_cell *cells;
	size_t n;
};

struct tw {
	struct tw_line *lines;
	size_t *widths;
	size_t nwidths;
};

static size_t utf8_width(const char *s, size_t len)
{
	size_t w = 0;

	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

static void tw_write_lines(const struct tw *tw, size_t l0, size_t l1)
{
	for (size_t i = l0; i < l1; i++) {
		const struct tw_line *ln = &tw->lines[i];

		for (size_t j = 0; j < ln->n; j++) {
			fwrite(ln->cells[j].s, 1, ln->cells[j].len, stdout);
			for (size_t pad = j < tw->nwidths ? tw->widths[j] - ln->cells[j].width : 0;
			     pad;) {
				static const char spaces[] = "                                ";
				size_t k = pad < sizeof(spaces) - 1 ? pad : sizeof(spaces) - 1;

				fwrite(spaces, 1, k, stdout);
				pad -= k;
			}
		}
		putchar('\n');
	}
}

/* Go's tabwriter.format: a column is a block of consecutive lines having a cell there. */
static void tw_format(struct tw *tw, size_t l0, size_t l1, size_t col)
{
	for (size_t i = l0; i < l1; i++) {
		size_t width = 12;

		if (col + 1 >= tw->lines[i].n)
			continue;
		tw_write_lines(tw, l0, i);
		l0 = i;
		for (; i < l1 && col + 1 < tw->lines[i].n; i++)
			if (tw->lines[i].cells[col].width + 2 > width)
				width = tw->lines[i].cells[col].width + 2;
		tw->widths[tw->nwidths++] = width;
		tw_format(tw, l0, i, col + 1);
		tw->nwidths--;
		l0 = i;
		i--;
	}
	tw_write_lines(tw, l0, l1);
}

void cmd_template_print_columns(const char *text, size_t len)
{
	struct tw tw = { 0 };
	size_t nlines = 0, maxcells = 0, cap = 0;
	const char *p = text, *end = text + len;

	if (len && text[len - 1] == '\n')
		end--;
	while (p <= end && len) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		struct tw_line ln = { 0 };

		if (!eol)
			eol = end;
		{
			size_t ncells = 1;

			for (const char *c = p; c < eol; c++)
				ncells += *c == '\t';
			ln.cells = xmalloc(ncells * sizeof(*ln.cells));
		}
		for (const char *c = p;;) {
			const char *tab = memchr(c, '\t', (size_t)(eol - c));
			const char *ce = tab ? tab : eol;

			ln.cells[ln.n++] = (struct tw_cell){ c, (size_t)(ce - c),
							     utf8_width(c, (size_t)(ce - c)) };
			if (!tab)
				break;
			c = tab + 1;
		}
		if (ln.n > maxcells)
			maxcells = ln.n;
		if (nlines == cap) {
			cap = cap ? cap * 2 : 64;
			tw.lines = xrealloc(tw.lines, cap * sizeof(*tw.lines));
		}
		tw.lines[nlines++] = ln;
		p = eol + 1;
	}
	tw.widths = xcalloc(maxcells + 1, sizeof(size_t));
	tw_format(&tw, 0, nlines, 0);
	for (size_t i = 0; i < nlines; i++)
		free(tw.lines[i].cells);
	free(tw.lines);
	free(tw.widths);
}
