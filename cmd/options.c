/*
 * Declarative options (options.h): parsing with getopt_long's conventions
 * and --help generated from the same table.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cmd/cmd.h"
#include "layers/layers.h"

/* Every command has --help; -h too unless one of its options is -h. */
static const struct cmd_option help_option = OPT_BOOL('h', "help", NULL, "show this help");

/* What parse_long/parse_short tell the loop besides an exit status. */
#define PARSED_HELP (-2)

static bool takes_arg(const struct cmd_option *o)
{
	if (o->type == CMD_OPTION_BOOL)
		return false;
	if (o->type == CMD_OPTION_CALLBACK && !o->argh)
		return false;
	return true;
}

static bool short_is_claimed(const struct cmd_option *opts, int c)
{
	for (const struct cmd_option *o = opts; o->type != CMD_OPTION_END; o++)
		if (o->short_name == c)
			return true;
	return false;
}

/* The name the option's own messages use: --long, else -s. Static buffer. */
static const char *opt_label(const struct cmd_option *o)
{
	static char buf[64];

	if (o->long_name)
		snprintf(buf, sizeof(buf), "--%s", o->long_name);
	else
		snprintf(buf, sizeof(buf), "-%c", o->short_name);
	return buf;
}

static int set_int(struct cmd_ctx *ctx, const struct cmd_option *o, const char *arg)
{
	char *end = NULL;
	long long v;

	errno = 0;
	v = strtoll(arg, &end, 10);
	if (!*arg || *end || errno || v < o->min || v > o->max) {
		if (o->max == INT_MAX)
			return cmd_usage_error(ctx, "invalid %s '%s' (a whole number, %lld or more)",
					       opt_label(o), arg, o->min);
		return cmd_usage_error(ctx, "invalid %s '%s' (%lld to %lld)", opt_label(o), arg,
				       o->min, o->max);
	}
	*(int *)o->value = (int)v;
	return 0;
}

/* Stores @arg (NULL: none given) as @o says; 0 or EXIT_STRATA (reported). */
static int apply(struct cmd_ctx *ctx, const struct cmd_option *o, const char *arg)
{
	uint64_t size;

	switch (o->type) {
	case CMD_OPTION_BOOL:
		*(bool *)o->value = true;
		return 0;
	case CMD_OPTION_STRING:
		*(const char **)o->value = arg;
		return 0;
	case CMD_OPTION_INT:
		return set_int(ctx, o, arg);
	case CMD_OPTION_SIZE:
		if (size_parse(arg, &size) < 0 || size == 0)
			return cmd_usage_error(ctx, "invalid size '%s' for %s", arg, opt_label(o));
		*(uint64_t *)o->value = size;
		return 0;
	case CMD_OPTION_LIST:
		strv_append((char ***)o->value, arg);
		return 0;
	case CMD_OPTION_CALLBACK:
		return o->callback(ctx, o, arg ? arg : (takes_arg(o) ? NULL : ""));
	case CMD_OPTION_END:
		break;
	}
	abort();
}

/* Two table entries that mean the same option (--net and --network). */
static bool same_option(const struct cmd_option *a, const struct cmd_option *b)
{
	return a->type == b->type && a->value == b->value && a->callback == b->callback;
}

/* The entry for --@name (@len bytes): exact, else a unique prefix. */
static const struct cmd_option *find_long(struct cmd_ctx *ctx, const struct cmd_option *opts,
					  const char *name, size_t len, int *status)
{
	const struct cmd_option *found = NULL, *other = NULL;
	const struct cmd_option *o;

	*status = 0;
	for (o = opts;; o++) {
		const struct cmd_option *cand = o->type == CMD_OPTION_END ? &help_option : o;

		if (cand->long_name && !strncmp(cand->long_name, name, len)) {
			if (cand->long_name[len] == '\0')
				return cand;
			if (!found)
				found = cand;
			else if (!same_option(found, cand))
				other = cand;
		}
		if (o->type == CMD_OPTION_END)
			break;
	}
	if (other) {
		*status = cmd_usage_error(ctx, "ambiguous option '--%.*s' (--%s or --%s?)", (int)len,
					  name, found->long_name, other->long_name);
		return NULL;
	}
	if (!found)
		*status = cmd_usage_error(ctx, "unknown option '--%.*s'", (int)len, name);
	return found;
}

/* --NAME[=VALUE] at argv[*i] (@body is past the dashes); 0, PARSED_HELP or EXIT_STRATA. */
static int parse_long(struct cmd_ctx *ctx, const struct cmd_option *opts, const char *body,
		      int argc, char **argv, int *i)
{
	const char *eq = strchr(body, '=');
	size_t len = eq ? (size_t)(eq - body) : strlen(body);
	const struct cmd_option *o;
	const char *arg = NULL;
	int status;

	o = find_long(ctx, opts, body, len, &status);
	if (!o)
		return status;
	if (o == &help_option) {
		cmd_print_options_help(ctx, opts);
		return PARSED_HELP;
	}
	if (eq) {
		if (!takes_arg(o))
			return cmd_usage_error(ctx, "option '--%s' takes no argument", o->long_name);
		arg = eq + 1;
	} else if (takes_arg(o) && !(o->flags & CMD_OPTION_OPTARG)) {
		if (*i + 1 >= argc)
			return cmd_usage_error(ctx, "option '--%s' needs an argument", o->long_name);
		arg = argv[++*i];
	}
	return apply(ctx, o, arg);
}

/* A cluster of short options (-dit, -eKEY=V, -e KEY=V) at argv[*i]; as parse_long. */
static int parse_short(struct cmd_ctx *ctx, const struct cmd_option *opts, const char *cluster,
		       int argc, char **argv, int *i)
{
	for (const char *p = cluster; *p; p++) {
		const struct cmd_option *o = NULL;
		const char *arg = NULL;
		int r;

		for (const struct cmd_option *c = opts; c->type != CMD_OPTION_END; c++)
			if (c->short_name == *p) {
				o = c;
				break;
			}
		if (!o && *p == 'h') {
			cmd_print_options_help(ctx, opts);
			return PARSED_HELP;
		}
		if (!o)
			return cmd_usage_error(ctx, "unknown option '-%c'", *p);
		if (takes_arg(o)) {
			if (p[1])
				arg = p + 1;
			else if (o->flags & CMD_OPTION_OPTARG)
				arg = NULL;
			else if (*i + 1 < argc)
				arg = argv[++*i];
			else
				return cmd_usage_error(ctx, "option '-%c' needs an argument", *p);
			return apply(ctx, o, arg);
		}
		if ((r = apply(ctx, o, NULL)))
			return r;
	}
	return 0;
}

int cmd_parse_options(struct cmd_ctx *ctx, int *argc, char ***argv,
		      const struct cmd_option *opts, unsigned flags)
{
	char **av = *argv;
	int n = *argc, out = 0, i;

	/* Operands are moved down to av[0...] as they come; out < i throughout. */
	for (i = 1; i < n; i++) {
		const char *a = av[i];
		int r;

		if (a[0] != '-' || a[1] == '\0') {
			if (flags & CMD_PARSE_STOP_AT_OPERAND)
				break;
			av[out++] = av[i];
			continue;
		}
		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[1] == '-')
			r = parse_long(ctx, opts, a + 2, n, av, &i);
		else
			r = parse_short(ctx, opts, a + 1, n, av, &i);
		if (r) {
			ctx->status = r == PARSED_HELP ? 0 : EXIT_STRATA;
			return -1;
		}
	}
	while (i < n)
		av[out++] = av[i++];
	av[out] = NULL;
	*argc = out;
	return 0;
}

int cmd_parse_args(struct cmd_ctx *ctx, int *argc, char ***argv, const struct cmd_option *opts,
		   int min, int max, const char *what)
{
	if (cmd_parse_options(ctx, argc, argv, opts, 0) < 0)
		return -1;
	if (cmd_check_operands(ctx, *argc, *argv, min, max, what)) {
		ctx->status = EXIT_STRATA;
		return -1;
	}
	return 0;
}

struct store *cmd_parse_store(struct cmd_ctx *ctx, int *argc, char ***argv,
			      const struct cmd_option *opts, int min, int max, const char *what)
{
	struct store *s;

	if (cmd_parse_args(ctx, argc, argv, opts, min, max, what) < 0)
		return NULL;
	if (!(s = cmd_store(ctx)))
		ctx->status = EXIT_STRATA;
	return s;
}

/* "  -e, --env KEY=VALUE" for @o into @b. */
static void option_prefix(const struct cmd_option *o, bool short_help, struct sbuf *b)
{
	int s = o == &help_option && !short_help ? 0 : o->short_name;

	sbuf_addstr(b, "  ");
	if (s)
		sbuf_addf(b, "-%c%s", s, o->long_name ? ", " : "");
	else
		sbuf_addstr(b, "    ");
	if (o->long_name)
		sbuf_addf(b, "--%s", o->long_name);
	if (o->argh && takes_arg(o))
		sbuf_addf(b, "%s%s", (o->flags & CMD_OPTION_OPTARG) && o->long_name ? "=" : " ",
			  o->argh);
}

static void print_option(const struct cmd_option *o, bool short_help, size_t col)
{
	struct sbuf b = SBUF_INIT;
	const char *h = o->help ? o->help : "";

	option_prefix(o, short_help, &b);
	printf("%-*s", (int)col, b.buf);
	/* Lines of the help after the first start at the same column. */
	for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
		printf("%.*s\n%*s", (int)(nl - h), h, (int)col, "");
	printf("%s\n", h);
	sbuf_release(&b);
}

void cmd_print_options_help(struct cmd_ctx *ctx, const struct cmd_option *opts)
{
	bool short_help = !short_is_claimed(opts, 'h');
	size_t col = 29;

	for (const struct cmd_option *o = opts; o->type != CMD_OPTION_END; o++) {
		struct sbuf b = SBUF_INIT;

		option_prefix(o, short_help, &b);
		if (!(o->flags & CMD_OPTION_HIDDEN) && b.len + 2 > col)
			col = b.len + 2;
		sbuf_release(&b);
	}
	cmd_print_usage(ctx);
	printf("\nOptions:\n");
	for (const struct cmd_option *o = opts; o->type != CMD_OPTION_END; o++)
		if (!(o->flags & CMD_OPTION_HIDDEN))
			print_option(o, short_help, col);
	print_option(&help_option, short_help, col);
}

int cmd_check_operands(struct cmd_ctx *ctx, int argc, char **argv, int min, int max,
		       const char *what)
{
	if (argc < min)
		return cmd_usage_error(ctx, "missing argument: %s", what);
	if (max >= 0 && argc > max)
		return cmd_usage_error(ctx, "unexpected argument '%s'", argv[max]);
	return 0;
}

/* ---- callbacks shared by several commands ---- */

int cmd_option_format(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	bool *json = opt->value;

	if (strcmp(arg, "json") == 0 || strcmp(arg, "{{json .}}") == 0) {
		*json = true;
		return 0;
	}
	if (strcmp(arg, "table") == 0) {
		*json = false;
		return 0;
	}
	return cmd_usage_error(ctx, "unknown format '%s' (want 'table' or 'json')", arg);
}

int cmd_option_compression(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	if (layers_compression_parse(arg, opt->value) < 0)
		return cmd_usage_error(ctx, "unknown compression '%s' for %s (want gzip, zstd or none)",
				       arg, opt_label(opt));
	return 0;
}

int cmd_option_compressed(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	enum layers_compression c;

	if (layers_compression_parse(arg, &c) < 0 || c == LAYERS_COMPRESSION_NONE)
		return cmd_usage_error(ctx, "unknown compression '%s' for %s (want gzip or zstd)", arg,
				       opt_label(opt));
	*(enum layers_compression *)opt->value = c;
	return 0;
}

int cmd_option_timestamp(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	char *end = NULL;
	long long t;

	errno = 0;
	t = strtoll(arg, &end, 10);
	if (!*arg || *end || errno || t < 0)
		return cmd_usage_error(ctx, "invalid %s '%s' (seconds since 1970)", opt_label(opt),
				       arg);
	*(int64_t *)opt->value = t;
	return 0;
}

int cmd_option_bool_arg(struct cmd_ctx *ctx, const struct cmd_option *opt, const char *arg)
{
	bool *out = opt->value;

	if (!arg || strcasecmp(arg, "true") == 0 || strcmp(arg, "1") == 0) {
		*out = true;
		return 0;
	}
	if (strcasecmp(arg, "false") == 0 || strcmp(arg, "0") == 0) {
		*out = false;
		return 0;
	}
	return cmd_usage_error(ctx, "invalid %s '%s' (true or false)", opt_label(opt), arg);
}
