# A build killed (SIGKILL) in the middle of a long RUN step: the RUN's
# processes die with it (PR_SET_PDEATHSIG on its PID 1, whose namespace
# the kernel then empties), and what it left (its working container,
# mounted, a "Created" record in ps -a) is removed by the next build, or by
# gc; a live build's working container is never touched by either.
. "${0%/*}/../lib.sh"
require_root "builds run RUN steps in containers"
import_busybox
on_cleanup 'pkill -9 -f "sleep $MARK" 2>/dev/null; pkill -9 -f "live-$LIVE" 2>/dev/null; true'

# The RUN steps' cgroup dirs of the killed builds (build-PID-*) go with gc
# or the next build; this cleanup is for a test that fails before.
killed=""
on_cleanup 'for p in $killed; do find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name "build-$p-*" -exec rmdir {} + 2>/dev/null; done; true'
MARK=$((86400 + $$ % 10000)) # a sleep no one else runs
LIVE=$((MARK + 1))
mkdir -p "$TEST_TMP/long" "$TEST_TMP/quick" "$TEST_TMP/live"
printf 'FROM busybox\nRUN echo before > /before\nRUN sh -c "sleep %s; echo never"\n' "$MARK" \
	>"$TEST_TMP/long/Containerfile"
printf 'FROM busybox\nRUN echo quick > /quick\n' >"$TEST_TMP/quick/Containerfile"
printf 'FROM busybox\nRUN sh -c "sleep 12; echo live > /live; : live-%s"\n' "$LIVE" \
	>"$TEST_TMP/live/Containerfile"

mounts() {
	awk -v p="$ROOT/containers/" 'index($5, p) == 1' /proc/self/mountinfo
}
# running PATTERN: how many processes have PATTERN in their command line.
running() {
	pgrep -f "$1" | wc -l
}

# kill_build_in_run: starts the long build, kills it once its RUN sleeps.
kill_build_in_run() {
	"$STRATA_BIN" --root "$ROOT" build -q -t long "$TEST_TMP/long" >/dev/null 2>"$TEST_TMP/long.err" &
	bpid=$!
	track_pid $bpid
	i=0
	until [ "$(running "sleep $MARK")" -gt 0 ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || fail "the RUN step did not start: $(cat "$TEST_TMP/long.err")"
		kill -0 $bpid 2>/dev/null || fail "the build ended early: $(cat "$TEST_TMP/long.err")"
		sleep 0.1
	done
	kill -9 $bpid
	wait $bpid 2>/dev/null || true
	killed="$killed $bpid"
	i=0
	while [ "$(running "sleep $MARK")" -gt 0 ]; do
		i=$((i + 1))
		[ $i -lt 40 ] || fail "the RUN step outlived its build: $(for p in $(pgrep -f "sleep $MARK"); do grep -E "^(Name|State|PPid)" /proc/$p/status | tr "\n" " "; done)"
		sleep 0.05
	done
	assert_eq "$(strata ps -aq | wc -l)" 1 "the killed build's working container"
	assert_contains "$(strata ps -a)" "Created" "ps -a"
	[ "$(mounts | wc -l)" -ge 1 ] || fail "the killed build left no mount (was it in RUN?)"
}

# gc removes what the killed build left.
kill_build_in_run
out=$(strata gc) || fail "gc after a killed build: $out"
assert_contains "$out" "removed 1 working container of builds that are gone"
left=$(for p in $killed; do find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name "build-$p-*"; done)
assert_eq "$left" "" "cgroup dirs of the killed build's RUN step after gc"
assert_eq "$(strata ps -aq)" "" "ps -a after gc"
assert_eq "$(mounts | wc -l)" 0 "mounts after gc"
assert_fsck_clean

# So does the next build.
kill_build_in_run
strata build -q -t quick "$TEST_TMP/quick" >/dev/null || fail "build after a killed build"
assert_eq "$(strata ps -aq)" "" "ps -a after the next build"
assert_eq "$(mounts | wc -l)" 0 "mounts after the next build"
left=$(for p in $killed; do find /sys/fs/cgroup -mindepth 1 -maxdepth 8 -type d -name "build-$p-*"; done)
assert_eq "$left" "" "cgroup dirs of the killed build's RUN step after the next build"
assert_eq "$(strata run --rm quick cat /quick)" quick "the next build's image"
assert_fsck_clean

# A live build's working container: neither gc nor another build touches it.
"$STRATA_BIN" --root "$ROOT" build -q -t live "$TEST_TMP/live" >/dev/null 2>"$TEST_TMP/live.err" &
lpid=$!
track_pid $lpid
i=0
until [ "$(running "live-$LIVE")" -gt 0 ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || fail "the live build's RUN did not start: $(cat "$TEST_TMP/live.err")"
	sleep 0.1
done
live_id=$(strata ps -aq)
[ -n "$live_id" ] || fail "no working container for the live build"
strata build -q -t quick2 "$TEST_TMP/quick" >/dev/null || fail "a build beside a live one"
case "$(strata ps -aq)" in *"$live_id"*) ;; *) fail "a build removed the live build's container" ;; esac
[ "$(running "live-$LIVE")" -gt 0 ] || fail "the live build's RUN ended before the checks: too slow a machine?"
# gc waits for the build to unpin the store, but looks for orphans first.
out=$(strata gc) || fail "gc beside a live build: $out"
assert_not_contains "$out" "removed" "gc beside a live build"
wait $lpid || fail "the live build failed: $(cat "$TEST_TMP/live.err")"
assert_eq "$(strata run --rm live cat /live)" live "the live build's image"
assert_eq "$(strata ps -aq)" "" "ps -a after the live build"
assert_eq "$(mounts | wc -l)" 0 "mounts after the live build"
assert_fsck_clean
