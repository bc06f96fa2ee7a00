#!/bin/sh
# Import of a ~200 MB uncompressed rootfs tar (the Debian minbase rootfs
# and a second copy of its /usr), against a compressor piped into sha256sum:
#   strata import --compression zstd  vs  zstd -T0 -3 < tar | sha256sum
#   strata import --compression gzip  vs  gzip -6 < tar | sha256sum
#   strata import DIR of 300,000 small files ($BENCH_IMPORT_FILES)
#                                      vs  tar -c DIR | zstd -T0 -3
#   strata import of a tar of one 4 GB file ($BENCH_BIG_GB), zstd and gzip,
#                                      vs  zstd -T0 -3 | tee >(sha256sum) | sha256sum
#   commit of a 50 MB change: how much the store grows (blob + layer dir),
#                                      against the change
# and strata's peak RSS.
. "$(dirname "$0")/lib.sh"

tar=$BENCH_CACHE/rootfs200.tar
if [ ! -f "$tar" ]; then
	d=$(bench_debian_rootfs)
	mkdir -p "$BENCH_TMP/extra/opt"
	cp -a "$d/usr" "$BENCH_TMP/extra/opt/usr-copy"
	tar --sort=name --numeric-owner --exclude=./.complete -cf "$tar.tmp" \
		-C "$d" . -C "$BENCH_TMP/extra" ./opt
	rm -rf "$BENCH_TMP/extra"
	mv "$tar.tmp" "$tar"
fi
size=$(du -m "$tar" | cut -f1)
root=$BENCH_TMP/root
s() { "$STRATA_BIN" --root "$root" "$@"; }
s images >/dev/null

echo "input: $tar (${size} MB), median of $BENCH_RUNS runs"
bench_header "operation" "strata (s)" "peer (s)" "ratio" "target" "strata peak RSS (MB)"

set -- $(bench_pair "'$STRATA_BIN' --root '$root' import --compression zstd '$tar' bench:zstd" \
	"zstd -T0 -3 -q -c < '$tar' | sha256sum")
ours_z=$1 peer_z=$2
rss_z=$(bench_rss "$STRATA_BIN" --root "$root" import --compression zstd "$tar" bench:zstd)
bench_row "import --compression zstd vs zstd -T0 -3 \| sha256sum" "$ours_z" "$peer_z" \
	"$(bench_ratio "$ours_z" "$peer_z")" "<= 1.3" "$rss_z"

set -- $(bench_pair "'$STRATA_BIN' --root '$root' import --compression gzip '$tar' bench:gzip" \
	"gzip -6 -c < '$tar' | sha256sum")
ours_g=$1 peer_g=$2
rss_g=$(bench_rss "$STRATA_BIN" --root "$root" import --compression gzip "$tar" bench:gzip)
bench_row "import --compression gzip vs gzip -6 \| sha256sum" "$ours_g" "$peer_g" \
	"$(bench_ratio "$ours_g" "$peer_g")" "<= 1.2" "$rss_g"

# A directory of many small files: the walk, one file at a time against
# batches through io_uring (see BENCHMARKS.md).
nfiles=${BENCH_IMPORT_FILES:-300000}
tree=$(bench_small_tree "$nfiles")
set -- $(bench_pair --setup "rm -rf '$root/blobs/sha256/'*" \
	"'$STRATA_BIN' --root '$root' import --compression zstd '$tree' bench:dir" \
	"tar -cf - -C '$tree' . | zstd -T0 -3 -q -c >/dev/null")
rss=$(bench_rss "$STRATA_BIN" --root "$root" import --compression zstd "$tree" bench:dir)
bench_row "import DIR of $nfiles files --compression zstd vs tar -c \| zstd -T0 -3" "$1" "$2" \
	"$(bench_ratio "$1" "$2")" "<= 1.0" "$rss"
rm -rf "$root/blobs/sha256/"*

# One large file (random bytes, made once): both digests and the
# compression against the pipeline that computes the same three.
gb=${BENCH_BIG_GB:-4}
big=$BENCH_CACHE/big-${gb}g.tar
if [ ! -f "$big" ]; then
	mkdir -p "$BENCH_TMP/bigsrc"
	head -c "${gb}G" /dev/urandom >"$BENCH_TMP/bigsrc/big"
	tar -cf "$big.tmp" -C "$BENCH_TMP/bigsrc" big && mv "$big.tmp" "$big"
	rm -rf "$BENCH_TMP/bigsrc"
fi
peer="bash -c 'zstd -T0 -3 -q -c <\"$big\" | tee >(sha256sum >/dev/null) | sha256sum >/dev/null'"
for c in zstd gzip; do
	set -- $(bench_pair --setup "rm -rf '$root/blobs/sha256/'*" \
		"'$STRATA_BIN' --root '$root' import --compression $c '$big' bench:big" "$peer")
	rss=$(bench_rss "$STRATA_BIN" --root "$root" import --compression $c "$big" bench:big)
	bench_row "import of one $gb GB file --compression $c vs zstd -T0 -3 \| tee \>(sha256sum) \| sha256sum" \
		"$1" "$2" "$(bench_ratio "$1" "$2")" "<= 1.2" "$rss"
	rm -rf "$root/blobs/sha256/"*
done

# A plain commit of a 50 MB change (container kept): the store grows by
# the blob, never by a copy of the upper dir besides.
root=$BENCH_TMP/commit-root
busy=$BENCH_TMP/busybox
mkdir -p "$busy/bin"
cp /bin/busybox "$busy/bin/busybox"
ln -s busybox "$busy/bin/sh"
s import "$busy" bench:busybox >/dev/null
id=$(s create bench:busybox)
m=$(s mount "$id")
head -c $((50 << 20)) /dev/urandom >"$m/change"
s umount "$id" >/dev/null
sync
before=$(du -sk "$root" | cut -f1)
s commit --compression zstd "$id" bench:committed >/dev/null
sync
grown=$(( ($(du -sk "$root" | cut -f1) - before) / 1024 ))
s rm -f "$id" >/dev/null
bench_row "commit of a 50 MB change (container kept): store growth (MB) vs the change (MB)" \
	"$grown" 50 "$(bench_ratio "$grown" 50)" "<= 2 (blob + at most the change)" ""
