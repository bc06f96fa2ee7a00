# Container filesystems on overlayfs: create, mount (counted), writes and
# whiteouts in upper, opaque dirs, diff, commit of links, modes, owners,
# setuid, xattrs and replaced entries, image mounts, rm, fsck.
. "${0%/*}/../lib.sh"
require_root "mounts overlayfs"
require_cmd umoci "unpacks the committed image as a peer"
. "${0%/*}/union.inc"

union_scenario overlay

# overlay is the default here, and info says so.
assert_contains "$(strata info)" "default: overlay"
strata info --format json | python3 -c '
import json, sys
b = json.load(sys.stdin)["backends"]
assert b["default"] == "overlay" and b["available"]["overlay"] == "ok", b
assert b["overlayMountAPI"] == "fsopen", b' || fail "info backends"
STRATA_BACKEND=vfs "$STRATA_BIN" --root "$ROOT" info | grep -q "selected: vfs" ||
	fail "STRATA_BACKEND is not the selected backend"

# Commit makes the new layer's dir from the upper dir: mounting the new image
# unpacks nothing, and the dir holds no overlayfs-private xattrs.
id=$(strata create base)
m=$(strata mount "$id")
echo one >"$m/one"
strata umount "$id"
strata commit "$id" quick:1 >/dev/null
chain=$(strata inspect quick:1 | python3 -c '
import json, sys, hashlib
ids = json.load(sys.stdin)[0]["RootFS"]["DiffIDs"]
c = ids[0]
for d in ids[1:]:
    c = "sha256:" + hashlib.sha256((c + " " + d).encode()).hexdigest()
print(c[7:])')
assert_exists "$ROOT/layers/overlay/$chain/diff/one"
assert_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ChainID"])' \
	"$ROOT/layers/overlay/$chain/layer.json")" "sha256:$chain" "layer record"
strata rm "$id" >/dev/null
assert_fsck_clean
