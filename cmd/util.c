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

void cmd_print_usage(struct cmd_ctx *ctx)
{
	if (!current) {
		printf("Usage: strata %s\n", ctx->name);
		return;
	}
	printf("Usage: strata %s%s%s\n\n%s\n", current->name, *current->synopsis ? " " : "",
	       current->synopsis, current->summary);
}

static void vreport(struct cmd_ctx *ctx, const char *hint, const char *fmt, va_list ap)
{
	char *msg = NULL;
	struct sbuf b = SBUF_INIT;

	msg = xvasprintf(fmt, ap);
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

int cmd_for_each_container(struct cmd_ctx *ctx, int argc, char **argv, cmd_container_fn *fn,
			   void *arg)
{
	int ret = 0;

	if (cmd_check_operands(ctx, argc, argv, 1, -1, "CONTAINER"))
		return EXIT_STRATA;
	if (!cmd_store(ctx))
		return EXIT_STRATA;
	for (int i = 0; i < argc; i++) {
		struct strata_error *err = NULL;
		char id[STORE_ID_LEN + 1];

		if (store_container_find(ctx->store, argv[i], id, &err) < 0 ||
		    fn(ctx, id, argv[i], arg, &err) < 0)
			ret = cmd_fail(ctx, err);
	}
	return ret;
}

void cmd_print_json(const json_t *j)
{
	cleanup_free char *s = jv_dump_pretty(j);

	puts(s);
}
