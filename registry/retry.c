/*
 * The retry budget of one registry operation (a pull, a push, a login: one
 * client). A failed attempt is a dropped connection, a stall (a transfer
 * slower than the floor for the stall time: libcurl's low-speed limit), or
 * an answer that says "later": 429, 500, 502, 503, 504. Each one spends
 * one retry and the time it lost (the stall window, the wait before the
 * next attempt), whatever bytes it brought: a resume after a stall or a
 * drop never gives the budget back, so a registry that drips one byte a
 * second ends the operation once the budget is spent, about a minute with
 * the defaults, instead of never.
 *
 * As containers/image: 429 waits as Retry-After says (delta seconds or an
 * HTTP date), else the backoff; 502-504 are retried (containers/common
 * retries them, and a 500 that carries the registry's error body, as
 * distribution's UNKNOWN does); every other status fails at once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "registry/registry-int.h"

#define RETRIES_DEFAULT 8
#define RETRY_TIME_DEFAULT 60
#define STALL_FLOOR_DEFAULT 1024
#define STALL_TIME_DEFAULT 30
#define BACKOFF_FIRST_MS 250
#define BACKOFF_MAX_MS 2000

/* A whole number from the environment variable @name, or @def when unset or bad. */
static long env_long(const char *name, long def, long max)
{
	const char *v = getenv(name);
	char *end = NULL;
	long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || *end || n < 0 || n > max) {
		log_warn("%s='%s' is not a number from 0 to %ld: using %ld", name, v, max, def);
		return def;
	}
	return n;
}

void reg_budget_init(struct reg_budget *b)
{
	const char *floor = getenv("STRATA_STALL_FLOOR");
	uint64_t n;

	memset(b, 0, sizeof(*b));
	b->max_retries = (int)env_long("STRATA_RETRIES", RETRIES_DEFAULT, 1000);
	b->max_ms = (int64_t)env_long("STRATA_RETRY_TIME", RETRY_TIME_DEFAULT, 86400) * 1000;
	b->stall_time = env_long("STRATA_STALL_TIME", STALL_TIME_DEFAULT, 86400);
	b->stall_floor = STALL_FLOOR_DEFAULT;
	if (floor && *floor) {
		if (size_parse(floor, &n) == 0 && n <= (1ull << 40))
			b->stall_floor = n;
		else
			log_warn("STRATA_STALL_FLOOR='%s' is not a size: using %d", floor,
				 STALL_FLOOR_DEFAULT);
	}
	if (b->stall_time == 0)
		b->stall_floor = 0; /* no window: no stall detection */
}

bool reg_status_is_transient(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

int64_t reg_retry_after_ms(const char *v, int64_t now_s)
{
	struct tm tm;
	const char *end;
	char *num_end = NULL;
	long long n;
	time_t t;

	if (!v)
		return -1;
	while (*v == ' ')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		n = strtoll(v, &num_end, 10);
		while (num_end && *num_end == ' ')
			num_end++;
		if (errno || !num_end || *num_end || n > 86400 * 365)
			return -1;
		return (int64_t)n * 1000;
	}
	/* RFC 9110 IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (always GMT). */
	memset(&tm, 0, sizeof(tm));
	end = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end)
		return -1;
	while (*end == ' ')
		end++;
	if (*end)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return (int64_t)t > now_s ? ((int64_t)t - now_s) * 1000 : 0;
}

/*
 * Spends one retry and @lost_ms (a stall's window) on a failed attempt, then
 * waits @wait_ms (negative: the backoff), within what is left. Returns
 * false, waiting nothing, when the budget is spent; *@why then says so.
 */
static bool spend(struct reg_client *c, int64_t lost_ms, int64_t wait_ms, const char *what,
		  const char *digest, char **why)
{
	struct reg_budget *b = &c->budget;
	int64_t left;

	b->lost_ms += lost_ms;
	if (b->retries >= b->max_retries) {
		*why = xasprintf("gave up after %d retries", b->retries);
		return false;
	}
	left = b->max_ms - b->lost_ms;
	if (left <= 0) {
		*why = xasprintf("gave up after %d retries: the retry budget of %" PRId64
				 " s is spent",
				 b->retries, b->max_ms / 1000);
		return false;
	}
	if (wait_ms < 0) {
		int shift = b->retries < 4 ? b->retries : 4;

		wait_ms = (int64_t)BACKOFF_FIRST_MS << shift;
		if (wait_ms > BACKOFF_MAX_MS)
			wait_ms = BACKOFF_MAX_MS;
	}
	if (wait_ms > left)
		wait_ms = left;
	b->retries++;
	b->lost_ms += wait_ms;
	reg_notef(c->o, digest, "%s, retrying in %.1f s (%d of %d)", what, (double)wait_ms / 1000,
		  b->retries, b->max_retries);
	log_debug("registry: %s: retry %d, waiting %" PRId64 " ms, %" PRId64 " ms of %" PRId64
		  " lost",
		  what, b->retries, wait_ms, b->lost_ms, b->max_ms);
	if (wait_ms > 0)
		usleep((useconds_t)(wait_ms * 1000));
	return true;
}

bool reg_retry_error(struct reg_client *c, const char *digest, struct strata_error **e)
{
	int code = e && *e ? strata_error_code(*e) : 0;
	cleanup_free char *why = NULL, *msg = NULL;
	int64_t lost = 0;

	if (strstr(strata_error_msg(*e), " (gave up after "))
		return false; /* refused once already, lower down */
	if (code == ETIMEDOUT)
		lost = (int64_t)c->budget.stall_time * 1000;
	else if (code != ECONNABORTED && code != ECONNREFUSED && code != EAGAIN && code != ERANGE)
		return false;
	if (spend(c, lost, -1,
		  code == ETIMEDOUT ? "stalled"
		  : code == ERANGE  ? "starting over"
		  : code == EAGAIN  ? strata_error_msg(*e)
				    : "connection lost",
		  digest, &why)) {
		strata_error_free(*e);
		*e = NULL;
		return true;
	}
	msg = xasprintf("%s (%s)", strata_error_msg(*e), why);
	strata_error_free(*e);
	*e = NULL;
	strata_fail_msg(e, code, "%s", msg);
	return false;
}

bool reg_retry_status(struct reg_client *c, struct reg_resp *resp, const char *digest)
{
	cleanup_free char *why = NULL, *what = NULL;
	int64_t wait = -1;

	if (!reg_status_is_transient(resp->status))
		return false;
	if (resp->retry_after)
		wait = reg_retry_after_ms(resp->retry_after, time_now_ns() / 1000000000LL);
	what = xasprintf("HTTP %ld", resp->status);
	if (spend(c, 0, wait, what, digest, &why))
		return true;
	free(resp->gave_up);
	resp->gave_up = steal_ptr(&why);
	return false;
}
