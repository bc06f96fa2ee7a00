/*
 * Progress events: pull and push report through the caller's callback
 * (cmd/ draws them); without one nothing is said.
 */
#include <stdarg.h>
#include <stdio.h>

#include "registry/registry-int.h"

void reg_event(const struct registry_opts *o, enum registry_event_kind kind, const char *digest,
	       uint64_t done, uint64_t total, const char *msg)
{
	struct registry_event ev = { .kind = kind, .digest = digest, .done = done, .total = total,
				     .msg = msg };

	if (o && o->progress)
		o->progress(&ev, o->progress_arg);
}

void reg_notef(const struct registry_opts *o, const char *digest, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;

	if (!o || !o->progress)
		return;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	reg_event(o, REGISTRY_EVENT_NOTE, digest, 0, 0, msg);
}

void reg_done_size(const struct registry_opts *o, const char *digest, uint64_t size)
{
	cleanup_free char *human = NULL;

	if (!o || !o->progress)
		return;
	human = size_human(size, SIZE_LIST);
	reg_event(o, REGISTRY_EVENT_DONE, digest, size, size, human);
}
