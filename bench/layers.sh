#!/bin/sh
# Layers on the Debian minbase rootfs (one ~120 MB layer):
#   strata layer unpack  vs  tar -xf of the same file (gzip and zstd)
#   strata layer unpack  vs  umoci unpack of the same image (umoci's gzip layer)
#   strata layer pack --compression zstd|gzip  vs  tar -c | zstd -T0 -3, tar -c | gzip -6
#   the zstd pack vs the same pipeline followed by a sync of its output
#   the same zstd pack from a cold cache
# and strata's peak RSS for each.
. "$(dirname "$0")/lib.sh"

tar=$(bench_debian_tar)
layout=$(bench_debian_layout)
rootfs=$(bench_debian_rootfs)
gz=$BENCH_CACHE/debian.tar.gz
zst=$BENCH_CACHE/debian.tar.zst
[ -f "$gz" ] || { gzip -6 -c "$tar" >"$gz.tmp" && mv "$gz.tmp" "$gz"; }
[ -f "$zst" ] || { zstd -3 -q -c "$tar" >"$zst.tmp" && mv "$zst.tmp" "$zst"; }
# The blob of umoci's layer, to unpack the very same bytes umoci does.
umoci_layer=$(python3 - "$layout" <<'PY'
import json, os, sys
l = sys.argv[1]
idx = json.load(open(os.path.join(l, "index.json")))
m = idx["manifests"][0]["digest"].split(":")[1]
man = json.load(open(os.path.join(l, "blobs", "sha256", m)))
print(os.path.join(l, "blobs", "sha256", man["layers"][0]["digest"].split(":")[1]))
PY
)
# Unpacks go to a new filesystem each run (bench_fresh_fs says why).
fs=$BENCH_TMP/fs
out=$fs/out
root=$BENCH_TMP/root
"$STRATA_BIN" --root "$root" images >/dev/null
fresh="bench_fresh_fs '$fs' && mkdir '$out'"

echo "input: $tar ($(du -m "$tar" | cut -f1) MB uncompressed), median of $BENCH_RUNS runs"
bench_header "operation" "strata (s)" "peer (s)" "ratio" "target" "strata peak RSS (MB)"

for c in gzip zstd; do
	f=$gz
	[ $c = zstd ] && f=$zst
	set -- $(bench_pair --setup "$fresh" "'$STRATA_BIN' layer unpack '$f' '$out'" "tar -xf '$f' -C '$out'")
	ours=$1 peer=$2
	eval "$fresh"
	rss=$(bench_rss "$STRATA_BIN" layer unpack "$f" "$out")
	bench_row "layer unpack ($c) vs tar -xf" "$ours" "$peer" "$(bench_ratio "$ours" "$peer")" \
		"<= 1.2" "$rss"
done

set -- $(bench_pair --setup "$fresh" \
	"'$STRATA_BIN' layer unpack '$umoci_layer' '$out'" \
	"umoci unpack --image '$layout:debian' '$fs/bundle'")
ours=$1 peer=$2
eval "$fresh"
rss=$(bench_rss "$STRATA_BIN" layer unpack "$umoci_layer" "$out")
bench_row "layer unpack vs umoci unpack (same gzip layer)" "$ours" "$peer" \
	"$(bench_ratio "$ours" "$peer")" "<= 0.5" "$rss"
umount "$fs"

for c in zstd gzip; do
	if [ $c = zstd ]; then
		pipe="tar -cf - -C '$rootfs' . | zstd -T0 -3 -q -c >'$BENCH_TMP/p.out'"
		label="tar -c \\| zstd -T0 -3"
	else
		pipe="tar -cf - -C '$rootfs' . | gzip -6 -c >'$BENCH_TMP/p.out'"
		label="tar -c \\| gzip -6"
	fi
	set -- $(bench_pair --setup "rm -rf '$root/blobs/sha256/'* '$BENCH_TMP/p.out'" \
		"'$STRATA_BIN' --root '$root' layer pack --compression $c '$rootfs'" "$pipe")
	ours=$1 peer=$2
	rm -rf "$root/blobs/sha256/"*
	rss=$(bench_rss "$STRATA_BIN" --root "$root" layer pack --compression $c "$rootfs")
	bench_row "layer pack --compression $c vs $label" "$ours" "$peer" \
		"$(bench_ratio "$ours" "$peer")" "<= 1.0" "$rss"
	[ $c = zstd ] || continue
	# strata's blob is on disk when it returns (written back as it goes,
	# then fsynced); the pipeline's file is not. The same, made durable too:
	set -- $(bench_pair --setup "rm -rf '$root/blobs/sha256/'* '$BENCH_TMP/p.out'" \
		"'$STRATA_BIN' --root '$root' layer pack --compression $c '$rootfs'" \
		"$pipe && sync '$BENCH_TMP/p.out'")
	bench_row "layer pack --compression $c vs $label, then sync of its file" "$1" "$2" \
		"$(bench_ratio "$1" "$2")" "(none)" "$rss"
done

# Pack from a cold cache: the rootfs on an ext4 image of its own, on a loop
# device with direct I/O (so that the host's page cache does not keep the
# image either), unmounted and mounted again before every run.
cold=$BENCH_TMP/cold
cimg=$BENCH_TMP/cold.img
truncate -s 1G "$cimg"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$cimg"
cdev=$(losetup --direct-io=on -f --show "$cimg")
bench_on_cleanup "mountpoint -q '$cold' && umount '$cold'; losetup -d '$cdev'"
mkdir -p "$cold"
mount "$cdev" "$cold"
cp -a "$rootfs" "$cold/rootfs"
umount "$cold"
remount="if mountpoint -q '$cold'; then umount '$cold'; fi; mount '$cdev' '$cold' && rm -rf '$root/blobs/sha256/'* '$BENCH_TMP/p.out'"
set -- $(bench_pair --setup "$remount" \
	"'$STRATA_BIN' --root '$root' layer pack --compression zstd '$cold/rootfs'" \
	"tar -cf - -C '$cold/rootfs' . | zstd -T0 -3 -q -c >'$BENCH_TMP/p.out'")
ours=$1 peer=$2
eval "$remount"
rss=$(bench_rss "$STRATA_BIN" --root "$root" layer pack --compression zstd "$cold/rootfs")
umount "$cold"
bench_row "layer pack --compression zstd, cold cache, vs tar -c \\| zstd -T0 -3" "$ours" "$peer" \
	"$(bench_ratio "$ours" "$peer")" "(none)" "$rss"
