# push --compression: the gzip busybox layer pushed as zstd to Debian's
# docker-registry (skopeo sees a zstd layer under the same config, so the
# diffIDs are unchanged), pulled into a fresh store whose export equals the
# original's; that zstd image pushed back as gzip, pulled and exported
# again. The local image and the store do not change: same manifest, same
# blobs, nothing left in tmp/, fsck clean.
. "${0%/*}/../lib.sh"
require_cmd skopeo "reads what strata pushed"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
import_busybox
digest_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])'; }
orig=$(strata inspect busybox | digest_of)
id=$(strata inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
blobs_before=$(ls "$ROOT/blobs/sha256")
strata export busybox | sha256sum >"$TEST_TMP/want.sum"

# Layer media types and config of a pushed manifest: "TYPE..." lines, then the config digest.
remote_manifest() {
	skopeo inspect --raw --tls-verify=false "docker://$1" | python3 -c '
import json, sys
m = json.load(sys.stdin)
print(m["mediaType"])
print(m["config"]["mediaType"], m["config"]["digest"])
for l in m["layers"]: print(l["mediaType"], l["digest"])'
}

err=$(strata push --tls-verify=false --compression zstd busybox "$REG/z/bb:v1" 2>&1 >"$TEST_TMP/dz") ||
	fail "push --compression zstd: $err"
dz=$(cat "$TEST_TMP/dz")
assert_contains "$err" "recompressed to zstd"
[ "$dz" != "$orig" ] || fail "the zstd push kept the gzip manifest $orig"
m=$(remote_manifest "$REG/z/bb:v1")
assert_contains "$m" "application/vnd.oci.image.manifest.v1+json"
assert_contains "$m" "application/vnd.oci.image.config.v1+json sha256:${id#sha256:}"
assert_contains "$m" "application/vnd.oci.image.layer.v1.tar+zstd sha256:"
assert_not_contains "$m" "gzip"
assert_eq "$(skopeo inspect --tls-verify=false "docker://$REG/z/bb:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')" "$dz" "pushed digest"
zlayer=$(printf '%s\n' "$m" | awk '/tar\+zstd/ {print $2}')
assert_eq "$(od -An -tx1 -N4 "$(registry_blob_path "$zlayer")" | tr -d ' ')" "28b52ffd" "zstd magic of the pushed layer"
skopeo copy -q --src-tls-verify=false "docker://$REG/z/bb:v1" "oci:$TEST_TMP/oci:bb" ||
	fail "skopeo copy of the zstd image"

# The local image and store are as they were.
assert_eq "$(strata inspect busybox | digest_of)" "$orig" "local manifest after the push"
assert_eq "$(ls "$ROOT/blobs/sha256")" "$blobs_before" "store blobs after the push"
assert_eq "$(ls -A "$ROOT/tmp")" "" "staging left behind"
assert_fsck_clean

# Pulled into a fresh store: the same rootfs.
ZS=$TEST_TMP/zstore
zs() { "$STRATA_BIN" --root "$ZS" "$@"; }
assert_eq "$(zs pull -q --tls-verify=false "$REG/z/bb:v1")" "${id#sha256:}" "image ID of the zstd pull"
assert_eq "$(zs export "$REG/z/bb:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "export of the zstd image"
ROOT=$ZS assert_fsck_clean

# Pushing zstd as zstd changes nothing: the same manifest.
assert_eq "$(zs push -q --tls-verify=false --compression zstd "$REG/z/bb:v1" "$REG/z/bb:v2")" "$dz" "zstd pushed as zstd"

# Back to gzip, from the zstd store.
dg=$(zs push -q --tls-verify=false --compression gzip "$REG/z/bb:v1" "$REG/g/bb:v1") || fail "push --compression gzip"
m=$(remote_manifest "$REG/g/bb:v1")
assert_contains "$m" "application/vnd.oci.image.layer.v1.tar+gzip sha256:"
assert_contains "$m" "$id"
assert_not_contains "$m" "zstd"
glayer=$(printf '%s\n' "$m" | awk '/tar\+gzip/ {print $2}')
assert_eq "$(od -An -tx1 -N2 "$(registry_blob_path "$glayer")" | tr -d ' ')" "1f8b" "gzip magic of the pushed layer"
GS=$TEST_TMP/gstore
"$STRATA_BIN" --root "$GS" pull -q --tls-verify=false "$REG/g/bb:v1" >/dev/null || fail "pull the gzip image"
assert_eq "$("$STRATA_BIN" --root "$GS" export "$REG/g/bb:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "export of the gzip image"
ROOT=$GS assert_fsck_clean
ROOT=$ZS assert_fsck_clean
assert_eq "$(ls -A "$ZS/tmp")" "" "staging left behind in the zstd store"

# The same push twice gives the same digest (deterministic compression); a bad value.
assert_eq "$(strata push -q --tls-verify=false --compression zstd busybox "$REG/z/bb:v3")" "$dz" "second zstd push"
expect_fail strata push -q --tls-verify=false --compression xz busybox "$REG/z/bb:v4"
assert_one_line_error "$out"
assert_contains "$out" "--compression"
