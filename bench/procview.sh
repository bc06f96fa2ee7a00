#!/bin/sh
# The container's /proc view: what it costs a start, and what a read costs.
#   run --rm busybox true with the view (the default) against
#   --proc-view=false, side by side;
#   10,000 opens and reads of /proc/meminfo inside one container (the
#   static read-loop helper, no fork per read) against the same reads of
#   LXCFS's meminfo for the same container (LXCFS run on a scratch mount
#   point and bound in), taken in turns in the same container.
. "$(dirname "$0")/lib.sh"

root=$BENCH_TMP/root
s() { "$STRATA_BIN" --root "$root" "$@"; }
tar=$BENCH_TMP/busybox.tar
"$BENCH_TOP/fixtures/busybox/make-rootfs.sh" "$tar" >/dev/null 2>&1
s import "$tar" busybox >/dev/null
s run --rm busybox true # warm: layer dirs made
loop=${STRATA_TEST_HELPERS:-$BENCH_TOP/build/tests}/read-loop
[ -x "$loop" ] || { echo "bench: no $loop: run 'make units'" >&2; exit 1; }

echo "median of $BENCH_RUNS runs"
bench_header "operation" "strata (s)" "peer (s)" "ratio" "target"

set -- $(bench_pair "'$STRATA_BIN' --root '$root' run --rm busybox true" \
	"'$STRATA_BIN' --root '$root' run --rm --proc-view=false busybox true")
d=$(echo "$1 $2" | awk '{ printf "%.1f ms\n", ($1 - $2) * 1000 }')
bench_row "run --rm busybox true, view on vs --proc-view=false (+$d)" "$1" "$2" \
	"$(bench_ratio "$1" "$2")" "<= +5 ms"

lx=$BENCH_TMP/lxcfs
mkdir -p "$lx"
lxcfs -f -p "$BENCH_TMP/lxcfs.pid" "$lx" >"$BENCH_TMP/lxcfs.log" 2>&1 &
lxpid=$!
bench_on_cleanup "kill $lxpid 2>/dev/null; umount -l '$lx' 2>/dev/null; true"
for _ in $(seq 100); do [ -f "$lx/proc/meminfo" ] && break; sleep 0.1; done
n=${PROCVIEW_READS:-10000}
: >"$BENCH_TMP/t.ours"
: >"$BENCH_TMP/t.peer"
s run --rm --memory 64m -v "$loop:/read-loop:ro" -v "$lx/proc:/lxcfs:ro" busybox sh -c "
	i=0
	while [ \$i -lt $BENCH_RUNS ]; do
		echo ours \$(/read-loop /proc/meminfo $n)
		echo peer \$(/read-loop /lxcfs/meminfo $n)
		i=\$((i + 1))
	done" >"$BENCH_TMP/reads"
awk '$1 == "ours" {print $2}' "$BENCH_TMP/reads" >"$BENCH_TMP/t.ours"
awk '$1 == "peer" {print $2}' "$BENCH_TMP/reads" >"$BENCH_TMP/t.peer"
ours=$(_bench_median "$BENCH_TMP/t.ours")
peer=$(_bench_median "$BENCH_TMP/t.peer")
bench_row "$n reads of /proc/meminfo in a container vs LXCFS's" "$ours" "$peer" \
	"$(bench_ratio "$ours" "$peer")" "<= 1.5"
