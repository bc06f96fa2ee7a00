# import of a directory: packed as one layer (whole tree, no whiteouts),
# deterministic, and its export is the tree it came from.
. "${0%/*}/../lib.sh"

import_busybox
strata export busybox -o "$TEST_TMP/src.tar"
"$STRATA_BIN" layer unpack "$TEST_TMP/src.tar" "$TEST_TMP/tree" >/dev/null
mkfifo "$TEST_TMP/tree/fifo"
mkdir -p "$TEST_TMP/tree/empty/dir"
printf 'x' >"$TEST_TMP/tree/setuid" && chmod 4755 "$TEST_TMP/tree/setuid"
ln "$TEST_TMP/tree/setuid" "$TEST_TMP/tree/hardlink"
ln -s ../nowhere "$TEST_TMP/tree/dangling"

id=$(strata import -c 'CMD ["sh"]' "$TEST_TMP/tree" fromdir:v1)
[ ${#id} = 64 ] || fail "import printed '$id', want a 64-hex image ID"
strata inspect fromdir:v1 | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
assert len(d["RootFS"]["DiffIDs"]) == 1, d["RootFS"]
assert d["Config"]["Cmd"] == ["sh"], d["Config"]' || fail "inspect of the imported directory"

# Its export is the directory's tree, byte for byte as packing the tree directly.
strata export fromdir:v1 -o "$TEST_TMP/got.tar"
"$STRATA_BIN" layer pack --compression none -o "$TEST_TMP/want.tar" "$TEST_TMP/tree"
cmp "$TEST_TMP/got.tar" "$TEST_TMP/want.tar" || fail "export of the imported directory differs from the tree"
tar -tvf "$TEST_TMP/got.tar" >"$TEST_TMP/list"
grep -q ' empty/dir/$' "$TEST_TMP/list" || fail "empty directory lost"
grep -Eq '^-rwsr-xr-x .* (setuid|hardlink)$' "$TEST_TMP/list" || fail "setuid bit lost"
grep -q '^hrwsr-xr-x .* hardlink link to setuid$' "$TEST_TMP/list" ||
	grep -q '^hrwsr-xr-x .* setuid link to hardlink$' "$TEST_TMP/list" || fail "hardlink lost"
grep -q '^prw' "$TEST_TMP/list" || fail "fifo lost"
grep -q 'dangling -> ../nowhere$' "$TEST_TMP/list" || fail "symlink lost"

# Deterministic: the same tree gives the same layer; the store stays clean.
export SOURCE_DATE_EPOCH=1700000000
a=$(strata import "$TEST_TMP/tree" again:a)
b=$(strata import "$TEST_TMP/tree" again:b)
assert_eq "$a" "$b" "image ID of the same directory imported twice"
expect_fail strata import "$TEST_TMP/tree" "Bad Name"
assert_one_line_error "$out"
expect_fail strata import "$TEST_TMP/no-such-dir" x:y
assert_one_line_error "$out"
assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "staging entries left in tmp/"
assert_fsck_clean
