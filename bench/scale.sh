#!/bin/sh
# How the store's commands grow with its size: stores of 100, 1,000 and
# 10,000 names of one image, and of as many distinct images (one config
# each, one shared layer), filled by tests/integration/mkstore.py. Each
# command's median wall time at each size, and the growth from 1,000 to
# 10,000 (10x is linear), with the least CPU time (user + system) of the
# runs beside each median wall time:
#   images, images -q, info, inspect NAME, tag IMAGE N-names (one call),
#   rmi N-names (one call), gc with nothing to free, fsck.
# SCALE_SIZES overrides the sizes ("100 1000 10000").
. "$(dirname "$0")/lib.sh"

sizes=${SCALE_SIZES:-100 1000 10000}
mkdir -p "$BENCH_TMP/base/bin"
echo hi >"$BENCH_TMP/base/bin/hello"
tar -C "$BENCH_TMP/base" -cf "$BENCH_TMP/base.tar" .

# A store of KIND (names, images) and size N at $BENCH_TMP/KIND-N, with
# the names to tag and remove, and index.json saved to restore between runs.
make_store() {
	r=$BENCH_TMP/$1-$2
	"$STRATA_BIN" --root "$r" import "$BENCH_TMP/base.tar" scale/base >/dev/null
	python3 "$BENCH_TOP/tests/integration/mkstore.py" "$r" "$1" "$2"
	seq 0 $(($2 - 1)) | sed 's|^|new/name:t|' >"$r/new-names"
	if [ "$1" = names ]; then
		seq 0 $(($2 - 1)) | sed 's|^|scale/one:t|' >"$r/names"
	else
		seq 0 $(($2 - 1)) | sed 's|^\(.*\)$|scale/img\1:latest|' >"$r/names"
	fi
	cp "$r/index.json" "$r/index.saved"
	# The first listing writes the image summary; the timed ones read it.
	"$STRATA_BIN" --root "$r" images >/dev/null
}

# op_cmd OP ROOT: the command line of OP on the store at ROOT.
op_cmd() {
	s="$STRATA_BIN --root $2"
	case $1 in
	images) echo "$s images" ;;
	images-q) echo "$s images -q" ;;
	info) echo "$s info" ;;
	inspect) echo "$s inspect scale/base" ;;
	tag-all) echo "$s tag scale/base \$(cat $2/new-names)" ;;
	rmi-all) echo "$s rmi \$(cat $2/names)" ;;
	gc) echo "$s gc" ;;
	fsck) echo "$s fsck" ;;
	esac
}

ops="images images-q info inspect tag-all rmi-all gc fsck"
set -- store command
for n in $sizes; do set -- "$@" "$n: wall/CPU (s)"; done
bench_header "$@" "growth 1,000 to 10,000"
for kind in names images; do
	for n in $sizes; do make_store "$kind" "$n"; done
	for op in $ops; do
		row=""
		t1k="" t10k=""
		for n in $sizes; do
			r=$BENCH_TMP/$kind-$n
			t=$(bench_time --setup "cp $r/index.saved $r/index.json" -- sh -c "$(op_cmd "$op" "$r")")
			# CPU time too (least of the runs): on a busy machine wall time is mostly waiting.
			c=$(python3 "$BENCH_TOP/tests/integration/cputime.py" "$BENCH_RUNS" \
				--restore "$r/index.saved" "$r/index.json" -- sh -c "$(op_cmd "$op" "$r")")
			row="$row $t/$c"
			[ "$n" = 1000 ] && t1k=$t
			[ "$n" = 10000 ] && t10k=$t
		done
		growth=n/a
		[ -n "$t1k" ] && [ -n "$t10k" ] && growth="$(bench_ratio "$t10k" "$t1k")x"
		# shellcheck disable=SC2086
		bench_row "$kind" "$op" $row "$growth"
	done
	for n in $sizes; do rm -rf "$BENCH_TMP/$kind-$n"; done
done
