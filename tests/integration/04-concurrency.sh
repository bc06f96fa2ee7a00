# Killed imports and concurrent imports leave a consistent store.
. "${0%/*}/../lib.sh"

tar=$(busybox_tar)

# kill -9 in the middle of a large import: the input is still streaming.
fifo=$TEST_TMP/fifo
mkfifo "$fifo"
"$STRATA_BIN" --root "$ROOT" import - big:1 <"$fifo" >/dev/null 2>&1 &
pid=$!
track_pid $pid
exec 3>"$fifo"
cat "$tar" >&3
sleep 0.5
kill -9 $pid
wait $pid 2>/dev/null || true
exec 3>&-
assert_fsck_clean
assert_eq "$(strata images -q)" "" "a killed import left an image"
strata import "$tar" big:1 >/dev/null || fail "import again after kill"
assert_contains "$(strata images)" "big"
assert_fsck_clean
strata gc >/dev/null
[ -z "$(ls -A "$ROOT/tmp")" ] || fail "gc left the killed import's staging"

# Two imports of different images at once into one root both land.
gzip -c "$tar" >"$TEST_TMP/a.tgz"
mkdir -p "$TEST_TMP/extra/etc"
echo other >"$TEST_TMP/extra/etc/other"
tar -C "$TEST_TMP/extra" -cf "$TEST_TMP/b.tar" .
i=0
while [ $i -lt 5 ]; do
	strata import "$TEST_TMP/a.tgz" "par-a:$i" >/dev/null &
	p1=$!
	strata import "$TEST_TMP/b.tar" "par-b:$i" >/dev/null &
	p2=$!
	wait $p1 || fail "concurrent import a ($i)"
	wait $p2 || fail "concurrent import b ($i)"
	i=$((i + 1))
done
assert_eq "$(strata images | grep -c '^par-')" 10 "tags after concurrent imports"
assert_fsck_clean

# 8 writers at once (import, tag, commit, create/rm, rmi, build, gc, fsck),
# a short form of tests/crash/writers.sh (`make crash-trials` runs 20 rounds).
if [ "$(id -u)" = 0 ]; then
	sh "$TOP/tests/crash/writers.sh" 2 8 >/dev/null || fail "concurrent writers"
fi
