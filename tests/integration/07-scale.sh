# Costs grow linearly with the number of names and images: each listing,
# lookup, tag, rmi, gc and fsck of a store of 2,000 names of one image (and
# of 2,000 distinct images) takes under 3x its CPU time at 1,000 (linear is
# 2x; the quadratic and cubic scans this replaced took 4x and 8x). CPU time,
# least of 3 runs, so that a loaded machine does not decide.
. "${0%/*}/../lib.sh"
require_cmd python3 "fills the stores"

mkstore() { python3 "$TOP/tests/integration/mkstore.py" "$@"; }
cpu() { python3 "$TOP/tests/integration/cputime.py" "$@"; }
mkdir -p "$TEST_TMP/base/bin"
echo hi >"$TEST_TMP/base/bin/hello"
tar -C "$TEST_TMP/base" -cf "$TEST_TMP/base.tar" .

# growth KIND OP CMD...: CPU time at 1,000 and 2,000, and their ratio.
growth() {
	kind=$1 op=$2
	shift 2
	t1=$(R=$TEST_TMP/$kind-1000 N=1000 eval cpu 3 --restore "\$R/index.saved" "\$R/index.json" -- "$@") ||
		fail "$kind $op at 1,000"
	t2=$(R=$TEST_TMP/$kind-2000 N=2000 eval cpu 3 --restore "\$R/index.saved" "\$R/index.json" -- "$@") ||
		fail "$kind $op at 2,000"
	echo "$kind $op: 1,000 $t1 s, 2,000 $t2 s"
	# A floor of 20 ms: below it a process's start-up is most of the time.
	awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b <= 3 * (a > 0.02 ? a : 0.02)) }' ||
		fail "$kind $op grows faster than linearly: $t1 s at 1,000, $t2 s at 2,000"
}

for kind in names images; do
	for n in 1000 2000; do
		R=$TEST_TMP/$kind-$n
		"$STRATA_BIN" --root "$R" import "$TEST_TMP/base.tar" scale/base >/dev/null
		mkstore "$R" "$kind" "$n"
		seq 0 $((n - 1)) | sed 's|^|new/name:t|' >"$R/new-names"
		if [ "$kind" = names ]; then
			seq 0 $((n - 1)) | sed 's|^|scale/one:t|' >"$R/names"
		else
			seq 0 $((n - 1)) | sed 's|^\(.*\)$|scale/img\1:latest|' >"$R/names"
		fi
		cp "$R/index.json" "$R/index.saved"
		"$STRATA_BIN" --root "$R" images >/dev/null
	done
	growth $kind images '"$STRATA_BIN"' --root '"$R"' images
	growth $kind images-q '"$STRATA_BIN"' --root '"$R"' images -q
	growth $kind info '"$STRATA_BIN"' --root '"$R"' info
	growth $kind inspect '"$STRATA_BIN"' --root '"$R"' inspect scale/base
	growth $kind tag-all '"$STRATA_BIN"' --root '"$R"' tag scale/base '$(cat "$R/new-names")'
	growth $kind rmi-all '"$STRATA_BIN"' --root '"$R"' rmi '$(cat "$R/names")'
	growth $kind gc '"$STRATA_BIN"' --root '"$R"' gc
	growth $kind fsck '"$STRATA_BIN"' --root '"$R"' fsck
done
# An import into a store of 2,000 names costs about what one into a store
# of one name does: adding a name rewrites index.json as text (its bytes
# copied, one entry added), not as a JSON tree parsed and dumped again,
# which took 1.8x the CPU of the whole import at 2,000 names (and 4.5x at
# 10,000): 1,000 imports in a row slowed from the first to the last.
R=$TEST_TMP/one-name
"$STRATA_BIN" --root "$R" import "$TEST_TMP/base.tar" scale/base >/dev/null
cp "$R/index.json" "$R/index.saved"
t1=$(cpu 5 --restore "$R/index.saved" "$R/index.json" -- "$STRATA_BIN" --root "$R" import "$TEST_TMP/base.tar" new/one:1) ||
	fail "import into a store of one name"
R=$TEST_TMP/names-2000
t2=$(cpu 5 --restore "$R/index.saved" "$R/index.json" -- "$STRATA_BIN" --root "$R" import "$TEST_TMP/base.tar" new/one:1) ||
	fail "import into a store of 2,000 names"
echo "import into a store of 1 name: $t1 s, of 2,000 names: $t2 s"
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b <= 1.45 * a) }' ||
	fail "an import costs more as the store grows: $t1 s at 1 name, $t2 s at 2,000"
cp "$R/index.saved" "$R/index.json"

# rmi of whole images reads no blob: index.json and the image summary say
# each one's ID, names and manifests (it read every manifest twice, 20,000
# blob reads and hashes for 10,000 images).
if command -v strace >/dev/null; then
	R=$TEST_TMP/images-2000
	strace -f -e trace=openat -o "$TEST_TMP/rmi.trace" "$STRATA_BIN" --root "$R" rmi $(cat "$R/names") >/dev/null ||
		fail "rmi of 2,000 images under strace"
	opened=$(grep -cE 'openat\([0-9]+, "[0-9a-f]{64}"' "$TEST_TMP/rmi.trace" || true)
	echo "rmi of 2,000 images opened $opened blobs"
	[ "$opened" -le 10 ] || fail "rmi of 2,000 images opened $opened blobs"
	assert_eq "$("$STRATA_BIN" --root "$R" images -q | wc -l)" 1 "images left after rmi of 2,000"
	cp "$R/index.saved" "$R/index.json"
fi

# The commands changed nothing they should not have.
R=$TEST_TMP/images-2000
"$STRATA_BIN" --root "$R" fsck >/dev/null || fail "fsck after the scale runs"
assert_eq "$("$STRATA_BIN" --root "$R" images -q | wc -l)" 2001 "images of the 2,000-image store"
