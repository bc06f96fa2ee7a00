# The command line: help, version, errors, info.
. "${0%/*}/../lib.sh"

out=$(strata --help)
assert_contains "$out" "Usage: strata"
assert_contains "$out" "images"
out=$(strata --version)
assert_contains "$out" "strata version"

# libcurl, libarchive, libcrypto and libfuse3 are loaded only by the
# commands that use them (77-start-libraries): the binary does not need them
# to start, and info (which names their versions) loads them.
needed=$(readelf -d "$STRATA_BIN" | awk '/NEEDED/ {print $NF}')
assert_contains "$needed" "libjansson"
for l in libcurl libarchive libcrypto libfuse3; do
	assert_not_contains "$needed" "$l"
done
out=$(strata info)
assert_contains "$out" "libcurl/"
assert_contains "$out" "OpenSSL 3"

# Every command answers --help with its usage and exits 0.
for c in $(strata --help | awk '/^  [a-z]/ {print $1}' | sort -u); do
	out=$(strata "$c" --help) || fail "'$c --help' failed"
	assert_contains "$out" "Usage: strata $c" "$c --help"
done

# Unknown command, unknown option, missing argument: one line, a hint, 125.
expect_fail strata frobnicate
assert_eq "$rc" 125 "unknown command status"
assert_one_line_error "$out"
assert_contains "$out" "'frobnicate'"
assert_contains "$out" "--help"
expect_fail strata images --frob
assert_eq "$rc" 125 "unknown option status"
assert_one_line_error "$out"
assert_contains "$out" "'--frob'"
assert_contains "$out" "strata images --help"
expect_fail strata tag
assert_eq "$rc" 125 "missing argument status"
assert_one_line_error "$out"
assert_contains "$out" "missing argument"
expect_fail strata --log-level loud images
assert_eq "$rc" 125
expect_fail strata --backend zfs images
assert_eq "$rc" 125
expect_fail strata --root
assert_eq "$rc" 125

# The root comes from --root, then STRATA_ROOT.
alt=$TEST_TMP/alt
STRATA_ROOT=$alt "$STRATA_BIN" images >/dev/null
assert_exists "$alt/oci-layout"
out=$("$STRATA_BIN" --root "$TEST_TMP/r2" --log-level debug info)
assert_contains "$out" "root: $TEST_TMP/r2"

# info in both forms.
out=$(strata info)
assert_contains "$out" "kernel: $(uname -r)"
assert_contains "$out" "libarchive"
strata info --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["store"]["images"] == 0; assert "zstd" in d["libraries"]' ||
	fail "info --format json"
