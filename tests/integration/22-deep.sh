# Deep images: 300 layers mount on overlay (Docker stops at 128) and vfs;
# 600 layers mount on overlay by flattening the lowest layers into one
# cached snapshot (the kernel takes 500 lowers), shared by the next
# container and by an image one commit deeper.
. "${0%/*}/../lib.sh"
require_root "mounts overlayfs"
mkimage() { python3 "${0%/*}/mkimage.py" "$ROOT" "$@" >/dev/null; }
strata images >/dev/null # makes the store
mkimage deep300 300
mkimage deep600 600

check_deep() { # MOUNTPOINT N
	assert_eq "$(cat "$1/bottom")" bottom "bottom layer file"
	assert_eq "$(cat "$1/top")" "$(($2 - 1))" "top layer wins"
	assert_exists "$1/layer-0"
	assert_exists "$1/layer-$(($2 / 2))"
	assert_exists "$1/layer-$(($2 - 1))"
}
lowers_of() { # MOUNTPOINT: number of lower layers in its mount options
	awk -v p="$1" '$5 == p' /proc/self/mountinfo | tr ',' '\n' | grep -c '^lowerdir'
}
vfs_snapshots() {
	ls "$ROOT/layers/vfs" 2>/dev/null | grep -cE '^[0-9a-f]{64}$' || true
}

for be in overlay vfs; do
	id=$(strata --backend "$be" create deep300)
	m=$(strata mount "$id")
	check_deep "$m" 300
	echo w >"$m/written"
	assert_contains "$(strata diff "$id")" "A /written"
	[ "$be" = vfs ] || assert_eq "$(lowers_of "$m")" 300 "300 lowers, unflattened"
	strata rm "$id" >/dev/null
done
assert_eq "$(vfs_snapshots)" 300 "vfs makes one snapshot per layer"
rm -rf "$ROOT/layers/vfs"

# 600 layers: the lowest 128 become one snapshot, 472 stay: 473 lowers.
id=$(strata create deep600)
m=$(strata mount "$id")
check_deep "$m" 600
assert_eq "$(lowers_of "$m")" 473 "lowers after flattening"
assert_eq "$(vfs_snapshots)" 1 "one flattened snapshot"
snap=$(ls "$ROOT/layers/vfs" | grep -E '^[0-9a-f]{64}$')
assert_exists "$ROOT/layers/vfs/$snap/diff/layer-127"
assert_not_exists "$ROOT/layers/vfs/$snap/diff/layer-128"
assert_eq "$(cat "$ROOT/layers/vfs/$snap/diff/top")" 127 "snapshot holds layers 0..127 applied"
echo w >"$m/written"

# Another container reuses it; so does the image one commit deeper.
id2=$(strata create deep600)
m2=$(strata mount "$id2")
check_deep "$m2" 600
strata umount "$id"
strata commit "$id" deep601 >/dev/null
id3=$(strata create deep601)
m3=$(strata mount "$id3")
check_deep "$m3" 600
assert_eq "$(cat "$m3/written")" w
assert_eq "$(vfs_snapshots)" 1 "the snapshot was not shared"
# A read-only mount of the image too.
im=$(strata mount deep600)
check_deep "$im" 600
strata umount deep600

strata rm "$id" "$id2" "$id3" >/dev/null
assert_eq "$(awk -v p="$ROOT/" 'index($5, p) == 1' /proc/self/mountinfo | wc -l)" 0 "mounts left"
assert_fsck_clean
# gc keeps the snapshot while an image reaches its chain, and drops it after.
strata gc >/dev/null
assert_eq "$(vfs_snapshots)" 1 "gc removed a reachable snapshot"
strata rmi deep300 deep600 deep601 >/dev/null # deep300 shares the lowest 128 layers
strata gc >/dev/null
assert_eq "$(vfs_snapshots)" 0 "gc kept an unreachable snapshot"
assert_fsck_clean
