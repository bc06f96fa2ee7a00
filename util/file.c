/*
 * Whole-file reads and crash-safe writes: a record is never seen half
 * written, because it is written to a temporary name, fsynced and renamed.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

int file_write_all(int fd, const void *buf, size_t len, struct strata_error **err)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return strata_fail(err, errno, "write");
		}
		if (n == 0)
			return strata_fail(err, EIO, "write");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

ssize_t file_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, p + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int file_fsync_dir(int dirfd, struct strata_error **err)
{
	if (fsync(dirfd) < 0 && errno != EINVAL && errno != EROFS)
		return strata_fail(err, errno, "fsync directory");
	return 0;
}

/*
 * Puts @tmpname in the place of @name without asking the filesystem to
 * write either out. A rename over an existing file makes ext4 allocate and
 * start writing the new file's blocks at once (auto_da_alloc, its guard
 * against empty files after a crash for writers that do not fsync), and
 * frees the old file's blocks, which on a filesystem mounted with
 * "discard" and no journal is a synchronous discard: about 1 ms each.
 * A record that is not meant to be durable needs neither: the two names
 * are exchanged (RENAME_EXCHANGE, atomic as rename is) and the old content,
 * never written out, is unlinked. Where the target does not exist yet or
 * the filesystem cannot exchange, a plain rename.
 */
static int replace_quietly(int dirfd, const char *tmpname, const char *name,
			   struct strata_error **err)
{
	int e;

	if (renameat2(dirfd, tmpname, dirfd, name, RENAME_EXCHANGE) == 0) {
		unlinkat(dirfd, tmpname, 0);
		return 0;
	}
	if (renameat(dirfd, tmpname, dirfd, name) == 0)
		return 0;
	e = errno;
	unlinkat(dirfd, tmpname, 0);
	return strata_fail(err, e, "rename into '%s'", name);
}

static int write_atomic(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
			bool durable, struct strata_error **err)
{
	char tmp[64];
	cleanup_close int fd = -1;
	const char *slash = strrchr(name, '/');
	cleanup_free char *tmpname = NULL;
	char rnd[9];

	random_hex(rnd, 8);
	snprintf(tmp, sizeof(tmp), ".tmp-%d-%s", (int)getpid(), rnd);
	/* The temporary file sits beside the target so that rename is atomic. */
	if (slash)
		tmpname = xasprintf("%.*s/%s", (int)(slash - name), name, tmp);
	else
		tmpname = xstrdup(tmp);
	fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return strata_fail(err, errno, "create '%s'", name);
	if (fchmod(fd, mode) < 0 || file_write_all(fd, buf, len, NULL) < 0 ||
	    (durable && fsync(fd) < 0)) {
		int e = errno ? errno : EIO;

		unlinkat(dirfd, tmpname, 0);
		return strata_fail(err, e, "write '%s'", name);
	}
	if (!durable)
		return replace_quietly(dirfd, tmpname, name, err);
	if (renameat(dirfd, tmpname, dirfd, name) < 0) {
		int e = errno;

		unlinkat(dirfd, tmpname, 0);
		return strata_fail(err, e, "rename into '%s'", name);
	}
	if (slash) {
		cleanup_free char *dir = xstrndup(name, (size_t)(slash - name));
		cleanup_close int dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0)
			return file_fsync_dir(dfd, err);
		return 0;
	}
	return file_fsync_dir(dirfd, err);
}

int file_write_atomic_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
			 struct strata_error **err)
{
	return write_atomic(dirfd, name, buf, len, mode, true, err);
}

int file_write_replace_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode,
			  struct strata_error **err)
{
	return write_atomic(dirfd, name, buf, len, mode, false, err);
}

bool file_tmp_is_stale(const char *name)
{
	char *end = NULL;
	long pid;

	if (strncmp(name, ".tmp-", 5) != 0)
		return false;
	pid = strtol(name + 5, &end, 10);
	if (end == name + 5 || *end != '-' || pid <= 0 || pid > INT32_MAX)
		return false;
	/* EPERM: alive, another user's; only a pid that is gone is stale. */
	return kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

int file_tmp_sweep_at(int dfd, struct strata_error **err)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	if (!(d = file_opendir_at(dfd, ".")))
		return strata_fail(err, errno, "read a directory");
	while ((de = readdir(d))) {
		if (!file_tmp_is_stale(de->d_name))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			/* a dir: what a replace exchanged with its temporary file */
			int r = errno == EISDIR ? path_rm_rf_at(dirfd(d), de->d_name, err)
						: strata_fail(err, errno, "remove '%s'", de->d_name);

			if (r < 0) {
				closedir(d);
				return -1;
			}
		}
		n++;
	}
	closedir(d);
	return n;
}

int file_read_fd(int fd, size_t max, char **out, size_t *len, struct strata_error **err)
{
	struct sbuf b = SBUF_INIT;
	char chunk[65536];

	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			sbuf_release(&b);
			return strata_fail(err, errno, "read");
		}
		if (n == 0)
			break;
		if (b.len + (size_t)n > max) {
			sbuf_release(&b);
			return strata_fail(err, EFBIG, "read: more than %zu bytes", max);
		}
		sbuf_add(&b, chunk, (size_t)n);
	}
	*out = sbuf_detach(&b, len);
	return 0;
}

int file_read_regular_at(int dirfd, const char *name, size_t max, char **out, size_t *len,
			 struct strata_error **err)
{
	/* O_NONBLOCK: opening a FIFO waits for a writer; a regular file ignores it */
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", name);
	if (fstat(fd, &st) < 0)
		return strata_fail(err, errno, "'%s'", name);
	if (!S_ISREG(st.st_mode))
		return strata_fail_msg(err, EINVAL, "'%s' is not a regular file", name);
	if (file_read_fd(fd, max, out, len, err) < 0)
		return strata_wrap(err, "'%s'", name);
	return 0;
}

int file_read_at(int dirfd, const char *name, size_t max, char **out, size_t *len,
		 struct strata_error **err)
{
	cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return strata_fail(err, errno, "open '%s'", name);
	if (file_read_fd(fd, max, out, len, err) < 0)
		return strata_wrap(err, "'%s'", name);
	return 0;
}

DIR *file_opendir_at(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d;

	if (fd < 0)
		return NULL;
	if (!(d = fdopendir(fd))) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return d;
}

int file_copy_fd(int in, int out, struct strata_error **err)
{
	char buf[128 * 1024];
	bool try_cfr = true;

	for (;;) {
		ssize_t n;

		if (try_cfr) {
			n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
			if (n > 0)
				continue;
			if (n == 0)
				return 0;
			if (errno == EINTR)
				continue;
			if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
			    errno != EOPNOTSUPP && errno != EBADF)
				return strata_fail(err, errno, "copy");
			try_cfr = false;
		}
		n = read(in, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return strata_fail(err, errno, "read");
		}
		if (n == 0)
			return 0;
		if (file_write_all(out, buf, (size_t)n, err) < 0)
			return -1;
	}
}
