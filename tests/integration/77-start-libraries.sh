#!/bin/sh
# The libraries only some commands need are loaded on first use, not at
# every start (util/dlib.c): libarchive (and the libxml2, ICU and libstdc++
# it brings), libcrypto, libcurl and libfuse3. A command that needs one
# loads it; one that cannot load it fails with one line and leaves the
# store as it was.
. "${0%/*}/../lib.sh"
require_root "hides a library with a bind mount in a private mount namespace"
require_cmd unshare "makes the private mount namespace"

lazy="libarchive.so.13 libcrypto.so.3 libcurl.so.4 libfuse3.so.3 libxml2.so.2 libicuuc.so.72"

# The objects the dynamic loader mapped for a command ("needed" at start, or dlopen'ed).
mapped() {
	LD_DEBUG=files "$@" 2>&1 >/dev/null | sed -n 's/^ *[0-9]*:[[:space:]]*file=\([^ ]*\) .*/\1/p' | sort -u
}

mkdir -p "$ROOT"
for cmd in version images ps "images -q" "volume ls"; do
	# shellcheck disable=SC2086 # the command's words
	libs=$(mapped strata $cmd)
	[ -n "$libs" ] || fail "LD_DEBUG=files showed nothing for '$cmd'"
	assert_contains "$libs" "libjansson.so" "'$cmd' maps its linked libraries"
	for l in $lazy; do
		assert_not_contains "$libs" "$l" "'$cmd' maps a library it does not use"
	done
done

# import reads a tar: libarchive is loaded then, and the command works
tar=$(busybox_tar)
libs=$(mapped strata import "$tar" bb:1)
assert_contains "$libs" "libarchive.so.13" "import loads libarchive"
assert_contains "$libs" "libcrypto.so.3" "import loads libcrypto (digests)"
assert_not_contains "$libs" "libcurl.so.4" "import does not load libcurl"
assert_eq "$(strata images -q | wc -l)" 1 "imported"
info=$(strata info --format json)
assert_contains "$info" '"libarchive": "libarchive 3' "info names libarchive's version"
assert_contains "$info" '"openssl": "OpenSSL 3' "info names libcrypto's version"

# run of an image whose layers are unpacked reads no tar
strata run --rm bb:1 true
libs=$(mapped strata run --rm bb:1 true)
assert_not_contains "$libs" "libarchive.so.13" "run of an unpacked image loads libarchive"

# A libarchive that cannot be loaded: one line, exit 125, the store unchanged.
lib=$(readlink -f "$(ldconfig -p | awk '$1 == "libarchive.so.13" && /x86-64/ { print $NF; exit }')")
[ -f "$lib" ] || fail "libarchive.so.13 not found by ldconfig"
: >"$TEST_TMP/empty.so"
hidden() {
	unshare -m sh -c 'mount --make-rprivate / && mount --bind "$1" "$2" && shift 2 && exec "$@"' \
		sh "$TEST_TMP/empty.so" "$lib" "$STRATA_BIN" --root "$ROOT" "$@"
}
for c in "import $tar bb:2" "export -o $TEST_TMP/out.tar bb:1" "save -o $TEST_TMP/save.tar bb:1"; do
	# shellcheck disable=SC2086 # the command's words
	expect_fail hidden $c
	assert_eq "$rc" 125 "'$c' without libarchive: exit status"
	assert_one_line_error "$out"
	assert_contains "$out" "cannot load libarchive.so.13: " "'$c' says which library"
done
assert_eq "$(strata images --format '{{.Repository}}:{{.Tag}}')" "bb:1" "the store is unchanged"
assert_not_exists "$TEST_TMP/out.tar"
assert_not_exists "$TEST_TMP/save.tar"
assert_fsck_clean
# what needs no tar still works there
hidden images -q >/dev/null || fail "images without libarchive"
# and with the library back, the same import works
strata import "$tar" bb:2 >/dev/null
assert_eq "$(strata images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" "bb:1 bb:2 " \
	"import after the library is back"
echo "PASS: $TEST_NAME"
