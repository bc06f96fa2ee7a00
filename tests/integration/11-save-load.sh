# save and load: OCI layout directories, OCI archives and docker archives,
# read and written by the peers (skopeo, umoci); every digest is verified.
. "${0%/*}/../lib.sh"
require_cmd skopeo "reads and writes the archives"
require_cmd umoci "unpacks the saved layout"

OTHER=$TEST_TMP/other
other() {
	"$STRATA_BIN" --root "$OTHER" "$@"
}

import_busybox
strata export busybox -o "$TEST_TMP/src.tar"

# Exports IMAGE from the store of the second root and compares with the source.
same_as_source() {
	other export "$1" -o "$TEST_TMP/got.tar"
	cmp "$TEST_TMP/got.tar" "$TEST_TMP/src.tar" || fail "$2: export differs from the source's"
}

# oci-dir: a layout the peers read.
strata save --format oci-dir -o "$TEST_TMP/layout" busybox
assert_exists "$TEST_TMP/layout/oci-layout"
skopeo inspect "oci:$TEST_TMP/layout:busybox:latest" >/dev/null || fail "skopeo inspect of the saved layout"
umoci unpack --image "$TEST_TMP/layout:busybox:latest" "$TEST_TMP/bundle" >/dev/null ||
	fail "umoci unpack of the saved layout"
assert_eq "$(readlink "$TEST_TMP/bundle/rootfs/bin/sh")" "/bin/busybox"
expect_fail strata save --format oci-dir -o "$TEST_TMP/layout" busybox
assert_one_line_error "$out"
out=$(other load -i "$TEST_TMP/layout")
assert_eq "$out" "Loaded image: busybox:latest"
same_as_source busybox "oci-dir round trip"
assert_eq "$(other inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')" \
	"$(strata inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')" "image ID after load"
rm -rf "$OTHER"

# A docker archive written by skopeo loads, and the rootfs is the source's.
skopeo copy -q "oci:$ROOT:busybox:latest" "docker-archive:$TEST_TMP/d.tar:busybox:latest" >/dev/null ||
	fail "skopeo copy to docker-archive"
out=$(other load -i "$TEST_TMP/d.tar")
assert_contains "$out" "busybox:latest"
same_as_source "${out#Loaded image: }" "skopeo docker-archive"
o=$(other fsck 2>&1) || fail "fsck after docker-archive load: $o"
rm -rf "$OTHER"

# Our docker archive is read by skopeo, and loads back.
strata tag busybox mine:v2
strata save -o "$TEST_TMP/ours.tar" busybox mine:v2
tar -xOf "$TEST_TMP/ours.tar" manifest.json | python3 -c '
import json, sys
m = json.load(sys.stdin)
assert m[0]["RepoTags"] == ["busybox:latest"] and m[1]["RepoTags"] == ["mine:v2"], m
assert m[0]["Config"].endswith(".json") and len(m[0]["Layers"]) == 1, m' || fail "manifest.json"
tar -tf "$TEST_TMP/ours.tar" | grep -qx repositories || fail "repositories missing"
skopeo inspect "docker-archive:$TEST_TMP/ours.tar:mine:v2" >/dev/null || fail "skopeo reads our docker archive"
out=$(other load -i "$TEST_TMP/ours.tar")
assert_contains "$out" "Loaded image: busybox:latest"
assert_contains "$out" "Loaded image: mine:v2"
same_as_source mine:v2 "docker-archive round trip"
rm -rf "$OTHER"

# oci-archive round trip, and skopeo reads it.
strata save --format oci-archive -o "$TEST_TMP/oci.tar" busybox
skopeo inspect "oci-archive:$TEST_TMP/oci.tar:busybox:latest" >/dev/null || fail "skopeo reads our oci archive"
other load -i "$TEST_TMP/oci.tar" >/dev/null
same_as_source busybox "oci-archive round trip"

# A zstd layer is a zstd frame per chunk (layers/pzstd.c): the decoder of
# Go's image tools (skopeo's, which containerd's is too) reads it whole.
# skopeo recompresses it to gzip, the tar inside is the layer's diffID,
# and that copy loads back with the same rootfs.
mkdir -p "$TEST_TMP/ztree/etc"
seq 1 600000 >"$TEST_TMP/ztree/numbers"
cp "$TEST_TMP/src.tar" "$TEST_TMP/ztree/busybox.tar"
echo zstd >"$TEST_TMP/ztree/etc/name"
strata import --compression zstd "$TEST_TMP/ztree" zs:v1 >/dev/null
strata save --format oci-dir -o "$TEST_TMP/zl" zs:v1
strata export zs:v1 -o "$TEST_TMP/zsrc.tar"
python3 - "$TEST_TMP/zl" <<'PY' || fail "the saved zstd layer"
import json, sys
d = sys.argv[1] + "/blobs/sha256/"
m = json.load(open(d + json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]["digest"][7:]))
layer = open(d + m["layers"][0]["digest"][7:], "rb").read()
assert m["layers"][0]["mediaType"].endswith("+zstd"), m
assert layer.count(bytes.fromhex("28b52ffd")) >= 3, "expected several zstd frames"
PY
skopeo copy -q --dest-compress --dest-compress-format gzip "oci:$TEST_TMP/zl:zs:v1" \
	"oci:$TEST_TMP/zg:zs:v1" || fail "skopeo recompresses the zstd layer"
python3 - "$TEST_TMP/zg" <<'PY' || fail "skopeo's gzip copy of the zstd layer"
import gzip, hashlib, json, sys
d = sys.argv[1] + "/blobs/sha256/"
m = json.load(open(d + json.load(open(sys.argv[1] + "/index.json"))["manifests"][0]["digest"][7:]))
c = json.load(open(d + m["config"]["digest"][7:]))
assert m["layers"][0]["mediaType"].endswith("+gzip"), m
tar = gzip.open(d + m["layers"][0]["digest"][7:]).read()
assert "sha256:" + hashlib.sha256(tar).hexdigest() == c["rootfs"]["diff_ids"][0], "diffID"
PY
other load -i "$TEST_TMP/zg" >/dev/null
other export zs:v1 -o "$TEST_TMP/zgot.tar"
cmp "$TEST_TMP/zgot.tar" "$TEST_TMP/zsrc.tar" || fail "skopeo's gzip copy exports differently"
rm -rf "$OTHER"

# Bad archives are refused in one line and leave the store consistent.
before=$(other images -q)
head -c 600000 "$TEST_TMP/oci.tar" >"$TEST_TMP/trunc.tar"
head -c 1500000 "$TEST_TMP/ours.tar" >"$TEST_TMP/trunc-d.tar"
# A lying archive: one byte of the layer blob changed, its name unchanged.
python3 - "$TEST_TMP/oci.tar" "$TEST_TMP/lie.tar" <<'PY'
import io, sys, tarfile
src = tarfile.open(sys.argv[1])
with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as out:
    for m in src.getmembers():
        data = src.extractfile(m).read() if m.isfile() else None
        if data is not None and m.size > 100000:
            data = data[:5000] + bytes([data[5000] ^ 1]) + data[5001:]
        out.addfile(m, io.BytesIO(data) if data is not None else None)
PY
# A docker archive whose layer is not the one its config names.
python3 - "$TEST_TMP/ours.tar" "$TEST_TMP/lie-d.tar" <<'PY'
import io, sys, tarfile
src = tarfile.open(sys.argv[1])
with tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as out:
    for m in src.getmembers():
        data = src.extractfile(m).read() if m.isfile() else None
        if m.name.endswith(".tar"):
            b = io.BytesIO()
            with tarfile.open(fileobj=b, mode="w") as t:
                ti = tarfile.TarInfo("evil")
                t.addfile(ti, io.BytesIO(b""))
            data = b.getvalue()
            m.size = len(data)
        out.addfile(m, io.BytesIO(data) if data is not None else None)
PY
echo "not an archive" >"$TEST_TMP/junk"
mkdir "$TEST_TMP/emptydir"
for bad in trunc.tar trunc-d.tar lie.tar lie-d.tar junk emptydir nosuch; do
	expect_fail other load -i "$TEST_TMP/$bad"
	[ -z "${VERBOSE:-}" ] || echo "$out"
	assert_one_line_error "$out"
	o=$(other fsck 2>&1) || fail "fsck after refusing $bad: $o"
	assert_eq "$(other images -q)" "$before" "images after refusing $bad"
	assert_eq "$(ls "$OTHER/tmp" | wc -l)" 0 "staging left after refusing $bad"
done
expect_fail other load -i "$TEST_TMP/lie.tar"
assert_contains "$out" "digest"
expect_fail other load -i "$TEST_TMP/lie-d.tar"
assert_contains "$out" "diffID"
expect_fail strata save --format nope -o "$TEST_TMP/x" busybox
assert_one_line_error "$out"
expect_fail strata save -o "$TEST_TMP/x.tar" nosuch
assert_one_line_error "$out"
assert_not_exists "$TEST_TMP/x.tar"
assert_fsck_clean
