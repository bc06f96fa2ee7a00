/*
 * main() of every unit test binary, and the helpers of unit.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"

bool unit_strict(void)
{
	const char *s = getenv("STRATA_TEST_STRICT");

	return s && strcmp(s, "1") == 0;
}

bool unit_measurable(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return false;
#else
	return !getenv("STRATA_UNDER_VALGRIND");
#endif
}

START_TEST(test_strict_skip)
{
	ck_abort_msg("a root-only test case was skipped under STRATA_TEST_STRICT=1");
}
END_TEST

void unit_need_root(Suite *s, TCase *tc, const char *why)
{
	if (geteuid() == 0) {
		suite_add_tcase(s, tc);
		return;
	}
	printf("SKIP: %s (needs root)\n", why);
	if (unit_strict()) {
		TCase *f = tcase_create("strict-skip");

		tcase_add_test(f, test_strict_skip);
		suite_add_tcase(s, f);
	}
}

char *unit_scratch(void)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = xasprintf("%s/scratch.XXXXXX", tmp && *tmp ? tmp : "/tmp");

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		abort();
	}
	return dir;
}

void unit_scratch_cleanup(char *dir)
{
	if (!dir)
		return;
	path_rm_rf_at(AT_FDCWD, dir, NULL);
	free(dir);
}

void unit_write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	if (fd < 0 || write(fd, content, strlen(content)) != (ssize_t)strlen(content)) {
		perror(path);
		abort();
	}
	close(fd);
}

int unit_sh(const char *fmt, ...)
{
	va_list ap;
	char *cmd = NULL;
	int st;

	va_start(ap, fmt);
	cmd = xvasprintf(fmt, ap);
	va_end(ap);
	st = system(cmd);
	free(cmd);
	if (st < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(void)
{
	SRunner *sr = srunner_create(unit_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? 0 : 1;
}

unsigned char unit_file_tree_byte(int d, int f, size_t i)
{
	return (unsigned char)((i * 2654435761u + (unsigned)(d * 1000 + f)) >> 11);
}

size_t unit_file_tree_size(int dirs, int files, int d, int f)
{
	return d == dirs - 1 && f == files - 1 ? 4u << 20 : 4096;
}

void unit_make_file_tree(int dfd, int dirs, int files)
{
	/* the last file is the largest */
	unsigned char *data = xmalloc(unit_file_tree_size(dirs, files, dirs - 1, files - 1));

	for (int d = 0; d < dirs; d++) {
		cleanup_free char *dir = xasprintf("d%02d", d);

		ck_assert_int_eq(mkdirat(dfd, dir, 0755), 0);
		for (int f = 0; f < files; f++) {
			cleanup_free char *name = xasprintf("%s/f%03d", dir, f);
			size_t n = unit_file_tree_size(dirs, files, d, f);
			int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);

			ck_assert_int_ge(fd, 0);
			for (size_t i = 0; i < n; i++)
				data[i] = unit_file_tree_byte(d, f, i);
			ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
			close(fd);
		}
	}
	free(data);
}

void unit_evict_file_tree(int dfd, int dirs, int files)
{
	for (int d = 0; d < dirs; d++)
		for (int f = 0; f < files; f++) {
			cleanup_free char *name = xasprintf("d%02d/f%03d", d, f);
			cleanup_close int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);

			ck_assert_int_ge(fd, 0);
			ck_assert_int_eq(fdatasync(fd), 0);
			ck_assert_int_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
		}
}

bool unit_uncached(int dfd, const char *name, off_t off)
{
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
	long page = sysconf(_SC_PAGESIZE);
	struct stat sb;
	unsigned char vec;
	void *m;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(fstat(fd, &sb), 0);
	m = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd, 0);
	ck_assert(m != MAP_FAILED);
	ck_assert_int_eq(mincore((char *)m + off / page * page, 1, &vec), 0);
	munmap(m, (size_t)sb.st_size);
	return !(vec & 1);
}

bool unit_uncached_or_skip(int dfd, const char *name, off_t off, const char *what)
{
	if (unit_uncached(dfd, name, off))
		return true;
	/*
	 * tmpfs and the like keep their data, nothing is ever uncached there;
	 * valgrind's mincore says every mapped page is in memory.
	 */
	ck_assert_msg(!unit_strict() || getenv("STRATA_UNDER_VALGRIND"),
		      "%s: cannot drop file data from the cache under $TMPDIR", what);
	printf("SKIP: %s (file data stays cached here)\n", what);
	return false;
}
