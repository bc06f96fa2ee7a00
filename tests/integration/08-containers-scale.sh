# Removing many containers costs O(1) per container: `rm` of 1,000
# containers by name in one call takes under 3x the CPU time of 500 (a name
# is one link in ROOT/container-names, not a read of every record). The
# records are made as in a store from before the name index, which the
# first lookup builds. Names stay unique; a stale link (its container gone)
# is no name.
. "${0%/*}/../lib.sh"
require_cmd python3 "fills the store"

mkdir -p "$TEST_TMP/base/bin"
echo hi >"$TEST_TMP/base/bin/hello"
tar -C "$TEST_TMP/base" -cf "$TEST_TMP/base.tar" .
strata import "$TEST_TMP/base.tar" base >/dev/null
strata create --name proto base /bin/hello >/dev/null
rm -rf "$ROOT/container-names"
cp -a "$ROOT" "$TEST_TMP/proto-root"

# The store with the proto container and N copies c0..cN-1, without the name index.
fill_cmd() {
	echo "rm -rf '$ROOT' && cp -a '$TEST_TMP/proto-root' '$ROOT' && python3 '$TOP/tests/integration/mkstore.py' '$ROOT' containers $1"
}
rm_cmd() {
	echo "'$STRATA_BIN' --root '$ROOT' rm \$(seq 0 $(($1 - 1)) | sed 's/^/c/')"
}
cpu() { python3 "$TOP/tests/integration/cputime.py" "$@"; }

t1=$(cpu 3 --setup "$(fill_cmd 500)" -- sh -c "$(rm_cmd 500)") || fail "rm of 500"
t2=$(cpu 3 --setup "$(fill_cmd 1000)" -- sh -c "$(rm_cmd 1000)") || fail "rm of 1,000"
echo "rm of 500 containers: $t1 s CPU, of 1,000: $t2 s"
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b <= 3 * (a > 0.02 ? a : 0.02)) }' ||
	fail "rm grows faster than linearly: $t1 s for 500, $t2 s for 1,000"
assert_eq "$(strata ps -aq | wc -l)" 1 "containers left after rm of 1,000"

# rm of one container, one command after another, costs the same in a store
# of 1,000 containers as in a store of one: nothing is read per record.
victim() {
	echo "${1:-} '$STRATA_BIN' --root '$ROOT' create --name victim base /bin/hello >/dev/null"
}
t1=$(cpu 3 --setup "$(victim "rm -rf '$ROOT' && cp -a '$TEST_TMP/proto-root' '$ROOT' &&")" -- \
	"$STRATA_BIN" --root "$ROOT" rm victim) || fail "rm in a store of one container"
sh -c "$(fill_cmd 1000)"
"$STRATA_BIN" --root "$ROOT" ps -a >/dev/null # the name index, built once
t2=$(cpu 3 --setup "$(victim "")" -- "$STRATA_BIN" --root "$ROOT" rm victim) ||
	fail "rm in a store of 1,000 containers"
echo "rm of one container among 1: $t1 s CPU, among 1,000: $t2 s"
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b <= 1.5 * (a > 0.02 ? a : 0.02)) }' ||
	fail "rm of one container costs more in a bigger store: $t1 s among 1, $t2 s among 1,000"

# The index keeps names unique, and a link to a removed container is no name.
sh -c "$(fill_cmd 10)"
expect_fail strata create --name c3 base /bin/hello
assert_contains "$out" "already in use"
id=$(readlink "$ROOT/container-names/c3")
assert_exists "$ROOT/containers/$id/container.json"
strata rm c3 >/dev/null
assert_not_exists "$ROOT/container-names/c3"
ln -s "$id" "$ROOT/container-names/gone"
expect_fail strata rm gone
assert_contains "$out" "no such container"
new=$(strata create --name gone base /bin/hello) || fail "create over a stale name link"
assert_eq "$(readlink "$ROOT/container-names/gone")" "$new" "the stale link replaced"
strata rm gone >/dev/null
assert_fsck_clean
