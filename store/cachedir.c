/*
 * The directories of RUN --mount=type=cache: ROOT/buildcache/<hex>.<n>/,
 * where <hex> is the SHA-256 of the cache id and <n> the instance (0, and
 * more for "private" steps that found the others in use). Beside each, a
 * lock file <hex>.<n>.lock holds an flock for as long as a step uses the
 * dir: shared by "shared" steps, exclusive for "locked" and "private"
 * ones and while the dir is first made; prune takes it exclusively without
 * waiting, so a cache in use in this or another process is never removed.
 * The lock file's mtime is the cache's last use. <hex>.id names the id.
 * Nothing here is part of a layer, a cache key or gc's reachability: gc
 * never looks into ROOT/buildcache, only `builder prune` empties it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store-int.h"

/* At most this many instances of one id (private steps running at once). */
#define CACHEDIR_MAX_INSTANCES 64

static int open_base(struct store *s, struct strata_error **err)
{
	int fd;

	if (mkdirat(s->root_fd, "buildcache", 0700) < 0 && errno != EEXIST)
		return strata_fail(err, errno, "create '%s/buildcache'", s->root);
	fd = openat(s->root_fd, "buildcache", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return strata_fail(err, errno, "open '%s/buildcache'", s->root);
	return fd;
}

static int do_flock(int fd, int op)
{
	int r;

	do
		r = flock(fd, op);
	while (r < 0 && errno == EINTR);
	return r;
}

/*
 * Opens and locks (@op) the lock file @name under @dfd: 1 when held, 0 when
 * LOCK_NB found it busy. A lock file prune unlinked while we waited is
 * opened again.
 */
static int lock_file(int dfd, const char *name, int op, int *out, struct strata_error **err)
{
	for (;;) {
		cleanup_close int fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
					      0600);
		struct stat st;

		if (fd < 0)
			return strata_fail(err, errno, "open the cache lock '%s'", name);
		if (do_flock(fd, op) < 0) {
			if (errno == EWOULDBLOCK)
				return 0;
			return strata_fail(err, errno, "lock the cache '%s'", name);
		}
		if (fstat(fd, &st) < 0)
			return strata_fail(err, errno, "stat the cache lock '%s'", name);
		if (st.st_nlink > 0) {
			*out = steal_fd(&fd);
			return 1;
		}
	}
}

int store_cachedir_open(struct store *s, const char *id, enum store_cachedir_sharing sharing,
			struct store_cachedir *out, struct strata_error **err)
{
	char key[DIGEST_STR_LEN];
	cleanup_close int dfd = open_base(s, err);
	const char *hex;
	int lockfd = -1;
	unsigned n;

	memset(out, 0, sizeof(*out));
	out->lock_fd = -1;
	if (dfd < 0)
		return -1;
	digest_buf(id, strlen(id), key);
	hex = digest_hex(key);
	for (n = 0; n < CACHEDIR_MAX_INSTANCES; n++) {
		cleanup_free char *lname = xasprintf("%s.%u.lock", hex, n);
		int op = sharing == STORE_CACHEDIR_SHARED ? LOCK_SH : LOCK_EX;
		int r;

		if (sharing == STORE_CACHEDIR_PRIVATE)
			op |= LOCK_NB;
		r = lock_file(dfd, lname, op, &lockfd, err);
		if (r < 0)
			return -1;
		if (r > 0)
			break;
	}
	if (n == CACHEDIR_MAX_INSTANCES)
		return strata_fail_msg(err, EBUSY, "cache '%s': %d private copies in use", id,
				       CACHEDIR_MAX_INSTANCES);
	out->lock_fd = lockfd;
	out->path = xasprintf("%s/buildcache/%s.%u", s->root, hex, n);
	{
		cleanup_free char *dname = xasprintf("%s.%u", hex, n);
		cleanup_free char *idname = xasprintf("%s.id", hex);
		struct stat st;

		if (fstatat(dfd, dname, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				goto fail_errno;
			/* made under the exclusive lock, so that its maker can fill it first */
			if (sharing == STORE_CACHEDIR_SHARED &&
			    (do_flock(lockfd, LOCK_UN) < 0 || do_flock(lockfd, LOCK_EX) < 0))
				goto fail_errno;
			if (mkdirat(dfd, dname, 0755) == 0)
				out->is_new = true;
			else if (errno != EEXIST)
				goto fail_errno;
		} else if (!S_ISDIR(st.st_mode)) {
			strata_fail_msg(err, ENOTDIR, "cache '%s': '%s' is not a directory", id,
					out->path);
			goto fail;
		}
		if (faccessat(dfd, idname, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		    file_write_atomic_at(dfd, idname, id, strlen(id), 0600, err) < 0)
			goto fail;
	}
	futimens(lockfd, NULL); /* the last use, for prune --filter until= */
	out->is_shared = sharing == STORE_CACHEDIR_SHARED;
	return 0;
fail_errno:
	strata_fail(err, errno, "cache '%s': '%s'", id, out->path);
fail:
	store_cachedir_close(out);
	return -1;
}

int store_cachedir_ready(struct store_cachedir *c, struct strata_error **err)
{
	/*
	 * Back to shared whenever it was taken exclusively to make the dir,
	 * made here or by another user in between (a no-op when already shared).
	 */
	if (c->is_shared && do_flock(c->lock_fd, LOCK_SH) < 0)
		return strata_fail(err, errno, "lock the cache '%s'", c->path);
	return 0;
}

void store_cachedir_close(struct store_cachedir *c)
{
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	free(c->path);
	c->path = NULL;
	c->lock_fd = -1;
}

/* Removes one idle instance (its lock file @lname under @dfd); 1 when removed, 0 when in use. */
static int prune_one(int dfd, const char *lname, int64_t until_age, struct strata_error **err)
{
	cleanup_close int fd = -1;
	cleanup_free char *dname = xstrndup(lname, strlen(lname) - strlen(".lock"));
	struct stat st;
	int r = lock_file(dfd, lname, LOCK_EX | LOCK_NB, &fd, err);

	if (r <= 0)
		return r;
	if (until_age >= 0 && fstat(fd, &st) == 0 &&
	    (int64_t)(time_now_ns() / 1000000000LL) - (int64_t)st.st_mtime < until_age)
		return 0;
	if (path_rm_rf_at(dfd, dname, err) < 0)
		return -1;
	/* unlinked while held: a waiter finds it unlinked and opens a new one */
	if (unlinkat(dfd, lname, 0) < 0 && errno != ENOENT)
		return strata_fail(err, errno, "remove '%s'", lname);
	return 1;
}

int store_cachedir_prune(struct store *s, int64_t until_age,
			 void (*report)(const char *id, void *arg), void *arg, uint64_t *removed,
			 struct strata_error **err)
{
	cleanup_close int dfd = -1;
	cleanup_dir DIR *d = NULL;
	cleanup_strv char **locks = xcalloc(1, sizeof(char *));
	struct dirent *de;

	*removed = 0;
	if (faccessat(s->root_fd, "buildcache", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return 0;
	dfd = open_base(s, err);
	if (dfd < 0)
		return -1;
	if (!(d = file_opendir_at(dfd, ".")))
		return strata_fail(err, errno, "read '%s/buildcache'", s->root);
	while ((de = readdir(d)))
		if (str_has_suffix(de->d_name, ".lock"))
			strv_append(&locks, de->d_name);
	for (size_t i = 0; locks[i]; i++) {
		cleanup_free char *idname = NULL;
		cleanup_free char *id = NULL;
		const char *dot = strchr(locks[i], '.');
		size_t len;
		int r = prune_one(dfd, locks[i], until_age, err);

		if (r < 0)
			return -1;
		if (r == 0 || !dot)
			continue;
		(*removed)++;
		idname = xasprintf("%.*s.id", (int)(dot - locks[i]), locks[i]);
		if (report && file_read_at(dfd, idname, 4096, &id, &len, NULL) == 0)
			report(id, arg);
		else if (report)
			report(locks[i], arg);
	}
	/* an id file whose instances are all gone goes too */
	rewinddir(d);
	while ((de = readdir(d))) {
		cleanup_free char *l0 = NULL;
		const char *dot = strchr(de->d_name, '.');

		if (!str_has_suffix(de->d_name, ".id") || !dot)
			continue;
		l0 = xasprintf("%.*s.0.lock", (int)(dot - de->d_name), de->d_name);
		if (faccessat(dfd, l0, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			unlinkat(dfd, de->d_name, 0);
	}
	return 0;
}
