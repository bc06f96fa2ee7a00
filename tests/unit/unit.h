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

/* True under STRATA_TEST_STRICT=1, where a test that cannot run here must fail. */
bool unit_strict(void);

/*
 * False where time and memory figures mean nothing: under valgrind
 * (STRATA_UNDER_VALGRIND=1) or in a sanitized build, whose instrumented code
 * runs slower than the libraries it is compared with and keeps memory of its own.
 */
bool unit_measurable(void);

/* A fresh scratch directory under $TMPDIR (removed by unit_scratch_cleanup). */
char *unit_scratch(void);

/* Removes a scratch directory made by unit_scratch. */
void unit_scratch_cleanup(char *dir);

/* Writes @content to @path (host path), creating it with @mode. */
void unit_write_file(const char *path, const char *content, mode_t mode);

/*
 * Makes @dirs directories d00.. of @files files f000.. each under @dfd: 4
 * KiB files, the very last one 4 MiB, byte i of d/f being
 * unit_file_tree_byte(d, f, i).
 */
void unit_make_file_tree(int dfd, int dirs, int files);

/* Byte @i of file @f of directory @d of unit_make_file_tree. */
unsigned char unit_file_tree_byte(int d, int f, size_t i);

/* Size of file @f of directory @d of a unit_make_file_tree(@dirs, @files). */
size_t unit_file_tree_size(int dirs, int files, int d, int f);

/* Drops the cached data of every file of unit_make_file_tree (DONTNEED after fdatasync). */
void unit_evict_file_tree(int dfd, int dirs, int files);

/* True when the page of @name in @dfd at @off is not cached (asks mincore: reads nothing). */
bool unit_uncached(int dfd, const char *name, off_t off);

/*
 * unit_uncached, or else prints "SKIP: @what" and returns false (failing
 * under STRATA_TEST_STRICT=1 unless under valgrind, which cannot tell).
 */
bool unit_uncached_or_skip(int dfd, const char *name, off_t off, const char *what);

/* Runs a shell command; returns its exit status. */
int unit_sh(const char *fmt, ...) FMT(1, 2);

#endif
