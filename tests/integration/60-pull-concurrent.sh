# Eight pulls of one image into one store at once: each blob is downloaded
# once (counted in the registry's access log), the others wait for the one
# fetching it and find it present; every pull succeeds and prints the ID,
# the layer dirs are whole, fsck is clean and the export is the image's.
. "${0%/*}/../lib.sh"
require_root "builds a three-layer image with RUN"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

REG_ACCESSLOG=1 start_registry reg
LOG=$TEST_TMP/reg.log
import_busybox
mkdir -p "$TEST_TMP/ctx"
cat >"$TEST_TMP/ctx/Containerfile" <<'CF'
FROM busybox
RUN head -c 6000000 /dev/urandom >/a
RUN head -c 6000000 /dev/urandom >/b
CF
strata build -q -t big:v1 "$TEST_TMP/ctx" >/dev/null || fail "build"
strata push -q --tls-verify=false big:v1 "$REG/c/big:v1" >/dev/null || fail "push"
id=$(strata inspect big:v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
strata export big:v1 | sha256sum >"$TEST_TMP/want.sum"
blobs=$(python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
print(m["config"]["digest"])
for l in m["layers"]: print(l["digest"])' "$ROOT/blobs/sha256/$(strata inspect big:v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"][7:])')")
assert_eq "$(printf '%s\n' "$blobs" | wc -l)" 4 "config and three layers"

P=$TEST_TMP/pulled
cp "$LOG" "$LOG.before"
pids=""
for i in 1 2 3 4 5 6 7 8; do
	"$STRATA_BIN" --root "$P" pull -q --tls-verify=false "$REG/c/big:v1" >"$TEST_TMP/out.$i" 2>"$TEST_TMP/err.$i" &
	pids="$pids $!"
done
n=0
for p in $pids; do
	n=$((n + 1))
	wait "$p" || fail "pull $n: $(cat "$TEST_TMP/err.$n")"
done
for i in 1 2 3 4 5 6 7 8; do
	assert_eq "$(cat "$TEST_TMP/out.$i")" "$id" "ID printed by pull $i"
done
# Each blob downloaded once.
new=$(tail -n +"$(($(wc -l <"$LOG.before") + 1))" "$LOG")
for b in $blobs; do
	got=$(printf '%s\n' "$new" | grep -c "\"GET /v2/c/big/blobs/$b HTTP[^\"]*\" 200" || true)
	assert_eq "$got" 1 "downloads of $b by 8 concurrent pulls"
done
ROOT=$P assert_fsck_clean
assert_eq "$("$STRATA_BIN" --root "$P" export "$REG/c/big:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "export after concurrent pulls"
assert_eq "$("$STRATA_BIN" --root "$P" run --rm "$REG/c/big:v1" sh -c 'wc -c </a; wc -c </b')" "6000000
6000000" "the layers of the concurrent pulls"
assert_eq "$(ls -A "$P/tmp")" "" "staging left behind"
# gc removes the lock files (no one holds them), and keeps the image.
"$STRATA_BIN" --root "$P" gc >/dev/null
assert_eq "$(ls -A "$P/locks" 2>/dev/null)" "" "lock files after gc"
ROOT=$P assert_fsck_clean

# A pull waiting for a blob that another one is fetching survives that one
# being killed: the kernel drops the dead holder's lock, the waiter takes it,
# finds the blob absent, fetches it itself and removes what the dead one left
# in ROOT/tmp. The first pull's first layer drips (through the lying
# registry) so that it is killed in the middle of it.
layer1=$(printf '%s\n' "$blobs" | sed -n 2p)
RULES=$TEST_TMP/rules.json
LIAR_LOG=$TEST_TMP/liar.log
printf '[{"method": "GET", "path": "/blobs/%s", "mode": "drip", "arg": 0.2, "times": 1}]\n' \
	"$layer1" >"$RULES"
python3 "${0%/*}/lying-registry.py" "$TEST_TMP/liar.port" "$REG" "$RULES" "$LIAR_LOG" \
	2>"$TEST_TMP/liar.err" &
track_pid $!
i=0
until [ -s "$TEST_TMP/liar.port" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the lying registry did not start: $(cat "$TEST_TMP/liar.err")"
	sleep 0.1
done
LIAR=127.0.0.1:$(cat "$TEST_TMP/liar.port")
K=$TEST_TMP/killed
"$STRATA_BIN" --root "$K" pull -q --tls-verify=false "$LIAR/c/big:v1" >/dev/null 2>&1 &
first=$!
track_pid $first
lockfile=$K/locks/${layer1#sha256:}
i=0
until grep -q "GET .*$layer1 drip" "$LIAR_LOG" 2>/dev/null && [ "$(cat "$lockfile" 2>/dev/null)" = "$first" ]; do
	i=$((i + 1))
	[ $i -lt 200 ] || fail "the first pull did not start fetching $layer1"
	sleep 0.1
done
[ -n "$(ls -A "$K/tmp")" ] || fail "the first pull stages nothing in tmp"
"$STRATA_BIN" --root "$K" pull -q --tls-verify=false "$LIAR/c/big:v1" >"$TEST_TMP/second.out" \
	2>"$TEST_TMP/second.err" &
second=$!
track_pid $second
# Blocked on a digest lock (a "->" line of /proc/locks names the waiter).
i=0
until grep -q -- "-> FLOCK  *ADVISORY  *WRITE $second " /proc/locks; do
	i=$((i + 1))
	kill -0 $second 2>/dev/null || fail "the second pull ended while the first fetched: $(cat "$TEST_TMP/second.err")"
	[ $i -lt 200 ] || fail "the second pull does not wait for the first"
	sleep 0.1
done
kill -9 $first
wait $first 2>/dev/null || true
t0=$(date +%s)
wait $second || fail "the waiting pull after the fetching one was killed: $(cat "$TEST_TMP/second.err")"
[ $(($(date +%s) - t0)) -lt 30 ] || fail "the waiting pull took $(($(date +%s) - t0)) s after the kill"
assert_eq "$(cat "$TEST_TMP/second.out")" "$id" "ID printed by the pull that took over"
assert_eq "$(grep -c "GET .*$layer1" "$LIAR_LOG")" 2 "fetches of $layer1 (the killed one and the waiter's)"
assert_eq "$(ls -A "$K/tmp")" "" "the killed pull's staging after the waiter took over"
ROOT=$K assert_fsck_clean
assert_eq "$("$STRATA_BIN" --root "$K" export "$LIAR/c/big:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "export after the takeover"
