/*
 * Progress of pull and push on stderr. Not a TTY: one line per finished
 * blob and per note, as a log reads. A TTY: one line per blob with bytes
 * done and total, rate and ETA, redrawn in place (cursor up, erase line)
 * at most every 100 ms; lines of finished blobs at the top of the block are
 * left as they are and no longer redrawn, notes are printed above the block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "registry/registry.h"

#define REDRAW_NS 100000000LL
#define BAR_WIDTH 12

struct pline {
	char digest[DIGEST_STR_LEN];
	uint64_t done, total;
	uint64_t done0; /* bytes there when this transfer (re)started */
	int64_t t0;	/* when it (re)started */
	bool finished;
	char *msg;	/* the final text */
};

struct cmd_progress {
	bool tty;
	struct pline *lines;
	size_t n, cap;
	size_t first; /* lines before it are final and no longer redrawn */
	size_t drawn; /* lines of the block on the screen, above the cursor */
	int64_t last_draw;
};

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

struct cmd_progress *cmd_progress_new(void)
{
	struct cmd_progress *p = xcalloc(1, sizeof(*p));

	p->tty = isatty(STDERR_FILENO) == 1;
	return p;
}

void cmd_progress_free(struct cmd_progress *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->lines[i].msg);
	free(p->lines);
	free(p);
}

static size_t term_width(void)
{
	struct winsize ws;

	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 80;
}

static char *fmt_eta(uint64_t secs)
{
	if (secs >= 3600)
		return xasprintf("%lluh%02llum", (unsigned long long)(secs / 3600),
				 (unsigned long long)(secs % 3600 / 60));
	if (secs >= 60)
		return xasprintf("%llum%02llus", (unsigned long long)(secs / 60),
				 (unsigned long long)(secs % 60));
	return xasprintf("%llus", (unsigned long long)secs);
}

/* The text of @l now: the final message, or a bar with bytes, rate and ETA. */
static char *line_text(const struct pline *l, int64_t now)
{
	cleanup_free char *done = NULL, *total = NULL, *rate_s = NULL, *eta = NULL;
	char bar[BAR_WIDTH + 1];
	double secs = (double)(now - l->t0) / 1e9;
	double rate = secs > 0.05 ? (double)(l->done - l->done0) / secs : 0;
	size_t fill = l->total ? (size_t)((double)l->done / (double)l->total * BAR_WIDTH) : 0;

	if (l->finished)
		return xasprintf("Blob %.19s: %s", l->digest, l->msg);
	if (fill > BAR_WIDTH)
		fill = BAR_WIDTH;
	memset(bar, '=', fill);
	memset(bar + fill, ' ', BAR_WIDTH - fill);
	if (fill < BAR_WIDTH)
		bar[fill] = '>';
	bar[BAR_WIDTH] = '\0';
	done = size_human(l->done, SIZE_LIST);
	total = size_human(l->total, SIZE_LIST);
	if (rate >= 1) {
		rate_s = size_human((uint64_t)rate, SIZE_LIST);
		eta = fmt_eta(l->total > l->done ? (uint64_t)((double)(l->total - l->done) / rate)
						 : 0);
		return xasprintf("Blob %.19s: [%s] %s / %s  %s/s  ETA %s", l->digest, bar, done,
				 total, rate_s, eta);
	}
	return xasprintf("Blob %.19s: [%s] %s / %s", l->digest, bar, done, total);
}

static void redraw(struct cmd_progress *p, int64_t now)
{
	size_t width = term_width();

	if (p->drawn)
		fprintf(stderr, "\033[%zuA", p->drawn);
	for (size_t i = p->first; i < p->n; i++) {
		cleanup_free char *t = line_text(&p->lines[i], now);

		/* Never wrap: a wrapped line would throw the cursor-up count off. */
		if (strlen(t) >= width)
			t[width - 1] = '\0';
		fprintf(stderr, "\r\033[K%s\n", t);
	}
	p->drawn = p->n - p->first;
	while (p->first < p->n && p->lines[p->first].finished) {
		p->first++;
		p->drawn--;
	}
	p->last_draw = now;
	fflush(stderr);
}

static struct pline *line_of(struct cmd_progress *p, const char *digest)
{
	for (size_t i = p->n; i-- > p->first;)
		if (strcmp(p->lines[i].digest, digest) == 0)
			return &p->lines[i];
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 8;
		p->lines = xrealloc(p->lines, p->cap * sizeof(*p->lines));
	}
	memset(&p->lines[p->n], 0, sizeof(p->lines[p->n]));
	snprintf(p->lines[p->n].digest, DIGEST_STR_LEN, "%s", digest);
	return &p->lines[p->n++];
}

static void tty_event(struct cmd_progress *p, const struct registry_event *ev)
{
	int64_t now = mono_ns();
	struct pline *l;

	if (ev->kind == REGISTRY_EVENT_NOTE) {
		if (p->drawn)
			fprintf(stderr, "\033[%zuA\r\033[J", p->drawn);
		p->drawn = 0;
		if (ev->digest)
			fprintf(stderr, "Blob %.19s: %s\n", ev->digest, ev->msg);
		else
			fprintf(stderr, "%s\n", ev->msg);
		redraw(p, now);
		return;
	}
	if (!ev->digest)
		return;
	l = line_of(p, ev->digest);
	switch (ev->kind) {
	case REGISTRY_EVENT_START:
		l->done = l->done0 = ev->done;
		l->total = ev->total;
		l->t0 = now;
		redraw(p, now);
		break;
	case REGISTRY_EVENT_BYTES:
		if (!l->t0)
			l->t0 = now;
		l->done = ev->done;
		l->total = ev->total;
		if (now - p->last_draw >= REDRAW_NS)
			redraw(p, now);
		break;
	case REGISTRY_EVENT_DONE:
		l->finished = true;
		free(l->msg);
		l->msg = xstrdup(ev->msg ? ev->msg : "done");
		redraw(p, now);
		break;
	case REGISTRY_EVENT_NOTE:
		break;
	}
}

void cmd_progress_event(const struct registry_event *ev, void *arg)
{
	struct cmd_progress *p = arg;

	if (p->tty) {
		tty_event(p, ev);
		return;
	}
	switch (ev->kind) {
	case REGISTRY_EVENT_DONE:
	case REGISTRY_EVENT_NOTE:
		if (ev->digest)
			fprintf(stderr, "Blob %.19s: %s\n", ev->digest, ev->msg);
		else
			fprintf(stderr, "%s\n", ev->msg);
		break;
	case REGISTRY_EVENT_START:
	case REGISTRY_EVENT_BYTES:
		break;
	}
}
