# The store under kills and races: a gc killed at random points leaves every
# layer dir whole or gone (never half), a layer dir without a valid record
# is made again even when a half-made one is in the way, fsck beside
# create/rm loops reads whole records only, and the build cache is freed by
# builder prune.
. "${0%/*}/../lib.sh"
require_root "runs containers from the images it makes"

mounts() { awk -v p="$ROOT/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo; }
chain_dirs() { find "$ROOT/layers" -mindepth 2 -maxdepth 2 -regextype egrep -regex '.*/[0-9a-f]{64}' | wc -l; }

# An image of many small files, so that deleting its layer dir takes a while.
tree=$TEST_TMP/tree
mkdir -p "$tree/data"
tar -C "$tree" -xf "$(busybox_tar)"
python3 - "$tree/data" <<'EOF'
import os, sys
for d in range(20):
    p = os.path.join(sys.argv[1], "d%02d" % d)
    os.mkdir(p)
    for f in range(100):
        with open(os.path.join(p, "f%03d" % f), "w") as fh:
            fh.write("%d %d\n" % (d, f))
EOF
tar -C "$tree" -cf "$TEST_TMP/many.tar" .

# ---- gc killed at random points after rmi ----
killed=0
i=0
while [ $i -lt 6 ]; do
	strata import "$TEST_TMP/many.tar" many >/dev/null || fail "import ($i)"
	m=$(strata mount many) || fail "mount ($i)"
	assert_exists "$m/data/d19/f099"
	strata umount many >/dev/null
	strata rmi many >/dev/null
	"$STRATA_BIN" --root "$ROOT" gc >/dev/null 2>&1 &
	pid=$!
	# 0 to 40 ms: before the sweep, inside the layer dir's removal, after it.
	sleep "0.0$(awk -v s="$i" 'BEGIN { srand(s * 7919 + '"$$"'); printf "%02d", int(rand() * 40) }')"
	kill -9 $pid 2>/dev/null && killed=$((killed + 1))
	wait $pid 2>/dev/null || true
	o=$(strata fsck 2>&1) || fail "fsck after a gc killed in round $i: $o"
	# Whatever is left of a layer dir in layers/ is whole.
	for d in "$ROOT"/layers/*/[0-9a-f]*; do
		[ -d "$d" ] || continue
		[ -f "$d/layer.json" ] || fail "round $i: layer dir '$d' lost its record"
		[ ! -d "$d/diff/data" ] || [ -f "$d/diff/data/d19/f099" ] ||
			fail "round $i: layer dir '$d' is half deleted"
	done
	# The same content again runs, from a layer dir that is whole.
	strata import "$TEST_TMP/many.tar" many >/dev/null || fail "import after the killed gc ($i)"
	assert_eq "$(strata run --rm many sh -c 'cat /data/d19/f099; ls /data/*/ | grep -c ^f')" \
		"19 99
2000" "run after the killed gc ($i)"
	strata rmi many >/dev/null
	i=$((i + 1))
done
[ $killed -gt 0 ] || fail "no gc was killed while running"
strata gc >/dev/null
assert_fsck_clean
assert_eq "$(chain_dirs)" 0 "layer dirs after the last gc"
assert_eq "$(ls -A "$ROOT/tmp")" "" "tmp after the last gc"
assert_eq "$(ls -A "$ROOT/blobs/sha256")" "" "blobs after the last gc"

# ---- a layer dir without a valid record is made again ----
import_busybox
strata run --rm busybox true
ldir=$(ls -d "$ROOT"/layers/overlay/[0-9a-f]*)
# Half-made: no record (a gc of an older strata killed while deleting in place).
rm "$ldir/layer.json"
rm -rf "$ldir/diff/bin"
assert_eq "$(strata run --rm busybox echo remade)" "remade" "run over a record-less layer dir"
assert_exists "$ldir/layer.json"
assert_exists "$ldir/diff/bin/busybox"
# From another boot (not synced: it may be cut short).
python3 - "$ldir/layer.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["Boot"] = "00000000-0000-0000-0000-000000000000"
json.dump(d, open(sys.argv[1], "w"))
EOF
touch "$ldir/diff/stale-marker"
assert_eq "$(strata run --rm busybox echo again)" "again" "run over a layer dir of another boot"
assert_not_exists "$ldir/diff/stale-marker"
grep -q "$(cat /proc/sys/kernel/random/boot_id)" "$ldir/layer.json" || fail "remade dir names this boot"
# Made by commit: it records its boot too.
id=$(strata create busybox)
m=$(strata mount "$id")
echo committed >"$m/committed"
strata umount "$id" >/dev/null
strata commit "$id" committed >/dev/null
strata rm "$id" >/dev/null
for rec in "$ROOT"/layers/overlay/[0-9a-f]*/layer.json; do
	grep -q "\"Boot\": *\"$(cat /proc/sys/kernel/random/boot_id)\"" "$rec" ||
		fail "layer record without this boot: $(cat "$rec")"
done
assert_eq "$(strata run --rm committed cat /committed)" "committed"
assert_eq "$(ls -A "$ROOT/tmp")" "" "staging left by remade layer dirs"
assert_fsck_clean

# ---- fsck beside create/rm ----
(
	while [ ! -e "$TEST_TMP/stop" ]; do
		c=$("$STRATA_BIN" --root "$ROOT" create busybox) || exit 1
		"$STRATA_BIN" --root "$ROOT" rm "$c" >/dev/null || exit 1
	done
) &
loop=$!
track_pid $loop
n=0
while [ $n -lt 15 ]; do
	o=$(strata fsck 2>&1) || {
		touch "$TEST_TMP/stop"
		fail "fsck beside create/rm (run $n): $o"
	}
	n=$((n + 1))
done
touch "$TEST_TMP/stop"
wait $loop || fail "the create/rm loop failed"
assert_fsck_clean

# ---- the build cache is freed by builder prune ----
strata rmi committed >/dev/null
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo one >/one\nRUN dd if=/dev/zero of=/two bs=1k count=300 2>/dev/null\n' >"$ctx/Containerfile"
strata build -q -t built "$ctx" >/dev/null || fail "build"
strata rmi built busybox >/dev/null
strata gc >/dev/null
[ "$(ls "$ROOT/blobs/sha256" | wc -l)" -gt 0 ] || fail "gc freed what the build cache holds"
# A fresh cache entry is younger than a day: kept.
out=$(strata builder prune --all --filter until=24h)
assert_contains "$out" "removed 0 build cache entries"
[ "$(ls "$ROOT/cache" | wc -l)" -gt 0 ] || fail "until=24h removed fresh entries"
expect_fail strata builder prune --filter until=yesterday
assert_one_line_error "$out"
assert_eq "$rc" 125 "exit status of a bad filter"
out=$(strata builder prune -a)
assert_contains "$out" "removed 2 build cache entries"
strata gc >/dev/null
assert_eq "$(ls -A "$ROOT/cache")" "" "cache entries after builder prune -a"
assert_eq "$(ls -A "$ROOT/blobs/sha256")" "" "blobs after builder prune -a and gc"
assert_eq "$(chain_dirs)" 0 "layer dirs after builder prune -a and gc"
assert_fsck_clean
# Without --all, entries of an image still tagged stay.
import_busybox
strata build -q -t kept "$ctx" >/dev/null || fail "build again"
out=$(strata builder prune)
assert_contains "$out" "removed 1 build cache entries"
assert_eq "$(ls "$ROOT/cache" | wc -l)" 1 "the tagged image's entry"
grep -q "$(strata inspect kept | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])')" \
	"$ROOT"/cache/*.json || fail "the entry kept is not the tagged image's"
assert_eq "$(mounts | wc -l)" 0 "mounts left"
assert_fsck_clean
