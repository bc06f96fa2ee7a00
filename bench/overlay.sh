#!/bin/sh
# Container filesystems: commit of a one-file change on busybox and on
# Debian minbase (the cost must follow the change, not the image), commit of
# 100 MB of new files against `buildah commit` of the same change on the
# same base, and mount of a 100-layer image against buildah mount and a bare
# kernel overlay mount of the same lowers.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" = 0 ] || { echo "bench: overlay.sh needs root (mounts)" >&2; exit 1; }
ROOT=$BENCH_TMP/root
B="buildah --root $BENCH_TMP/buildah --runroot $BENCH_TMP/buildah-run --storage-driver overlay"
s() { "$STRATA_BIN" --root "$ROOT" "$@"; }
bench_on_cleanup "$B rm -a >/dev/null 2>&1; $B rmi -a -f >/dev/null 2>&1; umount -R $BENCH_TMP/buildah/overlay 2>/dev/null"

echo "bench: preparing images" >&2
"$BENCH_TOP/fixtures/busybox/make-rootfs.sh" "$BENCH_TMP/busybox.tar" >/dev/null
s import --compression zstd "$BENCH_TMP/busybox.tar" busybox >/dev/null
s import --compression zstd "$(bench_debian_tar)" debian >/dev/null
python3 "$BENCH_TOP/tests/integration/mkimage.py" "$ROOT" deep100 100 >/dev/null

# 100 MB of new files: 1,000 files of 100 kB of random bytes (they do not compress).
mkdir -p "$BENCH_TMP/payload"
i=0
while [ $i -lt 1000 ]; do
	head -c 100000 /dev/urandom >"$BENCH_TMP/payload/f$i"
	i=$((i + 1))
done

# One container per base with the change in place, re-made before each run
# so that every commit does all of its work (no layer dir left from the last).
prep_one() { # BASE NAME
	s rm -f "$2" >/dev/null 2>&1 || true
	s rmi "$2-img:1" >/dev/null 2>&1 || true
	s gc >/dev/null
	s create --name "$2" "$1" >/dev/null
	m=$(s mount "$2")
	echo "one line" >"$m/etc/one-file"
	s umount "$2"
}
prep_big() { # BASE NAME
	s rm -f "$2" >/dev/null 2>&1 || true
	s rmi "$2-img:1" >/dev/null 2>&1 || true
	s gc >/dev/null
	s create --name "$2" "$1" >/dev/null
	m=$(s mount "$2")
	cp -r "$BENCH_TMP/payload" "$m/payload"
	s umount "$2"
	sync
}

bench_header "operation" "strata" "peer" "strata / peer"

t_bb=$(bench_time --setup "prep_one busybox c-bb" -- s commit c-bb c-bb-img:1)
t_deb=$(bench_time --setup "prep_one debian c-deb" -- s commit c-deb c-deb-img:1)

# buildah: the same one-file change on the same Debian base, imported from our store.
skopeo copy -q "oci:$ROOT:debian:latest" "containers-storage:[overlay@$BENCH_TMP/buildah+$BENCH_TMP/buildah-run]localhost/debian:latest" >/dev/null
bprep_one() {
	$B rm bc >/dev/null 2>&1 || true
	$B rmi -f bc-img >/dev/null 2>&1 || true
	$B from --name bc localhost/debian >/dev/null
	bm=$($B mount bc)
	echo "one line" >"$bm/etc/one-file"
}
t_b1=$(bench_time --setup bprep_one -- $B commit -q bc bc-img)
bench_row "commit, one-file change, busybox base" "${t_bb}s" "" ""
bench_row "commit, one-file change, Debian minbase base" "${t_deb}s" "buildah ${t_b1}s" "$(bench_ratio "$t_deb" "$t_b1")"

# 100 MB of new files on Debian, zstd and gzip layers; buildah keeps layers uncompressed.
t_zst=$(bench_time --setup "prep_big debian c-big" -- s commit --compression zstd c-big c-big-img:1)
t_gz=$(bench_time --setup "prep_big debian c-big" -- s commit --compression gzip c-big c-big-img:1)
bprep_big() {
	$B rm bc >/dev/null 2>&1 || true
	$B rmi -f bc-img >/dev/null 2>&1 || true
	$B from --name bc localhost/debian >/dev/null
	bm=$($B mount bc)
	cp -r "$BENCH_TMP/payload" "$bm/payload"
	sync
}
t_b100=$(bench_time --setup bprep_big -- $B commit -q bc bc-img)
bench_row "commit, 100 MB of new files (zstd layer)" "${t_zst}s" "buildah ${t_b100}s" "$(bench_ratio "$t_zst" "$t_b100")"
bench_row "commit, 100 MB of new files (gzip layer)" "${t_gz}s" "buildah ${t_b100}s" "$(bench_ratio "$t_gz" "$t_b100")"

# Mount of a 100-layer image: strata mount of a container, buildah mount of a
# container of the same image, and a bare mount -t overlay of its 100 lowers.
s create --name c-deep deep100 >/dev/null
s mount c-deep >/dev/null
s umount c-deep
t_m=$(bench_time --setup "s umount c-deep" -- s mount c-deep)
s umount c-deep
skopeo copy -q "oci:$ROOT:deep100:latest" "containers-storage:[overlay@$BENCH_TMP/buildah+$BENCH_TMP/buildah-run]localhost/deep100:latest" >/dev/null
$B from --name bdeep localhost/deep100 >/dev/null
# buildah 1.28's overlay driver cannot mount 100 lowers here (mount data too long).
# (timed by hand: bench_time would end the whole run on the failure)
bm_times=""
for _ in 1 2 3 4 5; do
	$B umount bdeep >/dev/null 2>&1 || true
	st=$(date +%s.%N)
	$B mount bdeep >/dev/null 2>&1 || { bm_times=""; break; }
	bm_times="$bm_times $(echo "$(date +%s.%N) - $st" | bc -l)"
done
$B umount bdeep >/dev/null 2>&1 || true
if [ -n "$bm_times" ]; then
	t_bm=$(printf '%s\n' $bm_times | sort -n | sed -n 3p | awk '{printf "%.3f\n", $1}')
	bm="buildah ${t_bm}s"
else
	t_bm=""
	bm="buildah: fails here"
fi
# Short names, as the page of mount(2) options needs; the time is the kernel's.
mkdir -p "$BENCH_TMP/k/u" "$BENCH_TMP/k/w" "$BENCH_TMP/k/m" "$BENCH_TMP/k/l"
n=0
for d in $(ls -d "$ROOT"/layers/overlay/*/diff | head -n 100); do
	ln -s "$d" "$BENCH_TMP/k/l/$n"
	n=$((n + 1))
done
lowers=$(seq -s: 0 99)
cd "$BENCH_TMP/k/l"
t_k=$(bench_time --setup "umount $BENCH_TMP/k/m 2>/dev/null || true" -- mount -t overlay overlay -o "lowerdir=$lowers,upperdir=$BENCH_TMP/k/u,workdir=$BENCH_TMP/k/w" "$BENCH_TMP/k/m")
umount "$BENCH_TMP/k/m"
cd /
bench_row "mount, 100-layer image" "${t_m}s" "$bm" "$([ -n "$t_bm" ] && bench_ratio "$t_m" "$t_bm" || echo n/a)"
bench_row "(bare kernel mount of the same 100 lowers)" "" "mount(8) ${t_k}s" "$(bench_ratio "$t_m" "$t_k")"
