/*
 * Logging to stderr with a level threshold. Library code logs; only cmd/
 * reports errors and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"

static enum log_level threshold = LOG_LEVEL_WARN;
static bool threshold_set;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static void init_from_env(void)
{
	const char *dbg;

	if (threshold_set)
		return;
	threshold_set = true;
	dbg = getenv("STRATA_DEBUG");
	if (dbg && strcmp(dbg, "1") == 0)
		threshold = LOG_LEVEL_DEBUG;
}

void log_set_level(enum log_level lvl)
{
	threshold_set = true;
	threshold = lvl;
}

enum log_level log_get_level(void)
{
	init_from_env();
	return threshold;
}

int log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(level_names); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*out = LOG_LEVEL_WARN;
		return 0;
	}
	return -1;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	struct sbuf b = SBUF_INIT;
	va_list ap;
	char *body = NULL;

	if (lvl > log_get_level())
		return;
	va_start(ap, fmt);
	body = xvasprintf(fmt, ap);
	va_end(ap);
	/* One write per line, so lines from concurrent processes do not interleave. */
	sbuf_addf(&b, "strata: %s: %s\n", level_names[lvl], body);
	if (fwrite(b.buf, 1, b.len, stderr) != b.len)
		clearerr(stderr);
	fflush(stderr);
	free(body);
	sbuf_release(&b);
}
