# Hostile layer tars (fixtures/evil/make-evil.py): whatever they try,
# `strata layer unpack` writes nothing outside its target, changes nothing
# there and follows no link out of it. Errors are fine; escapes are not.
. "${0%/*}/../lib.sh"

W=$TEST_TMP/w
T=$W/target
TARS=$TEST_TMP/tars
S=$TEST_TMP/state
mkdir "$S"
python3 "$TOP/fixtures/evil/make-evil.py" "$TARS" "$W" || fail "make-evil.py"
n=$(ls "$TARS" | wc -l)
[ "$n" -ge 15 ] || fail "make-evil.py made $n tars, want at least 15"

# The tree around the target: sentinels in its parent and in a sibling dir.
plant() {
	rm -rf "$W"
	mkdir -p "$W/sibling/dir" "$T"
	echo sentinel >"$W/sentinel"
	echo sentinel >"$W/sibling/sentinel"
	echo deep >"$W/sibling/dir/deep"
	ln -s sibling "$W/link"
	ln -s / "$W/rootlink"
	chmod 0750 "$W/sibling"
}

# Every path of the parent tree except the target's inside, with type,
# mode, owner, size, mtime, and content hash or link target.
listing() {
	python3 - "$W" "$T" <<'PY'
import hashlib, os, stat, sys
top, target = sys.argv[1], sys.argv[2]
def show(p):
    st = os.lstat(p)
    extra = ""
    if stat.S_ISREG(st.st_mode):
        extra = hashlib.sha256(open(p, "rb").read()).hexdigest()
    elif stat.S_ISLNK(st.st_mode):
        extra = os.readlink(p)
    print(os.path.relpath(p, top), oct(st.st_mode), st.st_uid, st.st_gid, st.st_size,
          st.st_mtime_ns if not stat.S_ISDIR(st.st_mode) else "", st.st_nlink, extra)
show(top)
for d, dirs, files in os.walk(top):
    if d == target:
        dirs[:] = []
        continue
    dirs.sort()
    for n in sorted(dirs + files):
        p = os.path.join(d, n)
        if p == target:
            st = os.lstat(p)
            print("target", oct(st.st_mode), st.st_uid, st.st_gid)
            continue
        show(p)
PY
	ls -a "$TEST_TMP"
	ls -a /
}

# Warnings may come first; the error itself is one line.
# Runs CMD... against a freshly planted tree and checks nothing outside moved.
check() {
	what=$1
	shift
	plant
	listing >"$S/before"
	set +e
	"$@" >/dev/null 2>"$S/err"
	rc=$?
	set -e
	listing >"$S/after"
	diff -u "$S/before" "$S/after" >&2 || fail "$what: something outside the target changed"
	if [ $rc -ne 0 ]; then
		assert_one_line_error "$(grep -v "^strata: warn: " "$S/err")"
	fi
	assert_not_exists /strata-evil-absolute
}

for tar in "$TARS"/*.tar; do
	name=$(basename "$tar" .tar)
	for wh in vfs overlay aufs; do
		check "$name ($wh)" "$STRATA_BIN" layer unpack -w "$wh" "$tar" "$T"
	done
done

# The escapes really were tried inside: the harmless parts landed in the target.
check "device" "$STRATA_BIN" layer unpack "$TARS/device.tar" "$T"
[ -c "$T/null" ] || fail "device.tar: the character device was not made as root"
check "dir-over-file" "$STRATA_BIN" layer unpack "$TARS/dir-over-file.tar" "$T"
[ -f "$T/e/x" ] || fail "dir-over-file.tar: e/x missing"
check "file-over-dir" "$STRATA_BIN" layer unpack "$TARS/file-over-dir.tar" "$T"
[ -f "$T/d" ] || fail "file-over-dir.tar: d is not a file"

# Unprivileged: devices are skipped (or refused), nothing escapes either.
if command -v setpriv >/dev/null 2>&1; then
	chmod 0755 "$TEST_TMP"
	for tar in "$TARS"/*.tar; do
		name=$(basename "$tar" .tar)
		plant
		chmod 0755 "$W"
		chown 65534:65534 "$T"
		listing >"$S/before"
		set +e
		setpriv --reuid=65534 --regid=65534 --clear-groups \
			"$STRATA_BIN" layer unpack "$tar" "$T" >/dev/null 2>"$S/err"
		rc=$?
		set -e
		listing >"$S/after"
		diff -u "$S/before" "$S/after" >&2 ||
			fail "$name (unprivileged): something outside the target changed"
		[ $rc -eq 0 ] || assert_one_line_error "$(grep -v "^strata: warn: " "$S/err")"
		if [ "$name" = device ]; then
			assert_not_exists "$T/null"
			assert_not_exists "$T/sda"
		fi
	done
	chmod 0700 "$TEST_TMP"
fi

# Gzip bombs: 10 GB of zeros in 10 MB, stopped by the limit with a clear error.
for bomb in "gzip-bomb.tar.gz --max-size 1G" "gzip-bomb-many.tar.gz --max-size 300M" \
	"gzip-bomb-huge.tar.gz"; do
	set -- $bomb
	f=$1
	shift
	check "$f" "$STRATA_BIN" layer unpack "$@" "$TARS/$f" "$T"
	[ $rc -ne 0 ] || fail "$f was unpacked"
	assert_contains "$(cat "$S/err")" "limit" "$f: error names the limit"
done
# The default limit is the one named when no --max-size is given.
assert_contains "$(cat "$S/err")" "$((64 * 1024 * 1024 * 1024))"
# With the default limits the 10 GB bomb is stopped too: past 1 GiB, a layer
# expanding more than 200 times its compressed size is refused.
check gzip-bomb.tar.gz "$STRATA_BIN" layer unpack "$TARS/gzip-bomb.tar.gz" "$T"
[ $rc -ne 0 ] || fail "the 10 GB bomb was unpacked with the default limits"
assert_contains "$(cat "$S/err")" "decompression bomb"
rm -rf "$W" "$TARS"
