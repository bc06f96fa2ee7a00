/*
 * Two flock(2) locks: ROOT/lock guards records (shared to read, exclusive
 * to change), ROOT/gc.lock keeps gc away from content that is written but
 * not yet reachable. flock locks belong to the open file description, so
 * they vanish with a killed process and never outlive it.
 */
#include <errno.h>
#include <sys/file.h>

#include "store/store-int.h"

static int take(int fd, int op, const char *what, struct strata_error **err)
{
	while (flock(fd, op) < 0) {
		if (errno == EINTR)
			continue;
		return strata_fail(err, errno, "lock '%s'", what);
	}
	return 0;
}

int store_lock(struct store *s, enum store_lock_mode mode, struct strata_error **err)
{
	if (s->lock_depth > 0) {
		if ((int)mode > s->lock_mode)
			return strata_fail(err, EDEADLK, "lock: exclusive lock wanted under a shared one");
		s->lock_depth++;
		return 0;
	}
	if (take(s->lock_fd, mode == STORE_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH, "lock", err) < 0)
		return -1;
	s->lock_mode = (int)mode;
	s->lock_depth = 1;
	return 0;
}

void store_unlock(struct store *s)
{
	if (s->lock_depth <= 0)
		return;
	if (--s->lock_depth == 0) {
		flock(s->lock_fd, LOCK_UN);
		s->lock_mode = 0;
	}
}

int store_pin(struct store *s, struct strata_error **err)
{
	if (s->pin_depth > 0) {
		s->pin_depth++;
		return 0;
	}
	if (take(s->pin_fd, LOCK_SH, "gc.lock", err) < 0)
		return -1;
	s->pin_depth = 1;
	return 0;
}

void store_unpin(struct store *s)
{
	if (s->pin_depth <= 0)
		return;
	if (--s->pin_depth == 0)
		flock(s->pin_fd, LOCK_UN);
}
