# Sourced by bench/*.sh: cached inputs, timing, peak RSS, result tables.
# Every figure is a median of $BENCH_RUNS runs (default 5), strata and the
# peer measured in the same run, side by side.
set -eu

BENCH_TOP=$(cd "$(dirname "$0")/.." && pwd)
STRATA_BIN=${STRATA_BIN:-$BENCH_TOP/strata}
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_CACHE=${BENCH_CACHE:-/var/cache/strata-bench}
BENCH_TMP=$(mktemp -d /var/tmp/strata-bench.XXXXXX)
BENCH_RESULTS=${BENCH_RESULTS:-$BENCH_TOP/bench/results}
mkdir -p "$BENCH_CACHE" "$BENCH_RESULTS"

_bench_cleanups=""
bench_on_cleanup() {
	_bench_cleanups="$1
$_bench_cleanups"
}
_bench_cleanup() {
	set +e
	printf '%s\n' "$_bench_cleanups" | while IFS= read -r c; do [ -n "$c" ] && eval "$c"; done
	awk -v p="$BENCH_TMP" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf "$BENCH_TMP"
}
trap _bench_cleanup EXIT
trap 'exit 130' INT TERM

# The apt mirror, read from apt's own sources (never written into a file).
_bench_mirror() {
	m=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | cut -d' ' -f1)
	[ -n "$m" ] || m=$(awk '$1 == "deb" {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
	echo "$m"
}

# A Debian 12 minbase rootfs made with debootstrap once, then cached:
# prints the directory.
bench_debian_rootfs() {
	d=$BENCH_CACHE/debian-rootfs
	if [ ! -f "$d/.complete" ]; then
		rm -rf "$d"
		echo "bench: making a Debian minbase rootfs with debootstrap (once)" >&2
		debootstrap --variant=minbase bookworm "$d" "$(_bench_mirror)" >"$BENCH_CACHE/debootstrap.log" 2>&1 ||
			{ echo "bench: debootstrap failed, see $BENCH_CACHE/debootstrap.log" >&2; exit 1; }
		rm -rf "$d"/var/cache/apt/archives/*.deb "$d"/var/lib/apt/lists/* "$d"/var/log/* "$d"/dev/*
		touch "$d/.complete"
	fi
	echo "$d"
}

# The Debian rootfs as a tar (uncompressed, sorted, numeric owners): prints its path.
bench_debian_tar() {
	t=$BENCH_CACHE/debian.tar
	if [ ! -f "$t" ]; then
		d=$(bench_debian_rootfs)
		tar --sort=name --numeric-owner --exclude=./.complete -C "$d" -cf "$t.tmp" . && mv "$t.tmp" "$t"
	fi
	echo "$t"
}

# The Debian rootfs as an OCI layout made by umoci (tag "debian"), gzip layer: prints its path.
bench_debian_layout() {
	l=$BENCH_CACHE/debian-layout
	if [ ! -f "$l/.complete" ]; then
		rm -rf "$l"
		umoci init --layout "$l" >/dev/null
		umoci new --image "$l:debian" >/dev/null
		umoci raw add-layer --image "$l:debian" "$(bench_debian_tar)" >/dev/null
		umoci gc --layout "$l" >/dev/null
		touch "$l/.complete"
	fi
	echo "$l"
}

# A tree of N files of 0.5 to 1.5 KB, 1,000 to a directory, made once in
# $BENCH_CACHE: prints its directory.
bench_small_tree() {
	d=$BENCH_CACHE/small-$1
	if [ ! -d "$d" ]; then
		python3 - "$d.tmp" "$1" <<'PY'
import os, sys
top, n = sys.argv[1], int(sys.argv[2])
data = bytes(range(256)) * 6
for i in range(n):
    d = f"{top}/d{i // 1000:03d}"
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(f"{d}/f{i % 1000:04d}", "wb") as f:
        f.write(data[: 500 + (i * 7) % 1000])
PY
		mv "$d.tmp" "$d"
	fi
	echo "$d"
}

# Mounts a new, empty ext4 filesystem at DIR (a sparse 4 GB image, made
# again at every call; mkfs initialises its inode tables at once, so no
# background thread writes them during a run). For the benchmarks that
# create thousands of files: on a filesystem where such trees are made and
# deleted run after run, ext4 skips the recently freed inodes one by one
# (recently_deleted() in its inode allocator), and every run gets slower
# than the one before, for strata and the peers alike.
bench_fresh_fs() {
	_d=$1
	_img=$BENCH_TMP/fs.img
	if mountpoint -q "$_d"; then umount "$_d"; fi
	rm -f "$_img"
	truncate -s 4G "$_img"
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$_img"
	mkdir -p "$_d"
	mount -o loop "$_img" "$_d"
}

# Runs a command $BENCH_RUNS times and prints the median wall time in
# seconds. A setup command (not timed) runs before each run when given:
#   bench_time [--setup 'cmd'] -- cmd args...
bench_time() {
	setup=""
	if [ "$1" = --setup ]; then
		setup=$2
		shift 2
	fi
	[ "$1" = -- ] && shift
	i=0
	: >"$BENCH_TMP/times"
	while [ $i -lt "$BENCH_RUNS" ]; do
		[ -n "$setup" ] && eval "$setup" >/dev/null 2>&1
		s=$(date +%s.%N)
		"$@" >/dev/null 2>"$BENCH_TMP/stderr" || {
			echo "bench: command failed: $*" >&2
			cat "$BENCH_TMP/stderr" >&2
			exit 1
		}
		e=$(date +%s.%N)
		echo "$e - $s" | bc -l >>"$BENCH_TMP/times"
		i=$((i + 1))
	done
	sort -n "$BENCH_TMP/times" | awk '{a[NR]=$1} END {printf "%.3f\n", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# One timed run of a command string (eval'd here, so shell functions work):
# prints its wall time in seconds; a failure ends the bench.
_bench_once() {
	s=$(date +%s.%N)
	eval "$1" >/dev/null 2>"$BENCH_TMP/stderr" || {
		echo "bench: command failed: $1" >&2
		cat "$BENCH_TMP/stderr" >&2
		exit 1
	}
	e=$(date +%s.%N)
	echo "$e - $s" | bc -l
}

# Median of the numbers in a file, three decimals.
_bench_median() {
	sort -n "$1" | awk '{a[NR]=$1} END {printf "%.3f\n", (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# Times strata and its peer side by side: $BENCH_RUNS runs each, taken in
# turns (strata first in one round, the peer first in the next), with the
# setup and a sync before every run, untimed, so that both meet the same
# page cache and writeback state. With --settle S, each run waits S seconds
# after its sync, so that it starts from an idle system, as a single command
# does (without it each run follows the other side's closely).
# Prints "STRATA_MEDIAN PEER_MEDIAN".
#   bench_pair [--setup 'cmd'] [--settle S] 'strata cmd' 'peer cmd'
bench_pair() {
	setup=:
	settle=0
	if [ "$1" = --setup ]; then
		setup=$2
		shift 2
	fi
	if [ "$1" = --settle ]; then
		settle=$2
		shift 2
	fi
	: >"$BENCH_TMP/t.ours"
	: >"$BENCH_TMP/t.peer"
	i=0
	while [ $i -lt "$BENCH_RUNS" ]; do
		for side in ours peer; do
			[ $((i % 2)) = 1 ] && side=$([ $side = ours ] && echo peer || echo ours)
			eval "$setup" >/dev/null 2>&1
			sync
			[ "$settle" = 0 ] || sleep "$settle"
			if [ $side = ours ]; then
				_bench_once "$1" >>"$BENCH_TMP/t.ours"
			else
				_bench_once "$2" >>"$BENCH_TMP/t.peer"
			fi
		done
		i=$((i + 1))
	done
	echo "$(_bench_median "$BENCH_TMP/t.ours") $(_bench_median "$BENCH_TMP/t.peer")"
}

# Peak RSS in MB of one run of a command.
bench_rss() {
	/usr/bin/time -f '%M' -o "$BENCH_TMP/rss" "$@" >/dev/null 2>&1 || {
		echo "bench: command failed: $*" >&2
		exit 1
	}
	awk '{printf "%.1f\n", $1/1024}' "$BENCH_TMP/rss"
}

# ratio A B: A/B with two decimals.
bench_ratio() {
	echo "$1 $2" | awk '{ if ($2 > 0) printf "%.2f\n", $1/$2; else print "n/a" }'
}

# Appends a markdown table row to the results file of this bench and prints it.
bench_row() {
	line="| $(printf '%s | ' "$@")"
	echo "$line" | tee -a "$BENCH_RESULTS/$(basename "$0" .sh).md"
}

# Starts a results table with the given header cells.
bench_header() {
	: >"$BENCH_RESULTS/$(basename "$0" .sh).md"
	bench_row "$@"
	n=$#
	sep="|"
	while [ $n -gt 0 ]; do sep="$sep --- |"; n=$((n - 1)); done
	echo "$sep" | tee -a "$BENCH_RESULTS/$(basename "$0" .sh).md"
}
