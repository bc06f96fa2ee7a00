#!/bin/sh
# Runs the Check unit suites given as arguments; with VALGRIND=1 under
# valgrind's memcheck (leaks are errors). Each suite's scratch files live in
# a private TMPDIR that is removed afterwards, pass or fail.
set -u
failed=0
for t in "$@"; do
	scratch=$(mktemp -d /tmp/strata-unit.XXXXXX)
	if [ "${VALGRIND:-0}" = 1 ]; then
		# Forking would hide the children from valgrind's leak check.
		TMPDIR=$scratch CK_FORK=no valgrind -q --leak-check=full --errors-for-leak-kinds=definite \
			--error-exitcode=99 "$t" || failed=1
	else
		TMPDIR=$scratch "$t" || failed=1
	fi
	rm -rf "$scratch"
done
exit $failed
