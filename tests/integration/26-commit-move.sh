# commit --rm: the container's upper dir becomes the new layer's dir (moved,
# not copied), so a change is on disk twice (its blob and the layer dir),
# not three times; the dir holds no overlayfs-private xattrs, the image
# mounts without unpacking, and the container is gone. A plain commit of a
# stopped container moves its upper dir too, the container going on from
# the new image with a fresh upper dir; a mounted (or running) one's is
# reflinked where the filesystem can, else no layer dir is made before it
# is needed: never three copies.
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

# A plain commit of a stopped container: the store grows by the blob
# alone (the upper dir became the layer dir); the container still runs and
# sees its files, and what it writes afterwards does not reach the image.
head -c $((50 << 20)) /dev/urandom >"$TEST_TMP/b50"
id3=$(strata create busybox sh -c 'md5sum /b50; cat /etc/motd; echo more >>/etc/motd; dd if=/dev/zero of=/b50 bs=1k count=1 conv=notrunc 2>/dev/null; md5sum /b50')
m3=$(strata mount "$id3")
cp "$TEST_TMP/b50" "$m3/b50"
echo kept >"$m3/etc/motd"
strata umount "$id3"
sync
before=$(du -sk "$ROOT" | cut -f1)
strata commit --compression zstd "$id3" kept50:1 >/dev/null
sync
after=$(du -sk "$ROOT" | cut -f1)
grown=$((after - before))
# the blob (50 MiB, incompressible) and under 8 MiB besides; a copy of the
# upper dir into the layer dir would add 50 MiB more
[ "$grown" -lt $(((50 + 8) * 1024)) ] || fail "a plain commit grew the store by $grown KiB for a 50 MiB change"
sum=$(md5sum <"$TEST_TMP/b50" | cut -d' ' -f1)
out=$(strata start -a "$id3")
assert_eq "$(echo "$out" | sed -n 1p | cut -d' ' -f1)" "$sum" "the container's own file after commit"
assert_eq "$(echo "$out" | sed -n 2p)" kept "the container's motd after commit"
[ "$(echo "$out" | sed -n 3p | cut -d' ' -f1)" != "$sum" ] || fail "the container's write did not happen"
mi=$(strata mount kept50:1)
cmp "$mi/b50" "$TEST_TMP/b50" || fail "a write in the container changed the committed layer"
assert_eq "$(cat "$mi/etc/motd")" kept "the committed motd"
strata umount kept50:1
out=$(strata start -a "$id3")
# its first run's own write is still there
assert_eq "$(echo "$out" | sed -n 2,3p | tr '\n' ' ')" "kept more " "the container's motd, second run"
assert_contains "$(strata diff "$id3")" "etc/motd"
strata rm "$id3" >/dev/null
mi=$(strata mount kept50:1)
cmp "$mi/b50" "$TEST_TMP/b50" || fail "the committed layer changed when the container went"
strata umount kept50:1
assert_fsck_clean

# A mounted container cannot give its upper dir up: its layer dir is a
# reflink (or, where the filesystem cannot, made from the blob when first
# needed), never a third copy.
id4=$(strata create busybox)
m4=$(strata mount "$id4")
cp "$TEST_TMP/b50" "$m4/b50"
sync
before=$(du -sk "$ROOT" | cut -f1)
strata commit --compression zstd "$id4" mounted50:1 >/dev/null
sync
after=$(du -sk "$ROOT" | cut -f1)
grown=$((after - before))
[ "$grown" -lt $(((50 + 8) * 1024)) ] || fail "a mounted container's commit grew the store by $grown KiB for a 50 MiB change"
cmp "$m4/b50" "$TEST_TMP/b50" || fail "the mounted container lost its file"
strata umount "$id4"
mi=$(strata mount mounted50:1)
cmp "$mi/b50" "$TEST_TMP/b50" || fail "b50 differs in the image of the mounted container"
strata umount mounted50:1
strata rm "$id4" >/dev/null
assert_fsck_clean

# A container committed without --rm keeps its change, and the image its own.
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
