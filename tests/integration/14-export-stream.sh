# export streams: no staging tree in ROOT/tmp while the tar is written, and
# tars (export, directory import, layer pack) the size of GNU tar's for the
# same tree: whole-second mtimes, so no entry needs a pax header for its time.
. "${0%/*}/../lib.sh"

# A tree of small files with sub-second mtimes, as files written by a program have.
mkdir -p "$TEST_TMP/tree/sub"
i=0
while [ $i -lt 200 ]; do
	printf 'file %s\n' $i >"$TEST_TMP/tree/sub/f$i"
	i=$((i + 1))
done
touch -d '2024-01-02 03:04:05.123456789' "$TEST_TMP/tree/sub/f1" "$TEST_TMP/tree/sub" "$TEST_TMP/tree"
find "$TEST_TMP/tree/sub" -newermt '2024-01-02 03:04:06' | grep -q . || fail "no file with a fresh mtime"

# GNU tar with 512-byte records: the same entries plus its "./" entry (512 bytes).
tar --format=gnu -b1 -cf "$TEST_TMP/gnu.tar" -C "$TEST_TMP/tree" .
want=$(($(stat -c %s "$TEST_TMP/gnu.tar") - 512))
"$STRATA_BIN" layer pack --compression none -o "$TEST_TMP/pack.tar" "$TEST_TMP/tree" >/dev/null ||
	fail "layer pack"
assert_eq "$(stat -c %s "$TEST_TMP/pack.tar")" "$want" "size of the packed tree against GNU tar's"
strata import --compression none "$TEST_TMP/tree" small:1 >/dev/null
strata export small:1 -o "$TEST_TMP/export.tar"
assert_eq "$(stat -c %s "$TEST_TMP/export.tar")" "$want" "size of the export against GNU tar's"
cmp "$TEST_TMP/export.tar" "$TEST_TMP/pack.tar" || fail "export differs from the packed tree"
tar -tvf "$TEST_TMP/export.tar" --full-time | grep -q ' 2024-01-02 03:04:05 sub/f1$' ||
	fail "f1's mtime is not its whole second"

# While export writes to a pipe nobody reads yet, nothing is staged in ROOT/tmp.
head -c $((48 << 20)) /dev/urandom >"$TEST_TMP/tree/big"
strata import --compression zstd "$TEST_TMP/tree" big:1 >/dev/null
mkfifo "$TEST_TMP/pipe"
strata export big:1 >"$TEST_TMP/pipe" &
pid=$!
track_pid $pid
exec 3<"$TEST_TMP/pipe"
sleep 2
kill -0 $pid 2>/dev/null || fail "export ended before its tar was read"
assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "entries in ROOT/tmp while exporting"
cat <&3 >"$TEST_TMP/big.tar"
exec 3<&-
wait $pid || fail "export to a pipe failed"
strata export big:1 -o "$TEST_TMP/big2.tar"
cmp "$TEST_TMP/big.tar" "$TEST_TMP/big2.tar" || fail "export to a pipe differs from -o"
assert_fsck_clean
