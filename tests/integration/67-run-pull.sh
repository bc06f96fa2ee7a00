#!/bin/sh
# run and create --pull=always|missing|never|newer against the loopback
# registry: by default (missing) an image not in the store is pulled first.
. "${0%/*}/../lib.sh"
require_root "runs containers"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'

start_registry reg
tar=$(busybox_tar)
strata import -c 'LABEL v=1' "$tar" "$REG/app:1" >/dev/null
strata push -q --tls-verify=false "$REG/app:1" >/dev/null
v1=$(strata images -q "$REG/app:1")
strata rmi -a >/dev/null

# never: refused clearly, nothing made
expect_fail strata run --rm --pull=never "$REG/app:1" true
assert_one_line_error "$out"
assert_contains "$out" "--pull=never"
assert_eq "$(strata ps -aq)" "" "no container after --pull=never"
expect_fail strata run --pull=sometimes "$REG/app:1" true
assert_one_line_error "$out"

# missing (the default): run pulls what the store lacks
out=$(strata run --rm --tls-verify=false "$REG/app:1" echo ran 2>"$TEST_TMP/err") ||
	fail "run of an image not in the store: $(cat "$TEST_TMP/err")"
assert_eq "$out" "ran" "run after the pull"
assert_eq "$(strata images -q "$REG/app:1")" "$v1" "run pulled the image"
[ -s "$TEST_TMP/err" ] || fail "the pull showed no progress on stderr"
strata rmi -a >/dev/null
cid=$(strata create -q --tls-verify=false "$REG/app:1" true) || fail "create pulls too"
assert_eq "$(strata images -q "$REG/app:1")" "$v1" "create pulled the image"
strata rm "$cid" >/dev/null

# a new image under the same name in the registry
strata tag "$REG/app:1" keep:1
strata import -c 'LABEL v=2' "$tar" "$REG/app:1" >/dev/null
strata push -q --tls-verify=false "$REG/app:1" >/dev/null
v2=$(strata images -q "$REG/app:1")
strata tag keep:1 "$REG/app:1"
assert_eq "$(strata images -q "$REG/app:1")" "$v1" "the store has the old one"
# missing: the store's image is used as it is
strata run --rm --tls-verify=false "$REG/app:1" true
assert_eq "$(strata images -q "$REG/app:1")" "$v1" "missing does not pull"
# always: pulled again, the new one runs
strata run --rm -q --pull=always --tls-verify=false "$REG/app:1" true
assert_eq "$(strata images -q "$REG/app:1")" "$v2" "always pulls"
strata tag keep:1 "$REG/app:1"
# newer: pulled when the registry's differs; its absence is no failure
strata run --rm -q --pull=newer --tls-verify=false "$REG/app:1" true
assert_eq "$(strata images -q "$REG/app:1")" "$v2" "newer pulls a different image"
kill "$REG_PID"; wait "$REG_PID" 2>/dev/null || true
assert_eq "$(strata run --rm --pull=newer --tls-verify=false "$REG/app:1" echo offline)" "offline" \
	"newer with the registry gone runs the store's image"
expect_fail strata run --rm --pull=always --tls-verify=false "$REG/app:1" true
assert_one_line_error "$out"
expect_fail strata run --rm --tls-verify=false "$REG/other:1" true
assert_one_line_error "$out"
assert_eq "$(strata ps -aq)" "" "no container left by a failed pull"
assert_fsck_clean
echo PASS
