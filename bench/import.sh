#!/bin/sh
# Import of a ~200 MB uncompressed rootfs tar (the Debian minbase rootfs
# and a second copy of its /usr), against a compressor piped into sha256sum:
#   strata import --compression zstd  vs  zstd -T0 -3 < tar | sha256sum
#   strata import --compression gzip  vs  gzip -6 < tar | sha256sum
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
