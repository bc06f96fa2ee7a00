# strata push to Debian's docker-registry: skopeo inspects and copies what
# strata pushed (same manifest digest, same blob bytes), a second push
# uploads nothing, push by digest, --digestfile, and a round trip through
# strata pull into another store.
. "${0%/*}/../lib.sh"
require_cmd skopeo "reads what strata pushed"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
import_busybox
strata tag busybox "$REG/busybox:v1"

# DEST defaults to the image's own name.
dg=$(strata push -q --tls-verify=false "$REG/busybox:v1")
case $dg in sha256:*) ;; *) fail "push printed '$dg', want the manifest digest" ;; esac
want=$(strata inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])')
assert_eq "$dg" "$want" "pushed manifest digest"

skopeo inspect --tls-verify=false "docker://$REG/busybox:v1" >"$TEST_TMP/inspect.json" ||
	fail "skopeo inspect of the pushed image"
python3 - "$TEST_TMP/inspect.json" "$dg" <<'PY' || fail "skopeo inspect output"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["Digest"] == sys.argv[2], d["Digest"]
assert d["Architecture"] and d["Os"] == "linux", d
assert len(d["Layers"]) == 1, d["Layers"]
PY
skopeo copy -q --src-tls-verify=false "docker://$REG/busybox:v1" "oci:$TEST_TMP/oci:bb" ||
	fail "skopeo copy of the pushed image"
got=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$TEST_TMP/oci/index.json")
assert_eq "$got" "$dg" "manifest digest after skopeo copy"
for b in "$TEST_TMP"/oci/blobs/sha256/*; do
	cmp -s "$b" "$ROOT/blobs/sha256/${b##*/}" || fail "blob ${b##*/} differs from the store's"
done

# A second push to another name uploads nothing new; --digestfile.
err=$(strata push --tls-verify=false --digestfile "$TEST_TMP/digest" busybox "docker://$REG/busybox:v2" 2>&1 >/dev/null)
assert_contains "$err" "already in the registry"
assert_eq "$(cat "$TEST_TMP/digest")" "$dg" "--digestfile"
assert_eq "$(skopeo inspect --tls-verify=false "docker://$REG/busybox:v2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')" "$dg"

# Another repository, then push by digest.
strata push -q --tls-verify=false busybox "$REG/team/tools:latest" >/dev/null
strata push -q --tls-verify=false busybox "$REG/team/tools@$dg" >/dev/null || fail "push by digest"
expect_fail strata push -q --tls-verify=false busybox "$REG/team/tools@sha256:$(printf '%064d' 0)"
assert_one_line_error "$out"

# Round trip: pull into another store, same image ID and diffID.
OTHER=$TEST_TMP/other
id=$("$STRATA_BIN" --root "$OTHER" pull -q --tls-verify=false "$REG/team/tools:latest")
assert_eq "$id" "$(strata inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')" "round-trip image ID"
ROOT=$OTHER assert_fsck_clean

# Errors: an unknown image, a registry that is not there.
expect_fail strata push -q --tls-verify=false nothere "$REG/x:y"
assert_one_line_error "$out"
expect_fail strata push -q --tls-verify=false busybox "127.0.0.1:$(free_port)/x:y"
assert_one_line_error "$out"
assert_fsck_clean
