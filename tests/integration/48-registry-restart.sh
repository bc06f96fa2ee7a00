# The registry killed and restarted in the middle of a pull, then of a push:
# Debian's docker-registry serves an image with a 24 MB layer of random
# bytes to a pull slowed down by STRATA_RATE_LIMIT; once part of the layer
# is in the store's staging dir the registry is killed (SIGKILL), and
# started again a moment later on the same port with the same storage. The
# pull retries with backoff, resumes, and the image exports equal to its
# source; fsck is clean and nothing is left in tmp/. Then a slowed chunked
# push of the same image to a new repository, killed and restarted once
# part of it is in the registry's upload dir: the push retries and
# finishes, and a pull of what it pushed exports equal to the source.
. "${0%/*}/../lib.sh"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
mkdir -p "$TEST_TMP/tree"
head -c $((24 << 20)) /dev/urandom >"$TEST_TMP/tree/random"
echo small >"$TEST_TMP/tree/small"
tar -C "$TEST_TMP/tree" --numeric-owner -cf "$TEST_TMP/big.tar" .
strata import "$TEST_TMP/big.tar" big >/dev/null
strata push -q --tls-verify=false big "$REG/big:v1" >/dev/null || fail "push the big image"
strata export big | sha256sum >"$TEST_TMP/want.sum"

P=$TEST_TMP/puller
STRATA_RATE_LIMIT=3m "$STRATA_BIN" --root "$P" pull --tls-verify=false "$REG/big:v1" \
	>"$TEST_TMP/pull.out" 2>"$TEST_TMP/pull.err" &
pull_pid=$!
track_pid $pull_pid

# Kills the registry once DIR holds more than 4 MB: the transfer of
# process PID ("pull" or "push", its stderr in $TEST_TMP/WHAT.err) is then
# well under way.
kill_registry_after_4mb() {
	i=0
	while :; do
		got=$(du -sb "$1" 2>/dev/null | cut -f1)
		[ "${got:-0}" -gt $((4 << 20)) ] && break
		i=$((i + 1))
		[ $i -lt 300 ] || fail "the $3 did not get going: $(cat "$TEST_TMP/$3.err")"
		kill -0 "$2" 2>/dev/null || fail "the $3 ended before the registry was killed: $(cat "$TEST_TMP/$3.err")"
		sleep 0.1
	done
	kill -9 "$REG_PID"
	wait "$REG_PID" 2>/dev/null || true
}

# A few MB of the layer in staging, then the registry is killed.
kill_registry_after_4mb "$P/tmp" $pull_pid pull
curl -s -o /dev/null "http://$REG/v2/" && fail "the registry still answers"
sleep 1.5
kill -0 $pull_pid 2>/dev/null || fail "the pull gave up while the registry was down: $(cat "$TEST_TMP/pull.err")"
REG_KEEP_PORT=1 start_registry reg

wait $pull_pid || fail "the pull did not survive the restart: $(cat "$TEST_TMP/pull.err")"
err=$(cat "$TEST_TMP/pull.err")
assert_contains "$err" "connection lost after"
n=$(printf '%s\n' "$err" | sed -n 's/.*connection lost after \([0-9]*\) bytes, resuming.*/\1/p' | head -1)
[ "${n:-0}" -gt $((4 << 20)) ] || fail "the pull did not resume after the bytes it had: $err"
assert_contains "$err" "retrying"
assert_contains "$err" "Tagged $REG/big:v1"
assert_eq "$("$STRATA_BIN" --root "$P" export "$REG/big:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "export after the restart"
ROOT=$P assert_fsck_clean
assert_eq "$(ls -A "$P/tmp")" "" "staging left behind"

# The same for a push (chunked: the layer is over 16 MiB).
# An upload (the blob-info cache would mount the layer from big instead).
rm -f "$ROOT/blob-info.json"
STRATA_RATE_LIMIT=3m strata push --tls-verify=false big "$REG/big2:v1" >"$TEST_TMP/push.out" 2>"$TEST_TMP/push.err" &
push_pid=$!
track_pid $push_pid
kill_registry_after_4mb "$REG_DATA/docker/registry/v2/repositories/big2/_uploads" $push_pid push
sleep 1.5
kill -0 $push_pid 2>/dev/null || fail "the push gave up while the registry was down: $(cat "$TEST_TMP/push.err")"
REG_KEEP_PORT=1 start_registry reg
wait $push_pid || fail "the push did not survive the restart: $(cat "$TEST_TMP/push.err")"
err=$(cat "$TEST_TMP/push.err")
assert_contains "$err" "connection lost"
assert_contains "$err" "Manifest sha256:"
assert_eq "$(cat "$TEST_TMP/push.out")" "$(strata inspect big | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])')" "pushed digest"
Q=$TEST_TMP/second
"$STRATA_BIN" --root "$Q" pull -q --tls-verify=false "$REG/big2:v1" >/dev/null || fail "pull what the interrupted push left"
assert_eq "$("$STRATA_BIN" --root "$Q" export "$REG/big2:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "export after the interrupted push"
ROOT=$Q assert_fsck_clean
assert_fsck_clean
