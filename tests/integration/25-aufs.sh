# aufs where the kernel has none: a clear one-line error, and info says so.
# Its option building and whiteout format are unit-tested (test-overlay).
. "${0%/*}/../lib.sh"
import_busybox
if grep -qw aufs /proc/filesystems; then
	skip "this kernel has aufs; the no-aufs path cannot be tested here"
fi
expect_fail strata --backend aufs create busybox
assert_one_line_error "$out"
assert_contains "$out" "no aufs"
assert_eq "$rc" 125 "exit status"
assert_eq "$(ls -A "$ROOT/containers")" "" "a failed create left a container"
expect_fail env STRATA_BACKEND=aufs "$STRATA_BIN" --root "$ROOT" mount busybox
assert_contains "$out" "no aufs"
strata info --format json | python3 -c '
import json, sys
a = json.load(sys.stdin)["backends"]["available"]["aufs"]
assert "no aufs" in a, a' || fail "info does not say aufs is missing"
assert_fsck_clean
