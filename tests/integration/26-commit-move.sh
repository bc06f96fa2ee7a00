# commit --rm: the container's upper dir becomes the new layer's dir (moved,
# not copied), so a change is on disk twice (its blob and the layer dir),
# not three times; the dir holds no overlayfs-private xattrs, the image
# mounts without unpacking, and the container is gone.
. "${0%/*}/../lib.sh"
require_root "mounts overlayfs"

import_busybox
id=$(strata create busybox)
m=$(strata mount "$id")
head -c $((64 << 20)) /dev/urandom >"$TEST_TMP/big"
cp "$TEST_TMP/big" "$m/big"
echo hi >"$m/etc/motd"
rm "$m/bin/ls"
# still mounted: commit --rm unmounts it before its upper dir moves
sync
before=$(du -sk "$ROOT" | cut -f1)
strata commit --rm --compression zstd "$id" moved:1 >/dev/null
sync
after=$(du -sk "$ROOT" | cut -f1)
grown=$((after - before))
# the blob (64 MiB of random bytes, as good as incompressible) and nothing
# more than 8 MiB besides: a copy of the upper dir would add 64 MiB again
[ "$grown" -lt $(((64 + 8) * 1024)) ] || fail "the store grew by $grown KiB for a 64 MiB change"
strata ps -a -q --no-trunc | grep -q "$id" && fail "the container is still there"
assert_not_exists "$ROOT/containers/$id"

chain=$(strata inspect moved:1 | python3 -c '
import json, sys, hashlib
ids = json.load(sys.stdin)[0]["RootFS"]["DiffIDs"]
c = ids[0]
for d in ids[1:]:
    c = "sha256:" + hashlib.sha256((c + " " + d).encode()).hexdigest()
print(c[7:])')
dir=$ROOT/layers/overlay/$chain/diff
assert_exists "$dir/big"
python3 - "$dir" <<'PY' || fail "overlayfs-private xattrs in the layer dir"
import os, sys
for d, dirs, files in os.walk(sys.argv[1]):
    for n in [d] + [os.path.join(d, f) for f in dirs + files]:
        for x in os.listxattr(n, follow_symlinks=False):
            if x.startswith("trusted.overlay.") and x != "trusted.overlay.opaque":
                sys.exit(f"{n}: {x}")
PY
[ "$(stat -c %a "$dir")" = 755 ] || fail "the layer dir's top is not 0755"

# The image: the change as it was, whiteout applied; its layers' dirs were all there.
mi=$(strata mount moved:1)
cmp "$mi/big" "$TEST_TMP/big" || fail "big differs in the committed image"
assert_eq "$(cat "$mi/etc/motd")" hi "etc/motd"
assert_not_exists "$mi/bin/ls"
strata umount moved:1
assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "staging entries left in tmp/"
strata export moved:1 | tar -tf - | grep -qx big || fail "big is not in the export"
assert_fsck_clean

# A container committed without --rm keeps its upper dir, and the image its own copy.
id2=$(strata create busybox)
m2=$(strata mount "$id2")
echo two >"$m2/two"
strata umount "$id2"
strata commit "$id2" kept:1 >/dev/null
m2=$(strata mount "$id2")
assert_eq "$(cat "$m2/two")" two "the container's own change after commit"
strata umount "$id2"
strata rm "$id2" >/dev/null
mi=$(strata mount kept:1)
assert_eq "$(cat "$mi/two")" two "the image's change once the container is gone"
strata umount kept:1
assert_fsck_clean
