# One image ID (the config digest), several manifests: the same image
# pushed as zstd and as gzip and pulled back into one store, or loaded from
# a docker archive and from an OCI archive. Every way of naming it (ID
# prefix, full ID, sha256:ID, name@digest, a bare manifest digest) finds it
# and never calls it ambiguous; images --digests shows each manifest; rmi by
# ID removes every name and manifest. An untagged build is kept (a <none>
# row, as podman lists dangling images) and usable by its ID until rmi.
. "${0%/*}/../lib.sh"
require_root "runs containers from image IDs"
require_cmd skopeo "makes the docker and OCI archives"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

field() { python3 -c "import json,sys; print(json.load(sys.stdin)[0][\"$1\"])"; }

import_busybox
id=$(strata inspect busybox | field Id)
short=$(printf '%s' "$id" | cut -c1-12)

# ---- an untagged build: kept, listed as <none>, usable by its ID ----
mkdir -p "$TEST_TMP/ctx"
printf 'FROM busybox\nRUN echo built >/built\n' >"$TEST_TMP/ctx/Containerfile"
bid=$(strata build -q "$TEST_TMP/ctx") || fail "untagged build"
assert_eq "$(strata inspect "$bid" | field Id)" "$bid" "inspect of the untagged build by ID"
assert_contains "$(strata images)" "<none>" "the untagged build is a <none> row"
strata gc >/dev/null
assert_eq "$(strata run --rm "$bid" cat /built)" "built" "run of the untagged build by ID after gc"
assert_eq "$(strata run --rm "$(printf '%s' "$bid" | cut -c1-12)" cat /built)" "built" "run by short ID"
strata tag "$bid" built:v1
assert_not_contains "$(strata images)" "<none>" "a named build is no <none> row any more"
assert_eq "$(strata inspect built:v1 | field Id)" "$bid" "the tag names the build"
# rmi of its last name removes the image (podman's untag of the last name deletes it).
out=$(strata rmi built:v1)
assert_contains "$out" "Deleted: sha256:$bid"
expect_fail strata inspect "$bid"
# An untagged build removed by ID.
bid=$(strata build -q "$TEST_TMP/ctx")
out=$(strata rmi "$bid") || fail "rmi of an untagged build by ID"
assert_contains "$out" "Deleted: sha256:$bid"
assert_not_contains "$(strata images)" "<none>"
expect_fail strata inspect "$bid"
assert_fsck_clean

# ---- one image, two manifests (zstd and gzip) in one store, from the registry ----
start_registry reg
strata push -q --tls-verify=false --compression zstd busybox "$REG/z/bb:v1" >"$TEST_TMP/dz" 2>/dev/null ||
	fail "push zstd"
strata push -q --tls-verify=false --compression gzip busybox "$REG/g/bb:v1" >"$TEST_TMP/dg" 2>/dev/null ||
	fail "push gzip"
dz=$(cat "$TEST_TMP/dz")
dg=$(cat "$TEST_TMP/dg")
[ "$dz" != "$dg" ] || fail "the zstd and gzip manifests are the same"
ST=$TEST_TMP/two
two() { "$STRATA_BIN" --root "$ST" "$@"; }
for r in z g; do
	err=$(two pull -q --tls-verify=false "$REG/$r/bb:v1" 2>&1 >"$TEST_TMP/pulled") ||
		fail "pull $r: $err"
	assert_not_contains "$err" "ambiguous" "pull $r"
	assert_eq "$(cat "$TEST_TMP/pulled")" "$id" "ID printed by pull $r"
done
assert_eq "$(two images -q)" "$short" "one image ID for two manifests"
assert_eq "$(two images -q --no-trunc)" "sha256:$id" "images -q --no-trunc"
dig=$(two images --digests)
assert_contains "$dig" "DIGEST"
assert_contains "$dig" "$REG/z/bb   v1    $dz"
assert_contains "$dig" "$REG/g/bb   v1    $dg"
# Every way of naming the image finds it, never "ambiguous".
for spec in "$short" "$(printf '%s' "$id" | cut -c1-5)" "$id" "sha256:$id" "$REG/z/bb:v1" \
	"$REG/z/bb@$dz" "$REG/g/bb@$dg" "$dz" "${dz#sha256:}" "$dg"; do
	err=$(two inspect "$spec" 2>&1 >"$TEST_TMP/insp") || fail "inspect '$spec': $err"
	assert_eq "$(field Id <"$TEST_TMP/insp")" "$id" "inspect '$spec'"
done
# A digest loads that very manifest.
assert_eq "$(two inspect "$dz" | field Digest)" "$dz" "inspect by the zstd digest"
assert_eq "$(two inspect "$REG/g/bb@$dg" | field Digest)" "$dg" "inspect name@gzip digest"
assert_eq "$(two inspect "$short" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["RepoTags"]))')" 2 \
	"RepoTags of the ID gather both manifests' names"
assert_eq "$(two run --rm "$id" echo ok)" "ok" "run by full ID"
assert_eq "$(two run --rm "sha256:$id" echo ok)" "ok" "run by sha256:ID"
assert_eq "$(two run --rm "$dz" echo ok)" "ok" "run by manifest digest"
# A prefix two images share is ambiguous, and says so.
two tag "$short" third:v1
out=$(two rmi "$REG/z/bb:v1")
assert_eq "$out" "Untagged: $REG/z/bb:v1" "rmi of one name removes only that name"
assert_eq "$(two images -q)" "$short"
# rmi -f by ID while a container uses it: the names go, the container keeps its image.
cid=$(two create "$short" true)
expect_fail two rmi "$id"
assert_contains "$out" "in use by container"
out=$(two rmi -f "$id")
assert_contains "$out" "Untagged: $REG/g/bb:v1"
assert_contains "$out" "Untagged: third:v1"
assert_eq "$(two images -q)" "" "no image listed after rmi -f by ID"
two rm "$cid" >/dev/null
two gc >/dev/null
ROOT=$ST assert_fsck_clean
# rmi by ID takes every name and manifest; gc then frees every blob.
two pull -q --tls-verify=false "$REG/z/bb:v1" >/dev/null
two pull -q --tls-verify=false "$REG/g/bb:v1" >/dev/null
two tag "$REG/z/bb:v1" other:v2
out=$(two rmi "$short") || fail "rmi by ID"
assert_contains "$out" "Untagged: $REG/z/bb:v1"
assert_contains "$out" "Untagged: $REG/g/bb:v1"
assert_contains "$out" "Untagged: other:v2"
assert_contains "$out" "Deleted: sha256:$id"
assert_eq "$(two images -q)" ""
two gc >/dev/null
assert_eq "$(ls "$ST/blobs/sha256" | wc -l)" 0 "blobs left after rmi by ID and gc"
ROOT=$ST assert_fsck_clean

# ---- a docker archive and an OCI archive of one image, loaded into one store ----
strata save --format oci-dir -o "$TEST_TMP/layout" busybox
skopeo copy -q "oci:$TEST_TMP/layout:busybox:latest" "docker-archive:$TEST_TMP/d.tar:arch/d:v1" ||
	fail "skopeo docker-archive"
skopeo copy -q "oci:$TEST_TMP/layout:busybox:latest" "oci-archive:$TEST_TMP/o.tar:arch/o:v1" ||
	fail "skopeo oci-archive"
LS=$TEST_TMP/loaded
ld() { "$STRATA_BIN" --root "$LS" "$@"; }
ld load -q -i "$TEST_TMP/d.tar"
ld load -q -i "$TEST_TMP/o.tar"
assert_eq "$(ld images -q)" "$short" "one image ID from two archives"
[ "$(ld images --digests | grep -c sha256:)" = 2 ] || fail "two manifests after two loads: $(ld images --digests)"
for spec in "$short" "$id" "sha256:$id" docker.io/arch/d:v1 arch/o:v1; do
	assert_eq "$(ld inspect "$spec" | field Id)" "$id" "inspect '$spec' after two loads"
done
assert_eq "$(ld run --rm "$short" echo ok)" "ok" "run by ID after two loads"
out=$(ld rmi "$id")
assert_contains "$out" "Deleted: sha256:$id"
assert_eq "$(ld images -q)" ""
ROOT=$LS assert_fsck_clean
