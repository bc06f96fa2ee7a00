# Bad input of every kind: a one-line error, and the store stays consistent.
. "${0%/*}/../lib.sh"

tar=$(busybox_tar)
import_busybox

check() { # what, then the failing command
	what=$1
	shift
	expect_fail "$@"
	assert_eq "$rc" 125 "$what: status"
	assert_one_line_error "$out"
	assert_fsck_clean
	[ -z "$(ls -A "$ROOT/tmp")" ] || fail "$what: staging left in tmp/"
}

head -c 100000 "$tar" >"$TEST_TMP/truncated.tar"
check "truncated tar" strata import "$TEST_TMP/truncated.tar" bad:1
assert_contains "$out" "runcated"

gzip -c "$tar" | head -c 300000 >"$TEST_TMP/truncated.tgz"
check "truncated gzip" strata import "$TEST_TMP/truncated.tgz" bad:2

printf 'this is not a tar archive at all\n%.0s' $(seq 50) >"$TEST_TMP/notes.txt"
check "not a tar" strata import "$TEST_TMP/notes.txt" bad:3
assert_contains "$out" "tar"

: >"$TEST_TMP/empty"
check "empty input" strata import "$TEST_TMP/empty" bad:4

gzip -c "$tar" >"$TEST_TMP/flipped.tgz"
printf 'XXXX' | dd of="$TEST_TMP/flipped.tgz" bs=1 seek=5000 conv=notrunc status=none
check "corrupt gzip" strata import "$TEST_TMP/flipped.tgz" bad:5

check "missing file" strata import "$TEST_TMP/nope.tar" bad:6
check "bad name" strata import "$tar" 'Bad:Name'
assert_contains "$out" "lowercase"
check "bad change" strata import --change 'FROB x' "$tar" bad:7
check "unknown image" strata inspect nosuchimage
assert_contains "$out" "'nosuchimage'"
check "unknown image (rmi)" strata rmi nosuchimage
check "unknown image (history)" strata history sha256:0000

assert_eq "$(strata images -q | wc -l)" 1 "images after failed imports"

# A malformed index.json: every command that reads it says so in one line.
cp "$ROOT/index.json" "$TEST_TMP/index.good"
printf '{"schemaVersion":2,"manifests":[' >"$ROOT/index.json"
expect_fail strata images
assert_one_line_error "$out"
assert_contains "$out" "index.json"
expect_fail strata fsck
cp "$TEST_TMP/index.good" "$ROOT/index.json"
assert_fsck_clean

# A corrupt config blob: named by inspect, found by fsck, moved aside by repair.
cfg=$(strata inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
printf 'garbage' >"$ROOT/blobs/sha256/$cfg"
expect_fail strata inspect busybox
assert_one_line_error "$out"
assert_contains "$out" "corrupt"
set +e
fsck_out=$(strata fsck)
fsck_rc=$?
set -e
assert_eq "$fsck_rc" 1 "fsck status on a corrupt store"
assert_contains "$fsck_out" "$cfg"
strata fsck --repair >/dev/null || fail "fsck --repair"
assert_exists "$ROOT/corrupt/$cfg"
assert_fsck_clean

# A malformed container record.
mkdir -p "$ROOT/containers/$(printf 'a%.0s' $(seq 64))"
echo '{' >"$ROOT/containers/$(printf 'a%.0s' $(seq 64))/container.json"
expect_fail strata fsck
strata fsck --repair >/dev/null
assert_fsck_clean

# A full disk while importing: nothing is left behind.
if [ "$(id -u)" = 0 ]; then
	small=$TEST_TMP/small
	mkdir "$small"
	mount -t tmpfs -o size=400k tmpfs "$small"
	on_cleanup "umount -l '$small'"
	expect_fail "$STRATA_BIN" --root "$small/root" import --compression none "$tar" full:1
	assert_one_line_error "$out"
	assert_contains "$out" "No space left"
	[ -z "$(ls -A "$small/root/tmp")" ] || fail "full disk: staging left in tmp/"
	[ -z "$(ls -A "$small/root/blobs/sha256")" ] || fail "full disk: a blob was stored"
	"$STRATA_BIN" --root "$small/root" fsck >/dev/null || fail "fsck after full disk"
	# and while packing a directory (its read-ahead thread running): the same
	big=$TEST_TMP/big
	mkdir -p "$big/d1" "$big/d2"
	for i in 1 2 3 4 5 6; do
		head -c 200000 /dev/urandom >"$big/d1/f$i"
		head -c 200000 /dev/urandom >"$big/d2/f$i"
	done
	# (and the compressors' threads stopped with the error)
	for c in none zstd gzip; do
		expect_fail "$STRATA_BIN" --root "$small/root" layer pack --compression $c "$big"
		assert_one_line_error "$out"
		assert_contains "$out" "No space left"
		[ -z "$(ls -A "$small/root/tmp")" ] || fail "full disk: staging left in tmp/ by pack ($c)"
		[ -z "$(ls -A "$small/root/blobs/sha256")" ] || fail "full disk: pack ($c) stored a blob"
		"$STRATA_BIN" --root "$small/root" fsck >/dev/null || fail "fsck after a full disk in pack ($c)"
	done
else
	echo "note: full-disk case needs root to mount a small tmpfs"
	require_root "fills a small tmpfs"
fi
