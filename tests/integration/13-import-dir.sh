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

# Small files are opened, read and closed in batches through io_uring: the
# same layer as one file at a time (STRATA_NO_IO_URING), for files with
# xattrs (kept open for them), empty ones, ones at and past the batch's
# 64 KiB, and more data than one batch holds (4 MiB).
unset SOURCE_DATE_EPOCH
b=$TEST_TMP/batch
mkdir -p "$b/a" "$b/z"
python3 - "$b" <<'PY'
import os, sys
top = sys.argv[1]
for i in range(300):
    with open(f"{top}/a/f{i:03d}", "wb") as f:
        f.write(os.urandom(60 << 10 if i % 3 == 0 else 1 + i * 37))
for n, size in (("empty", 0), ("at", 64 << 10), ("past", (64 << 10) + 1), ("big", 5 << 20)):
    with open(f"{top}/z/{n}", "wb") as f:
        f.write(os.urandom(size))
os.setxattr(f"{top}/a/f007", "user.note", b"seven")
os.setxattr(f"{top}/z/at", "user.note", b"at")
PY
ln -s f001 "$b/a/link"
diff_id() { strata inspect "$1" | python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["RootFS"]["DiffIDs"])'; }
strata import --compression none "$b" batch:uring >/dev/null
STRATA_NO_IO_URING=1 strata import --compression none "$b" batch:plain >/dev/null
assert_eq "$(diff_id batch:uring)" "$(diff_id batch:plain)" "the layer of a tree packed in batches and one file at a time"
strata export batch:uring -o "$TEST_TMP/batch.tar"
mkdir "$TEST_TMP/batch-out"
tar -xf "$TEST_TMP/batch.tar" -C "$TEST_TMP/batch-out" 2>/dev/null
diff -r "$b" "$TEST_TMP/batch-out" || fail "the batched import's export differs from the tree"
python3 - "$TEST_TMP/batch.tar" <<'PY' || fail "xattrs of batched files"
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    got = {m.name: v for m in t for k, v in m.pax_headers.items() if k.endswith("xattr.user.note")}
assert got.get("a/f007") == "seven" and got.get("z/at") == "at", got
PY

# Five system calls a small file (fstatat, openat, flistxattr, read, close)
# were as costly as packing it: now two, the rest in batches.
require_cmd strace
python3 - "$TEST_TMP/many" <<'PY'
import os, sys
for i in range(3000):
    d = f"{sys.argv[1]}/d{i // 500}"
    os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i:04d}", "wb") as f:
        f.write(b"x" * (100 + i % 900))
PY
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -c -o "$TEST_TMP/calls" "$STRATA_BIN" --root "$ROOT" import --compression zstd "$TEST_TMP/many" many:1 >/dev/null
calls=$(awk '$NF == "total" {print $(NF-2)}' "$TEST_TMP/calls")
[ "$calls" -lt 9000 ] || fail "import of 3,000 small files made $calls system calls (3 a file or more)"
assert_fsck_clean
