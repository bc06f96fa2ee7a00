/*
 * Errors as values (crun's model, simplified): a failing function sets *err
 * once and returns -1; callers add context on the way up with strata_wrap().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

struct strata_error {
	int code;
	char *msg;
};

static int set_error(struct strata_error **err, int code, bool with_strerror, const char *fmt,
		     va_list ap)
{
	struct strata_error *e;
	char *msg = NULL;

	if (!err)
		return -1;
	if (*err) {
		/* The first failure is the one that counts: keep it. */
		return -1;
	}
	msg = xvasprintf(fmt, ap);
	if (with_strerror && code > 0) {
		char *full = xasprintf("%s: %s", msg, strerror(code));

		free(msg);
		msg = full;
	}
	e = xmalloc(sizeof(*e));
	e->code = code;
	e->msg = msg;
	*err = e;
	return -1;
}

int strata_fail(struct strata_error **err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, code, true, fmt, ap);
	va_end(ap);
	return -1;
}

int strata_fail_msg(struct strata_error **err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, code, false, fmt, ap);
	va_end(ap);
	return -1;
}

int strata_wrap(struct strata_error **err, const char *fmt, ...)
{
	char *ctx = NULL;
	char *full;
	va_list ap;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	ctx = xvasprintf(fmt, ap);
	va_end(ap);
	full = xasprintf("%s: %s", ctx, (*err)->msg);
	free(ctx);
	free((*err)->msg);
	(*err)->msg = full;
	return -1;
}

int strata_error_code(const struct strata_error *e)
{
	return e ? e->code : 0;
}

const char *strata_error_msg(const struct strata_error *e)
{
	return e ? e->msg : "unknown error";
}

void strata_error_free(struct strata_error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}
