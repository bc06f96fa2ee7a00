# The mount(2) fallback for real: strata runs under a seccomp filter that
# makes fsopen fail with ENOSYS (as on kernels before the new mount API), so
# overlayfs goes through libmount's mount(2), with short links when the
# options would pass a page.
. "${0%/*}/../lib.sh"
require_root "mounts overlayfs"
require_cmd umoci "unpacks the committed image as a peer"
shim=${STRATA_TEST_HELPERS:-$TOP/build/tests}/no-fsopen
[ -x "$shim" ] || fail "missing '$shim' (make builds it)"
strata() { "$shim" "$STRATA_BIN" --root "$ROOT" "$@"; }
assert_contains "$(strata info)" "overlay mounts with: mount(2)"
. "${0%/*}/union.inc"

union_scenario overlay

# A deep image: past a page of options, short links; past what fits, flattening.
python3 "${0%/*}/mkimage.py" "$ROOT" deep 450 >/dev/null
id=$(strata create deep)
log=$(STRATA_DEBUG=1 "$shim" "$STRATA_BIN" --root "$ROOT" --log-level debug mount "$id" 2>&1 >/dev/null)
assert_contains "$log" "fsopen(overlay"
assert_contains "$log" "libmount: mount(overlay"
m=$ROOT/containers/$id/merged
assert_eq "$(cat "$m/bottom")" bottom
assert_eq "$(cat "$m/top")" 449
[ "$(ls "$ROOT/layers/overlay/l" | wc -l)" -gt 100 ] || fail "no short links"
ls "$ROOT/layers/vfs" | grep -qE '^[0-9a-f]{64}$' || fail "no flattened snapshot"
strata rm "$id" >/dev/null
assert_eq "$(awk -v p="$ROOT/" 'index($5, p) == 1' /proc/self/mountinfo | wc -l)" 0 "mounts left"
assert_fsck_clean
