#!/bin/sh
# Runs tests/integration/*.sh (or those whose name contains $T), one
# process each, and ends with "N passed, N failed". Each run has its own
# base directory, so runs in several checkouts do not disturb each other;
# after each test it checks that nothing was leaked: no mount and no temp
# dir of the test is left.
set -u
cd "$(dirname "$0")/.."
# The tests use the system's own tools (Debian's packages): a PATH that puts
# version-manager shims first (pyenv's python3 is a chain of shell scripts)
# would cost seconds per call on a loaded machine.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
export PATH
base=$(mktemp -d /tmp/strata-run.XXXXXX)
export STRATA_TEST_BASE=$base
export STRATA_TEST_CACHE=$base/cache
pass=0 failn=0 skipn=0
failed_names=""
timeout_s=${STRATA_TEST_TIMEOUT:-600}

unmount_under() {
	awk -v p="$1" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null; done
}
# Interrupted or killed, the runner still takes away what it made.
trap 'unmount_under "$base/"; rm -rf "$base"' EXIT
trap 'exit 130' INT TERM HUP

for t in tests/integration/*.sh; do
	name=$(basename "$t" .sh)
	if [ -n "${T:-}" ]; then
		case "$name" in *"$T"*) ;; *) continue ;; esac
	fi
	log=$base/log
	start=$(date +%s)
	# A test that needs longer says so in a "# test-timeout: SECONDS" line.
	t_timeout=$(sed -n 's/^# test-timeout: \([0-9][0-9]*\)$/\1/p' "$t" | head -1)
	[ -n "$t_timeout" ] && [ "$t_timeout" -gt "$timeout_s" ] || t_timeout=$timeout_s
	timeout -k 10 "$t_timeout" sh "$t" >"$log" 2>&1
	rc=$?
	dur=$(($(date +%s) - start))
	leaked=$(awk -v p="$base/strata-test." 'index($5, p) == 1' /proc/self/mountinfo | wc -l)
	leftover=$(ls -d "$base"/strata-test.* 2>/dev/null | wc -l)
	# A process still running with the test's temp dir in its command line
	# (a server the test started and did not stop) is a leak too.
	procs=$(pgrep -f "$base/strata-test\." | wc -l)
	if [ "$rc" = 0 ] && { [ "$leaked" != 0 ] || [ "$leftover" != 0 ] || [ "$procs" != 0 ]; }; then
		echo "LEAK: $name left $leaked mounts, $leftover temp dirs and $procs processes" >>"$log"
		pgrep -a -f "$base/strata-test\." >>"$log"
		rc=1
	fi
	pkill -9 -f "$base/strata-test\." 2>/dev/null
	# Whatever a failed test left, do not let it poison the next one.
	unmount_under "$base/strata-test."
	rm -rf "$base"/strata-test.* 2>/dev/null
	case $rc in
	0)
		pass=$((pass + 1))
		echo "PASS $name (${dur}s)"
		;;
	77)
		skipn=$((skipn + 1))
		echo "SKIP $name: $(grep '^SKIP' "$log" | head -1 | cut -c7-)"
		;;
	*)
		failn=$((failn + 1))
		failed_names="$failed_names $name"
		[ $rc = 124 ] && echo "TIMEOUT after ${t_timeout}s" >>"$log"
		echo "FAIL $name (${dur}s, status $rc)"
		tail -n 30 "$log" | sed 's/^/    /'
		;;
	esac
done
unmount_under "$base/"
rm -rf "$base"
echo "$pass passed, $failn failed, $skipn skipped"
[ -n "$failed_names" ] && echo "failed:$failed_names"
[ $failn = 0 ] || exit 1
if [ $skipn != 0 ] && [ "${STRATA_TEST_STRICT:-0}" = 1 ]; then
	echo "skips are failures under STRATA_TEST_STRICT=1"
	exit 1
fi
exit 0
