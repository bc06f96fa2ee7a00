/*
 * Times and sizes, formatted the way docker and podman print them so that
 * scripts written against them read strata's output too.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"

int64_t time_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

char *time_rfc3339(int64_t sec, long nsec)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char buf[64];

	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
	if (nsec > 0) {
		char frac[24];
		int n;

		snprintf(frac, sizeof(frac), "%09ld", nsec);
		/* Trailing zeros are dropped, as Go's RFC3339Nano does. */
		n = 9;
		while (n > 0 && frac[n - 1] == '0')
			n--;
		frac[n] = '\0';
		return xasprintf("%s.%sZ", buf, frac);
	}
	return xasprintf("%sZ", buf);
}

int time_parse_rfc3339(const char *s, int64_t *sec, long *nsec)
{
	struct tm tm = { 0 };
	const char *p;
	long ns = 0;
	int64_t off = 0;
	time_t t;

	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -1;
	if (*p == '.') {
		int digits = 0;

		p++;
		while (isdigit((unsigned char)*p)) {
			if (digits < 9) {
				ns = ns * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		while (digits++ < 9)
			ns *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int hh, mm;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2)
			return -1;
		off = (hh * 3600 + mm * 60) * (*p == '+' ? 1 : -1);
		p += 6;
	} else {
		return -1;
	}
	if (*p)
		return -1;
	t = timegm(&tm);
	*sec = (int64_t)t - off;
	if (nsec)
		*nsec = ns;
	return 0;
}

char *time_ago(int64_t sec)
{
	int64_t now = time_now_ns() / 1000000000LL;
	int64_t d = now - sec;

	if (d < 1)
		return xstrdup("Less than a second ago");
	if (d < 60)
		return xasprintf("%lld second%s ago", (long long)d, d == 1 ? "" : "s");
	if (d < 3600) {
		d /= 60;
		return d == 1 ? xstrdup("About a minute ago") : xasprintf("%lld minutes ago", (long long)d);
	}
	if (d < 86400 * 2) {
		d /= 3600;
		return d == 1 ? xstrdup("About an hour ago") : xasprintf("%lld hours ago", (long long)d);
	}
	if (d < 86400 * 14)
		return xasprintf("%lld days ago", (long long)(d / 86400));
	if (d < 86400 * 60)
		return xasprintf("%lld weeks ago", (long long)(d / (86400 * 7)));
	if (d < 86400 * 365 * 2)
		return xasprintf("%lld months ago", (long long)(d / (86400 * 30)));
	return xasprintf("%lld years ago", (long long)(d / (86400 * 365)));
}

char *size_human(uint64_t n, int digits)
{
	static const char *const units[] = { "B", "kB", "MB", "GB", "TB", "PB" };
	double v = (double)n, exact = 1;
	size_t u = 0;

	while (v >= 1000.0 && u + 1 < ARRAY_SIZE(units)) {
		v /= 1000.0;
		u++;
	}
	if (u == 0)
		return xasprintf("%llu%s", (unsigned long long)n, units[0]);
	/*
	 * go-units' HumanSizeWithPrecision: @digits significant digits (Docker's
	 * listings 3: 1.23MB, 12.3MB, 123MB; podman's system df 4: 123.5MB),
	 * where %g would write 1e+03 for 999.7 the whole number is printed.
	 */
	for (int i = 1; i < digits; i++)
		exact *= 10;
	if (v < exact)
		return xasprintf("%.*g%s", digits, v, units[u]);
	return xasprintf("%.0f%s", v, units[u]);
}

int size_parse(const char *s, uint64_t *out)
{
	char *end = NULL;
	double v;
	uint64_t mult = 1;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isfinite(v))
		return -1;
	switch (tolower((unsigned char)*end)) {
	case '\0':
		break;
	case 'b':
		end++;
		break;
	case 'k':
		mult = 1ULL << 10;
		end++;
		break;
	case 'm':
		mult = 1ULL << 20;
		end++;
		break;
	case 'g':
		mult = 1ULL << 30;
		end++;
		break;
	case 't':
		mult = 1ULL << 40;
		end++;
		break;
	default:
		return -1;
	}
	if (mult > 1 && (*end == 'b' || *end == 'B'))
		end++;
	if (mult > 1 && (*end == 'i' || *end == 'I') && (end[1] == 'b' || end[1] == 'B'))
		end += 2;
	if (*end)
		return -1;
	if (v * (double)mult > 1.8e19)
		return -1;
	*out = (uint64_t)(v * (double)mult);
	return 0;
}

int64_t time_source_date_epoch(void)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end = NULL;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return -1;
	return v;
}
