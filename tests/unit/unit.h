/*
 * Shared helpers of the Check unit suites. Each tests/unit/test-<module>.c
 * defines unit_suite(); unit.c holds main(), which runs it.
 */
#ifndef STRATA_TESTS_UNIT_H
#define STRATA_TESTS_UNIT_H

#include <check.h>
#include <stdbool.h>

#include "util/util.h"

/* The suite of this test binary. */
Suite *unit_suite(void);

/* Asserts that @ret is not negative; prints the error's message otherwise. */
#define ck_assert_ok(ret, err)                                                                     \
	ck_assert_msg((ret) >= 0, "%s failed: %s", #ret, strata_error_msg(err))

/*
 * Adds @tc to @s when running as root. Otherwise prints "SKIP: why"; under
 * STRATA_TEST_STRICT=1 a skip fails the run.
 */
void unit_need_root(Suite *s, TCase *tc, const char *why);

/* A fresh scratch directory under $TMPDIR (removed by unit_scratch_cleanup). */
char *unit_scratch(void);

/* Removes a scratch directory made by unit_scratch. */
void unit_scratch_cleanup(char *dir);

/* Writes @content to @path (host path), creating it with @mode. */
void unit_write_file(const char *path, const char *content, mode_t mode);

/* Runs a shell command; returns its exit status. */
int unit_sh(const char *fmt, ...) FMT(1, 2);

#endif
