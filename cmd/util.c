/*
 * Shared plumbing of the commands: option parsing with one-line errors,
 * error reporting, the lazily opened store, JSON and table output.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"

static const struct command *current;

void cmd_set_current(const struct command *c);
void cmd_set_current(const struct command *c)
{
	current = c;
}

void cmd_print_help(struct cmd_ctx *ctx)
{
	if (!current) {
		printf("Usage: strata %s\n", ctx->name);
		return;
	}
	printf("Usage: strata %s %s\n\n%s\n", current->name, current->synopsis, current->summary);
	if (current->help && *current->help)
		printf("\nOptions:\n%s", current->help);
	printf("      --help                 show this help\n");
}

static void vreport(struct cmd_ctx *ctx, const char *hint, const char *fmt, va_list ap)
{
	char *msg = NULL;
	struct sbuf b = SBUF_INIT;

	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	sbuf_addf(&b, "strata: %s: %s", ctx->name, msg);
	/* One line, always: newlines inside a message would break scripts. */
	for (size_t i = 0; i < b.len; i++)
		if (b.buf[i] == '\n' || b.buf[i] == '\r')
			b.buf[i] = ' ';
	if (hint)
		sbuf_addstr(&b, hint);
	sbuf_addstr(&b, "\n");
	fflush(stdout);
	if (fwrite(b.buf, 1, b.len, stderr) != b.len)
		clearerr(stderr);
	free(msg);
	sbuf_release(&b);
}

int cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
	cleanup_free char *hint = xasprintf(" (see 'strata %s --help')", ctx->name);
	va_list ap;

	va_start(ap, fmt);
	vreport(ctx, hint, fmt, ap);
	va_end(ap);
	return EXIT_STRATA;
}

int cmd_failf(struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(ctx, NULL, fmt, ap);
	va_end(ap);
	return EXIT_STRATA;
}

int cmd_fail(struct cmd_ctx *ctx, struct strata_error *err)
{
	cmd_failf(ctx, "%s", strata_error_msg(err));
	strata_error_free(err);
	return EXIT_STRATA;
}

int cmd_getopt(struct cmd_ctx *ctx, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	cleanup_free char *opts = NULL;
	int c;

	/* A leading ':' makes getopt report a missing argument as ':'; keep a leading '+'. */
	if (shortopts[0] == '+')
		opts = xasprintf("+:%s", shortopts + 1);
	else
		opts = xasprintf(":%s", shortopts);
	opterr = 0;
	c = getopt_long(argc, argv, opts, longopts, NULL);
	if (c == CMD_HELP) {
		cmd_print_help(ctx);
		return CMD_GETOPT_HELP;
	}
	if (c == '?') {
		if (optopt)
			cmd_usage_error(ctx, "unknown option '-%c'", optopt);
		else
			cmd_usage_error(ctx, "unknown option '%s'", argv[optind - 1]);
		return CMD_GETOPT_ERROR;
	}
	if (c == ':') {
		if (optopt && optopt < 0x100)
			cmd_usage_error(ctx, "option '-%c' needs an argument", optopt);
		else
			cmd_usage_error(ctx, "option '%s' needs an argument", argv[optind - 1]);
		return CMD_GETOPT_ERROR;
	}
	return c;
}

int cmd_getopt_status(int c)
{
	return c == CMD_GETOPT_HELP ? 0 : EXIT_STRATA;
}

int cmd_check_operands(struct cmd_ctx *ctx, int argc, char **argv, int min, int max,
		       const char *what)
{
	int n = argc - optind;

	if (n < min)
		return cmd_usage_error(ctx, "missing argument: %s", what);
	if (max >= 0 && n > max)
		return cmd_usage_error(ctx, "unexpected argument '%s'", argv[optind + max]);
	return 0;
}

struct store *cmd_store(struct cmd_ctx *ctx)
{
	struct strata_error *err = NULL;

	if (ctx->store)
		return ctx->store;
	if (store_open(ctx->root, &ctx->store, &err) < 0) {
		cmd_fail(ctx, err);
		return NULL;
	}
	return ctx->store;
}

int cmd_parse_format(struct cmd_ctx *ctx, const char *arg, bool *json)
{
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

void cmd_print_json(const json_t *j)
{
	cleanup_free char *s = jv_dump_pretty(j);

	puts(s);
}
