# Progress of pull and push on stderr. Not a TTY: one line per finished blob
# (and the tag or manifest line), no escape sequences; -q: nothing at all.
# On a TTY (a pty made by python3), with the transfer slowed down by
# STRATA_RATE_LIMIT: a line per blob with bytes done / total, rate and ETA,
# redrawn in place with cursor-up and erase-line sequences.
. "${0%/*}/../lib.sh"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
import_busybox
layer=$(ls -S "$ROOT/blobs/sha256" | head -1)
ESC=$(printf '\033')

# Push, not a TTY: config and layer, one line each, then the manifest.
err=$(strata push --tls-verify=false busybox "$REG/p/bb:v1" 2>&1 >/dev/null) || fail "push: $err"
assert_eq "$(printf '%s\n' "$err" | wc -l)" 3 "push progress lines: $err"
assert_eq "$(printf '%s\n' "$err" | grep -c '^Blob sha256:[0-9a-f]\{12\}: [0-9.]*[kM]\?B$')" 2 "blob lines: $err"
assert_contains "$err" "Blob sha256:$(echo "$layer" | cut -c1-12): "
assert_contains "$(printf '%s\n' "$err" | tail -1)" "Manifest sha256:"
assert_not_contains "$err" "$ESC" "escape sequences off a TTY"
# Again: both blobs are there.
err=$(strata push --tls-verify=false busybox "$REG/p/bb:v1" 2>&1 >/dev/null)
assert_eq "$(printf '%s\n' "$err" | grep -c ': already in the registry$')" 2 "second push: $err"
# -q: silent.
err=$(strata push -q --tls-verify=false busybox "$REG/p/bb:v2" 2>&1 >/dev/null)
assert_eq "$err" "" "push -q"

# Pull, not a TTY.
P1=$TEST_TMP/p1
err=$("$STRATA_BIN" --root "$P1" pull --tls-verify=false "$REG/p/bb:v1" 2>&1 >/dev/null) || fail "pull: $err"
assert_eq "$(printf '%s\n' "$err" | wc -l)" 3 "pull progress lines: $err"
assert_eq "$(printf '%s\n' "$err" | grep -c '^Blob sha256:[0-9a-f]\{12\}: [0-9.]*[kM]\?B$')" 2 "blob lines: $err"
assert_contains "$(printf '%s\n' "$err" | tail -1)" "Tagged $REG/p/bb:v1"
assert_not_contains "$err" "$ESC" "escape sequences off a TTY"
err=$("$STRATA_BIN" --root "$TEST_TMP/p2" pull -q --tls-verify=false "$REG/p/bb:v1" 2>&1 >/dev/null)
assert_eq "$err" "" "pull -q"

# On a TTY: in place, with rate and ETA.
cat >"$TEST_TMP/pty.py" <<'PY'
import os, subprocess, sys
master, slave = os.openpty()
p = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=slave)
os.close(slave)
out = b""
while True:
    try:
        b = os.read(master, 65536)
    except OSError:
        break
    if not b:
        break
    out += b
open(sys.argv[1], "wb").write(out)
sys.exit(p.wait())
PY
tty_check() {
	o=$(cat "$1")
	assert_contains "$o" "${ESC}[K" "erase-line on a TTY"
	assert_contains "$o" "${ESC}[1A" "no cursor-up before a redraw"
	printf "%s" "$o" | grep -q "[0-9][kM]\?B/s  ETA [0-9]\+s" || fail "no rate and ETA"
	assert_contains "$o" " / 1.04MB" "bytes done / total"
	printf '%s' "$o" | grep -q "Blob sha256:$(echo "$layer" | cut -c1-12): \[=*>\? *\] [0-9.]*[kM]\?B / 1.04MB" ||
		fail "no progress bar line for the layer"
	# The last state of the layer's line is the finished one.
	printf '%s' "$o" | tr '\r' '\n' | grep "Blob sha256:$(echo "$layer" | cut -c1-12)" | tail -1 |
		grep -q ': 1.04MB$' || fail "the layer's line does not end finished"
}
STRATA_RATE_LIMIT=400k python3 "$TEST_TMP/pty.py" "$TEST_TMP/pull.tty" \
	"$STRATA_BIN" --root "$TEST_TMP/p3" pull --tls-verify=false "$REG/p/bb:v1" || fail "pull on a pty"
tty_check "$TEST_TMP/pull.tty"
assert_contains "$(cat "$TEST_TMP/pull.tty")" "Tagged $REG/p/bb:v1"
# An upload to watch: without the blob-info cache, which would mount the blobs from p/bb.
rm -f "$ROOT/blob-info.json"
STRATA_RATE_LIMIT=400k python3 "$TEST_TMP/pty.py" "$TEST_TMP/push.tty" \
	"$STRATA_BIN" --root "$ROOT" push --tls-verify=false busybox "$REG/p/other:v1" || fail "push on a pty"
tty_check "$TEST_TMP/push.tty"
python3 "$TEST_TMP/pty.py" "$TEST_TMP/quiet.tty" "$STRATA_BIN" --root "$TEST_TMP/p4" pull -q --tls-verify=false "$REG/p/bb:v1" ||
	fail "pull -q on a pty"
assert_eq "$(cat "$TEST_TMP/quiet.tty")" "" "pull -q on a TTY"
ROOT=$TEST_TMP/p3 assert_fsck_clean
