/*
 * Read-ahead for a tree being walked and read (a layer being packed). A
 * directory or a file that is not cached makes the walker wait on the
 * disk, one read at a time, and while it waits (a pack's compressor
 * workers run dry) nothing else happens. A thread walks the tree in the
 * walker's order (depth first, names sorted), a little ahead of it.
 *
 * The thread starts only once the walk has met the disk: a read of file
 * data that was not cached (the walker's reads go through
 * preadv2(RWF_NOWAIT) first), or blocks read for the walker's thread
 * (getrusage's ru_inblock: directories and inodes), checked every
 * CHECK_EVERY entries. On a cached tree there is no thread at all: reading
 * its directories a second time cost 2 to 3% of a pack's CPU. Then:
 *
 *  - always, it reads the directories, so that the walker finds them cached
 *    (at most DIR_AHEAD entries ahead of the walker);
 *  - once the walker has met file data that was not cached, it also opens
 *    the regular files ahead and asks the kernel to read those that are not
 *    cached either (POSIX_FADV_WILLNEED), at most FILE_AHEAD entries and
 *    DATA_AHEAD bytes ahead, so that many reads are in flight at once;
 *    WARM_RUN cached files in a row end that until the walker meets
 *    uncached data again.
 *
 * Files the walker is already past are left alone. The thread only reads,
 * never fails the walk, and stops when told to.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

#define DIR_AHEAD 256u
#define FILE_AHEAD 4096u
#define DATA_AHEAD (64ull << 20)
#define WARM_RUN 64
#define CHECK_EVERY 16u

struct read_ahead {
	pthread_t thread;
	bool running;		 /* the thread was started */
	long inblock;		 /* the walker's blocks read at the start (-1: unknown) */
	int dirfd; /* the walker's, open until read_ahead_stop */
	atomic_bool stop;
	atomic_bool cold;	 /* the walker met data that was not cached */
	atomic_bool nowait;	 /* preadv2(RWF_NOWAIT) works here */
	atomic_ullong entries;	 /* entries the walker has done */
	atomic_ullong bytes;	 /* file bytes the walker has read */
	unsigned long long seen; /* entries this thread has reached */
	unsigned long long asked; /* file bytes this thread asked for */
	unsigned warm_run;	 /* cached files met in a row */
};

struct ahead_name {
	char *name;
	unsigned char type;
};

static int cmp_ahead_name(const void *a, const void *b)
{
	return strcmp(((const struct ahead_name *)a)->name, ((const struct ahead_name *)b)->name);
}

static bool stopped(struct read_ahead *ra)
{
	return atomic_load_explicit(&ra->stop, memory_order_relaxed);
}

static bool cold(struct read_ahead *ra)
{
	return atomic_load_explicit(&ra->cold, memory_order_relaxed);
}

/*
 * Waits until this thread may go one entry further; false when told to
 * stop. *behind: the walker is already past that entry.
 */
static bool wait_turn(struct read_ahead *ra, bool *behind)
{
	for (;;) {
		unsigned long long done = atomic_load_explicit(&ra->entries, memory_order_relaxed);
		unsigned long long got = atomic_load_explicit(&ra->bytes, memory_order_relaxed);
		bool c = cold(ra);

		if (stopped(ra))
			return false;
		*behind = ra->seen <= done;
		if (ra->seen <= done + (c ? FILE_AHEAD : DIR_AHEAD) &&
		    (!c || ra->asked <= got + DATA_AHEAD))
			return true;
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
}

/*
 * Asks the kernel to read the file @name of @dfd when its data is not
 * cached. Many cached files in a row mean the tree is warm again (a few
 * files had been evicted): back to directories only, until the walker
 * meets uncached data again.
 */
static void ahead_file(struct read_ahead *ra, int dfd, const char *name)
{
	struct stat st;
	char c;
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
		if (preadv2(fd, &(struct iovec){ &c, 1 }, 1, 0, RWF_NOWAIT) < 0 && errno == EAGAIN) {
			posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
			ra->asked += (unsigned long long)st.st_size;
			ra->warm_run = 0;
		} else if (++ra->warm_run >= WARM_RUN) {
			atomic_store(&ra->cold, false);
			ra->warm_run = 0;
		}
	}
	close(fd);
}

static void ahead_dir(struct read_ahead *ra, int fd)
{
	int dup = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	struct ahead_name *names = NULL;
	size_t n = 0, cap = 0, others = 0;

	if (dup < 0)
		return;
	if (!(d = fdopendir(dup))) {
		close(dup);
		return;
	}
	while ((de = readdir(d)) && !stopped(ra)) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* Warm, only directories are read; the others only count. */
		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && !cold(ra)) {
			others++;
			continue;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 32;
			names = xrealloc(names, cap * sizeof(*names));
		}
		names[n++] = (struct ahead_name){ xstrdup(de->d_name), de->d_type };
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_ahead_name);
	/* The walker meets these among the directories; counting them first is near enough. */
	ra->seen += others;
	for (size_t i = 0; i < n; i++) {
		unsigned char t = names[i].type;
		bool behind = false;
		int sub;

		ra->seen++;
		if (wait_turn(ra, &behind) && t == DT_REG) {
			if (cold(ra) && !behind)
				ahead_file(ra, fd, names[i].name);
		} else if (!stopped(ra) && (t == DT_DIR || t == DT_UNKNOWN) &&
			   (sub = openat(fd, names[i].name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) >= 0) {
			ahead_dir(ra, sub);
			close(sub);
		}
		free(names[i].name);
	}
	free(names);
}

static void *ahead_main(void *arg)
{
	struct read_ahead *ra = arg;

	ahead_dir(ra, ra->dirfd);
	return NULL;
}

/* Blocks read for the calling thread so far (-1: unknown). */
static long thread_inblock(void)
{
	struct rusage ru;

	return getrusage(RUSAGE_THREAD, &ru) == 0 ? ru.ru_inblock : -1;
}

struct read_ahead *read_ahead_start(int dirfd)
{
	struct read_ahead *ra;

	if (sys_ncpus() < 2)
		return NULL;
	ra = xcalloc(1, sizeof(*ra));
	atomic_init(&ra->stop, false);
	atomic_init(&ra->cold, false);
	atomic_init(&ra->nowait, true);
	atomic_init(&ra->entries, 0);
	atomic_init(&ra->bytes, 0);
	ra->dirfd = dirfd;
	ra->inblock = thread_inblock();
	return ra;
}

/*
 * Starts the thread, once (the walker's thread only). When it cannot be
 * started, the walk goes on without: blocks read no longer count, and the
 * walk stays cold, so that uncached data does not ask again.
 */
static void run(struct read_ahead *ra)
{
	if (ra->running)
		return;
	ra->running = pthread_create(&ra->thread, NULL, ahead_main, ra) == 0;
	if (!ra->running)
		ra->inblock = -1;
}

void read_ahead_entry_done(struct read_ahead *ra)
{
	unsigned long long n;

	if (!ra)
		return;
	n = atomic_fetch_add_explicit(&ra->entries, 1, memory_order_relaxed) + 1;
	if (!ra->running && ra->inblock >= 0 && n % CHECK_EVERY == 0 &&
	    thread_inblock() > ra->inblock)
		run(ra);
}

/* @r, after counting the bytes it read. */
static ssize_t counted(struct read_ahead *ra, ssize_t r)
{
	if (r > 0)
		atomic_fetch_add_explicit(&ra->bytes, (unsigned long long)r, memory_order_relaxed);
	return r;
}

ssize_t read_ahead_read(struct read_ahead *ra, int fd, void *buf, size_t n)
{
	ssize_t r;

	if (!ra)
		return read(fd, buf, n);
	if (!cold(ra) && atomic_load_explicit(&ra->nowait, memory_order_relaxed)) {
		r = preadv2(fd, &(struct iovec){ buf, n }, 1, -1, RWF_NOWAIT);
		if (r >= 0 || errno == EINTR)
			return counted(ra, r);
		if (errno == EAGAIN) {
			atomic_store(&ra->cold, true);
			run(ra);
		} else {
			atomic_store(&ra->nowait, false); /* EOPNOTSUPP and the like */
		}
	}
	return counted(ra, read(fd, buf, n));
}

bool read_ahead_running(const struct read_ahead *ra)
{
	return ra && ra->running;
}

bool read_ahead_cold(struct read_ahead *ra)
{
	return ra && cold(ra);
}

void read_ahead_stop(struct read_ahead *ra)
{
	if (!ra)
		return;
	atomic_store(&ra->stop, true);
	if (ra->running)
		pthread_join(ra->thread, NULL);
	if (ra->asked)
		log_debug("read-ahead: file data was not cached: asked the kernel for %llu MB ahead",
			  ra->asked >> 20);
	free(ra);
}
