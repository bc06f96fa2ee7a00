# export: the flattened rootfs as a plain tar, compared with umoci's unpack
# of the same image (the store root is an OCI layout), whiteouts applied.
. "${0%/*}/../lib.sh"
require_cmd umoci "unpacks the same image for comparison"

# One line per path: type, mode, owner, content hash or link target.
tree() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
top = sys.argv[1]
for d, dirs, files in os.walk(top):
    dirs.sort()
    for n in sorted(dirs + files):
        p = os.path.join(d, n)
        rel = os.path.relpath(p, top)
        st = os.lstat(p)
        extra = ""
        if stat.S_ISREG(st.st_mode):
            extra = hashlib.sha256(open(p, "rb").read()).hexdigest()
        elif stat.S_ISLNK(st.st_mode):
            extra = os.readlink(p)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            extra = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        print(f"{rel} {stat.S_IFMT(st.st_mode):o} {stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid} {extra}")
PY
}

# Exports IMAGE to a tar, unpacks it with tar, and compares with umoci's rootfs.
compare_with_umoci() {
	img=$1 name=$2
	strata export "$img" -o "$TEST_TMP/$name.tar"
	mkdir "$TEST_TMP/$name.x"
	tar -xpf "$TEST_TMP/$name.tar" --numeric-owner -C "$TEST_TMP/$name.x"
	umoci unpack --image "$ROOT:$img" "$TEST_TMP/$name.bundle" >/dev/null || fail "umoci unpack $img"
	tree "$TEST_TMP/$name.x" >"$TEST_TMP/$name.strata"
	tree "$TEST_TMP/$name.bundle/rootfs" >"$TEST_TMP/$name.umoci"
	diff -u "$TEST_TMP/$name.umoci" "$TEST_TMP/$name.strata" >&2 || fail "export of $img differs from umoci's rootfs"
}

import_busybox
compare_with_umoci busybox:latest bb
# stdout by default, the same bytes as -o (the tar is deterministic).
strata export busybox >"$TEST_TMP/stdout.tar"
cmp "$TEST_TMP/stdout.tar" "$TEST_TMP/bb.tar" || fail "export to stdout differs from -o"
tar -tf "$TEST_TMP/bb.tar" >"$TEST_TMP/bb.list"
grep -qx 'bin/busybox' "$TEST_TMP/bb.list" || fail "bin/busybox missing from the tar"

# An image whose second layer deletes files: whiteouts are applied, not exported.
mkdir "$TEST_TMP/ctx"
printf 'FROM busybox\nRUN rm /bin/ls && mkdir -p /new && echo hi >/new/f\n' >"$TEST_TMP/ctx/Containerfile"
strata build -q -t wh:latest "$TEST_TMP/ctx" >/dev/null 2>"$TEST_TMP/build.err" ||
	fail "build: $(cat "$TEST_TMP/build.err")"
compare_with_umoci wh:latest wh
tar -tf "$TEST_TMP/wh.tar" >"$TEST_TMP/wh.list"
grep -qx 'bin/ls' "$TEST_TMP/wh.list" && fail "bin/ls was deleted but is exported"
grep -q '\.wh\.' "$TEST_TMP/wh.list" && fail "a whiteout entry was exported"
grep -qx 'new/f' "$TEST_TMP/wh.list" || fail "new/f missing from the export"
grep -qx 'bin/ls' "$TEST_TMP/bb.list" || fail "bin/ls missing from busybox's export"

# Three layers over busybox: a file and a directory whited out, an opaque
# directory, a file replaced by a directory and the reverse, hard links
# (within a layer, and one whose target a later layer replaces).
mkdir "$TEST_TMP/ctx3"
cat >"$TEST_TMP/ctx3/Containerfile" <<'CF'
FROM busybox
RUN mkdir -p /d /o/sub && echo 1 >/d/keep && echo 2 >/d/gone && echo 3 >/o/sub/old && \
    echo f >/f2d && mkdir /d2f && echo in >/d2f/in && echo h >/h1 && ln /h1 /h2 && echo t >/t
RUN rm /d/gone && rm -rf /o && mkdir /o && echo n >/o/new && rm /f2d && mkdir /f2d && \
    echo y >/f2d/y && rm -rf /d2f && echo file >/d2f && ln /t /l
RUN rm /bin/ls && echo back >/d/gone && ln /d/keep /d/keep2 && echo new >/t.tmp && mv /t.tmp /t
CF
strata build -q -t three:latest "$TEST_TMP/ctx3" >/dev/null 2>"$TEST_TMP/build3.err" ||
	fail "build: $(cat "$TEST_TMP/build3.err")"
compare_with_umoci three:latest three
tar -tvf "$TEST_TMP/three.tar" >"$TEST_TMP/three.list"
grep -q '\.wh\.' "$TEST_TMP/three.list" && fail "a whiteout entry was exported"
grep -q ' o/sub' "$TEST_TMP/three.list" && fail "o/sub is under an opaque directory"
grep -q ' bin/ls$' "$TEST_TMP/three.list" && fail "bin/ls was deleted but is exported"
grep -q '^h.* h2 link to h1$' "$TEST_TMP/three.list" || fail "h2 is not a hard link to h1"
grep -q '^h.* d/keep2 link to d/keep$' "$TEST_TMP/three.list" || fail "d/keep2 is not a hard link to d/keep"
assert_eq "$(tar -xOf "$TEST_TMP/three.tar" l)" t "l keeps the content of the t it was linked to"
assert_eq "$(tar -xOf "$TEST_TMP/three.tar" t)" new "t"
assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "staging entries left in tmp/"

# Errors are one line; a failed export leaves no staging dirs and no output file.
expect_fail strata export nosuch:image -o "$TEST_TMP/none.tar"
assert_one_line_error "$out"
assert_not_exists "$TEST_TMP/none.tar"
expect_fail strata export busybox -o "$TEST_TMP/no/such/dir/x.tar"
assert_one_line_error "$out"
assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "staging entries left in tmp/"
assert_fsck_clean
