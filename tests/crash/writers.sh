#!/bin/sh
# Concurrent writers: tests/crash/writers.sh [ROUNDS] [WRITERS] (default 20
# rounds of 8 writers) on one store. Each writer, each round: import (gzip
# or zstd), tag, create + change + commit, create/rm, rmi of its previous
# round's tag, fsck (must be clean while the others write), and every few
# rounds a build with a RUN step and a gc. At the end every tag exports,
# and gc + fsck are clean. Needs root (mounts, RUN).
. "${0%/*}/../lib.sh"
require_root "mounts overlays and runs build steps"
ROUNDS=${1:-20}
WRITERS=${2:-8}
s() { "$STRATA_BIN" --root "$ROOT" "$@"; }

src=$TEST_TMP/src
mkdir -p "$src/data"
tar -C "$src" -xf "$(busybox_tar)"
i=0
while [ $i -lt 20 ]; do
	echo "$i" >"$src/data/f$i"
	i=$((i + 1))
done
tar -C "$src" -cf "$TEST_TMP/src.tar" .
s import "$(busybox_tar)" busybox >/dev/null

writer() {
	w=$1
	ctx=$TEST_TMP/ctx$w
	mkdir -p "$ctx"
	printf 'FROM w%s:latest\nRUN echo %s >/built\n' "$w" "$w" >"$ctx/Containerfile"
	r=0
	while [ $r -lt "$ROUNDS" ]; do
		comp=gzip
		[ $(((r + w) % 2)) = 0 ] && comp=zstd
		s import --compression $comp "$TEST_TMP/src.tar" "w$w:r$r" >/dev/null ||
			fail "writer $w round $r: import"
		s tag "w$w:r$r" "w$w:latest" || fail "writer $w round $r: tag"
		c=$(s create "w$w:latest") || fail "writer $w round $r: create"
		m=$(s mount "$c") || fail "writer $w round $r: mount"
		echo "$w $r" >"$m/changed"
		s umount "$c" >/dev/null || fail "writer $w round $r: umount"
		s commit "$c" "w$w-c:latest" >/dev/null || fail "writer $w round $r: commit"
		s rm "$c" >/dev/null || fail "writer $w round $r: rm"
		c=$(s create busybox) || fail "writer $w round $r: create busybox"
		s rm "$c" >/dev/null || fail "writer $w round $r: rm busybox container"
		if [ $r -gt 0 ]; then
			s rmi "w$w:r$((r - 1))" >/dev/null || fail "writer $w round $r: rmi"
		fi
		if [ $(((r + w) % 4)) = 0 ]; then
			s build -q -t "w$w-b:latest" "$ctx" >/dev/null || fail "writer $w round $r: build"
		fi
		if [ $(((r + w) % 4)) = 2 ]; then
			s gc >/dev/null || fail "writer $w round $r: gc"
		fi
		o=$(s fsck 2>&1) || fail "writer $w round $r: fsck beside the other writers: $o"
		r=$((r + 1))
	done
}

pids=""
w=0
while [ $w -lt "$WRITERS" ]; do
	(writer $w) >"$TEST_TMP/writer$w.log" 2>&1 &
	pids="$pids $!"
	track_pid $!
	w=$((w + 1))
done
failed=0
w=0
for p in $pids; do
	wait "$p" || {
		failed=1
		echo "writer $w: $(tail -3 "$TEST_TMP/writer$w.log")" >&2
	}
	w=$((w + 1))
done
[ $failed = 0 ] || fail "$WRITERS writers x $ROUNDS rounds: a writer failed"

# Every tag exports; each writer's commit holds its last change.
s images --format json | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    for n in i["RepoTags"]:
        print(n)' >"$TEST_TMP/tags"
n=0
while read -r t; do
	s export "$t" | tar -tf - >/dev/null || fail "tag '$t' does not export"
	n=$((n + 1))
done <"$TEST_TMP/tags"
w=0
while [ $w -lt "$WRITERS" ]; do
	s export "w$w-c:latest" | tar -xOf - --wildcards '*changed' >"$TEST_TMP/changed" ||
		fail "export of w$w-c"
	assert_eq "$(cat "$TEST_TMP/changed")" "$w $((ROUNDS - 1))" "writer $w's last commit"
	w=$((w + 1))
done
s gc >/dev/null
assert_fsck_clean
echo "$WRITERS writers x $ROUNDS rounds: every fsck clean, $n tags export"
