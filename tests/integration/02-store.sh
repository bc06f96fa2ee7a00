# Import busybox, list, inspect, read the store with skopeo and umoci, rmi, gc, fsck.
. "${0%/*}/../lib.sh"
require_cmd skopeo "reads the store as an OCI layout"
require_cmd umoci "unpacks from the store as an OCI layout"

tar=$(busybox_tar)
id=$(strata import "$tar" busybox)
[ ${#id} = 64 ] || fail "import printed '$id', want a 64-hex image ID"

out=$(strata images)
assert_contains "$out" "busybox"
assert_contains "$out" "latest"
assert_contains "$out" "$(echo "$id" | cut -c1-12)"
assert_eq "$(strata images -q)" "$(echo "$id" | cut -c1-12)"

# The diffID is the SHA-256 of the tar as given.
want=$(sha256sum "$tar" | cut -d' ' -f1)
strata inspect busybox >"$TEST_TMP/inspect.json"
python3 - "$TEST_TMP/inspect.json" "$want" "$id" <<'PY' || fail "inspect JSON"
import json, sys
d = json.load(open(sys.argv[1]))[0]
assert d["Id"] == sys.argv[3], d["Id"]
assert d["RootFS"]["DiffIDs"] == ["sha256:" + sys.argv[2]], d["RootFS"]
assert d["RepoTags"] == ["busybox:latest"]
for k in ("Digest", "Created", "Architecture", "Os", "Config", "History", "Size"):
    assert k in d, k
PY

# The store root is an OCI layout the peers read as it is.
skopeo inspect "oci:$ROOT:busybox:latest" >"$TEST_TMP/skopeo.json" || fail "skopeo inspect"
assert_contains "$(cat "$TEST_TMP/skopeo.json")" '"Architecture"'
skopeo inspect --config "oci:$ROOT:busybox:latest" >"$TEST_TMP/skopeo-config.json" ||
	fail "skopeo inspect --config"
assert_contains "$(cat "$TEST_TMP/skopeo-config.json")" "sha256:$want"
umoci unpack --image "$ROOT:busybox:latest" "$TEST_TMP/bundle" >/dev/null || fail "umoci unpack"
assert_exists "$TEST_TMP/bundle/rootfs/bin/busybox"
assert_eq "$(readlink "$TEST_TMP/bundle/rootfs/bin/sh")" "/bin/busybox"

# Compression is detected by magic bytes, not by name; stdin works too.
gzip -c "$tar" >"$TEST_TMP/layer.dat"
zstd -q -c "$tar" >"$TEST_TMP/other.dat"
strata import --compression zstd "$TEST_TMP/layer.dat" bb:gz >/dev/null
strata import --compression none "$TEST_TMP/other.dat" bb:zst >/dev/null
strata import - bb:stdin <"$tar" >/dev/null
for t in bb:gz bb:zst bb:stdin; do
	d=$(strata inspect "$t" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RootFS"]["DiffIDs"][0])')
	assert_eq "$d" "sha256:$want" "diffID of $t"
done
mt=$(skopeo inspect --raw "oci:$ROOT:bb:gz" | python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["mediaType"])')
assert_eq "$mt" "application/vnd.oci.image.layer.v1.tar+zstd"

# --change and --message land in the config.
strata import --change 'CMD ["sh"]' --change 'ENV A=b' --message hello "$tar" bb:changed >/dev/null
strata inspect bb:changed | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
assert d["Config"]["Cmd"] == ["sh"], d["Config"]
assert d["Config"]["Env"] == ["A=b"], d["Config"]
assert d["History"][0]["comment"] == "hello"' || fail "import --change"

# tag, history, rmi by tag, gc.
strata tag busybox mine:v1
assert_contains "$(strata images)" "mine"
assert_contains "$(strata history busybox)" "strata import"
strata rmi mine:v1 >/dev/null
assert_not_contains "$(strata images)" "mine"
for t in busybox bb:gz bb:zst bb:stdin bb:changed; do strata rmi "$t" >/dev/null; done
assert_eq "$(strata images -q)" ""
out=$(strata gc)
assert_contains "$out" "blob sha256:"
assert_eq "$(ls "$ROOT/blobs/sha256" | wc -l)" 0 "blobs left after gc"
assert_fsck_clean
