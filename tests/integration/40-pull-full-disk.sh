# A pull onto a full disk: the compressed blobs fit, their unpacked content
# does not. The pull fails with one line, tags nothing, and leaves a store
# that fsck finds clean and gc empties; with room again, it succeeds.
. "${0%/*}/../lib.sh"
require_root "mounts a small tmpfs as the store"
require_cmd skopeo "puts the image into the registry"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
# 24 MiB of zeros: about 24 KiB gzipped.
tree=$TEST_TMP/tree
mkdir -p "$tree"
tar -C "$tree" -xf "$(busybox_tar)"
dd if=/dev/zero of="$tree/zeros" bs=1M count=24 2>/dev/null
strata import "$tree" big >/dev/null
skopeo copy -q --dest-tls-verify=false "oci:$ROOT:big:latest" "docker://$REG/big:latest" ||
	fail "skopeo copy into the registry"

small=$TEST_TMP/small
mkdir -p "$small"
mount -t tmpfs -o size=8m tmpfs "$small"
on_cleanup "umount -l '$small'"
SMALL=$small/root
ss() { "$STRATA_BIN" --root "$SMALL" "$@"; }

expect_fail ss pull -q --tls-verify=false "$REG/big:latest"
assert_one_line_error "$out"
assert_eq "$rc" 125 "exit status of a pull onto a full disk"
assert_contains "$out" "No space left on device"
assert_eq "$(ss images -q)" "" "a pull that could not unpack its layers tagged the image"
ROOT=$SMALL assert_fsck_clean
ss gc >/dev/null
assert_eq "$(ls -A "$SMALL/tmp")" "" "staging left after gc"
assert_eq "$(find "$SMALL/layers" -mindepth 2 -maxdepth 2 -name '[0-9a-f]*' | wc -l)" 0 "layer dirs left"

# vfs makes its layer dirs after the download (they replay their parents): the same holds.
expect_fail ss --backend vfs pull -q --tls-verify=false "$REG/big:latest"
assert_one_line_error "$out"
assert_eq "$(ss images -q)" "" "a vfs pull that could not unpack tagged the image"
ROOT=$SMALL assert_fsck_clean

# With room, the same pull succeeds and runs.
mount -o remount,size=64m "$small"
ss pull -q --tls-verify=false "$REG/big:latest" >/dev/null || fail "pull with room"
assert_eq "$(ss run --rm "$REG/big" sh -c 'wc -c </zeros')" 25165824 "the pulled image's file"
ROOT=$SMALL assert_fsck_clean
