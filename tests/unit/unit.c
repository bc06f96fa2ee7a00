/*
 * main() of every unit test binary, and the helpers of unit.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/unit/unit.h"

static bool strict(void)
{
	const char *s = getenv("STRATA_TEST_STRICT");

	return s && strcmp(s, "1") == 0;
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
	if (strict()) {
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
	if (vasprintf(&cmd, fmt, ap) < 0)
		abort();
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
