#!/bin/sh
# Runs the Check unit suites given as arguments; with VALGRIND=1 under
# valgrind's memcheck (leaks are errors). Each suite's scratch files live in
# a private TMPDIR that is removed afterwards, pass or fail: under /var/tmp,
# which is on disk, so that tests can drop file data from the page cache.
set -u
failed=0
for t in "$@"; do
	scratch=$(mktemp -d /var/tmp/strata-unit.XXXXXX)
	if [ "${VALGRIND:-0}" = 1 ]; then
		# Check forks a child per test; valgrind follows forks and checks
		# each child for leaks when it exits, failing that test. Its notes
		# on syscalls it does not know (openat2) are noise here.
		# valgrind does not know fsopen and friends: tests that need the new
		# mount API see STRATA_UNDER_VALGRIND=1 and accept mount(2).
		# memcheck does not follow the kernel's io_uring writes into
		# buffers: under it files are read one at a time.
		# It runs code 20 to 50 times slower: Check's per-test timeouts grow 10 times.
		CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-10} \
		STRATA_NO_IO_URING=1 STRATA_UNDER_VALGRIND=1 TMPDIR=$scratch valgrind -q --leak-check=full \
			--errors-for-leak-kinds=definite --suppressions="$(dirname "$0")/valgrind.supp" \
			--error-exitcode=99 "$t" >"$scratch.log" 2>&1 || failed=1
		grep -v -e 'unhandled amd64-linux syscall' -e 'You may be able to write' \
			-e 'README_MISSING_SYSCALL' -e 'Nevertheless we consider' \
			-e 'it at http://valgrind.org' "$scratch.log"
		rm -f "$scratch.log"
	else
		TMPDIR=$scratch "$t" || failed=1
	fi
	rm -rf "$scratch"
done
exit $failed
