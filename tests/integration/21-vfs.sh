# Container filesystems on vfs: the same scenario as on overlay, with full
# snapshots and a copied rootfs; diff and commit compare with the image's top
# snapshot.
. "${0%/*}/../lib.sh"
require_root "changes owners in the scenario"
require_cmd umoci "unpacks the committed image as a peer"
. "${0%/*}/union.inc"

union_scenario vfs

# STRATA_BACKEND picks it as well as --backend does.
id=$(STRATA_BACKEND=vfs "$STRATA_BIN" --root "$ROOT" create base)
assert_contains "$(cat "$ROOT/containers/$id/container.json")" '"Backend":"vfs"'
assert_eq "$(mounts_under_root | wc -l)" 0 "vfs mounted something"
strata rm "$id" >/dev/null
assert_fsck_clean
