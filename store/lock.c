/*
 * Three flock(2) locks: ROOT/lock guards records (shared to read, exclusive
 * to change), ROOT/gc.lock keeps gc away from content that is written but
 * not yet reachable, ROOT/users.lock keeps rmi and the prunes away from the
 * images and volumes of a container being created. flock locks belong to the open file description, so
 * they vanish with a killed process and never outlive it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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

int store_users_lock(struct store *s, enum store_lock_mode mode, struct strata_error **err)
{
	if (s->users_depth > 0) {
		if ((int)mode > s->users_mode)
			return strata_fail(err, EDEADLK,
					   "users.lock: exclusive lock wanted under a shared one");
		s->users_depth++;
		return 0;
	}
	/* opened on first use: most commands never create or remove what containers use */
	if (s->users_fd < 0) {
		s->users_fd = openat(s->root_fd, "users.lock",
				     O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (s->users_fd < 0)
			return strata_fail(err, errno, "open '%s/users.lock'", s->root);
	}
	if (take(s->users_fd, mode == STORE_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH, "users.lock", err) <
	    0)
		return -1;
	s->users_mode = (int)mode;
	s->users_depth = 1;
	return 0;
}

void store_users_unlock(struct store *s)
{
	if (s->users_depth <= 0)
		return;
	if (--s->users_depth == 0) {
		flock(s->users_fd, LOCK_UN);
		s->users_mode = 0;
	}
}

/*
 * Per-digest locks: ROOT/locks/<hex>, flock'ed exclusively by the process
 * that fetches that blob and makes its layer dir. Taken only while pinned,
 * so gc (which waits for every pin) may remove the files. The holder writes
 * its pid in the file and empties it when it lets go: a pid found there by
 * the next holder is a process killed while fetching, whose staging in
 * ROOT/tmp (named after its pid) is removed then rather than at the next gc.
 */
#define LOCKS_DIR "locks"

/* Removes ROOT/tmp/<pid>-*: what the dead process @pid was staging. */
static void sweep_dead_tmp(struct store *s, pid_t pid)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	char prefix[32];
	size_t n = (size_t)snprintf(prefix, sizeof(prefix), "%d-", (int)pid);

	if (!(d = file_opendir_at(s->tmp_fd, ".")))
		return;
	while ((de = readdir(d))) {
		struct strata_error *e = NULL;

		if (strncmp(de->d_name, prefix, n) != 0)
			continue;
		/* Left for gc when it cannot go now: nothing depends on it. */
		if (path_rm_rf_at(dirfd(d), de->d_name, &e) < 0) {
			log_debug("lock: leftover tmp/%s of process %d: %s", de->d_name, (int)pid,
				  strata_error_msg(e));
			strata_error_free(e);
		}
	}
}

/* After taking the lock in @fd: clears what a killed holder left, then records this process. */
static void holder_take_over(struct store *s, int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char line[24];
	int len;

	if (n > 0) {
		long pid;
		char *end;

		buf[n] = '\0';
		pid = strtol(buf, &end, 10);
		if (end != buf && pid > 0 && pid != (long)getpid() && kill((pid_t)pid, 0) < 0 &&
		    errno == ESRCH)
			sweep_dead_tmp(s, (pid_t)pid);
	}
	len = snprintf(line, sizeof(line), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, line, (size_t)len, 0) != len)
		log_debug("lock: cannot record pid in a digest lock: %s", strerror(errno));
}

int store_digest_lock(struct store *s, const char *digest, bool wait, struct strata_error **err)
{
	cleanup_free char *rel = NULL;
	cleanup_close int fd = -1;

	if (!digest_is_valid(digest))
		return strata_fail_msg(err, EINVAL, "lock: invalid digest '%s'", digest);
	if (s->pin_depth <= 0)
		return strata_fail_msg(err, EDEADLK, "lock %s: the store is not pinned", digest);
	if (mkdirat(s->root_fd, LOCKS_DIR, 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "lock: create '%s'", LOCKS_DIR);
	rel = xasprintf(LOCKS_DIR "/%s", digest_hex(digest));
	fd = openat(s->root_fd, rel, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return strata_fail(err, errno, "lock '%s'", rel);
	while (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EINTR)
			continue;
		if (errno == EWOULDBLOCK && !wait)
			return strata_fail_msg(err, EWOULDBLOCK, "%s is being fetched by another process",
					       digest);
		return strata_fail(err, errno, "lock '%s'", rel);
	}
	holder_take_over(s, fd);
	return steal_fd(&fd);
}

void store_digest_unlock(int fd)
{
	if (fd < 0)
		return;
	/* Emptied first: a pid left in the file says its holder was killed. */
	if (ftruncate(fd, 0) < 0)
		log_debug("lock: cannot empty a digest lock: %s", strerror(errno));
	close(fd);
}

int store_digest_locks_sweep(struct store *s, struct strata_error **err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!(d = file_opendir_at(s->root_fd, LOCKS_DIR)))
		return errno == ENOENT ? 0 : strata_fail(err, errno, "read '%s'", LOCKS_DIR);
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT)
			return strata_fail(err, errno, "remove '%s/%s'", LOCKS_DIR, de->d_name);
	return 0;
}
