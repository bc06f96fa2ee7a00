# Container filesystems on overlayfs: create, mount (counted), writes and
# whiteouts in upper, opaque dirs, diff, commit of links, modes, owners,
# setuid, xattrs and replaced entries, image mounts, rm, fsck.
. "${0%/*}/../lib.sh"
require_root "mounts overlayfs"
require_cmd umoci "unpacks the committed image as a peer"
. "${0%/*}/union.inc"

union_scenario overlay

# overlay is the default here, and info says so.
assert_contains "$(strata info)" "default: overlay"
strata info --format json | python3 -c '
import json, sys
b = json.load(sys.stdin)["backends"]
assert b["default"] == "overlay" and b["available"]["overlay"] == "ok", b
assert b["overlayMountAPI"] == "fsopen", b' || fail "info backends"
STRATA_BACKEND=vfs "$STRATA_BIN" --root "$ROOT" info | grep -q "selected: vfs" ||
	fail "STRATA_BACKEND is not the selected backend"

# Commit makes the new layer's dir from the upper dir: mounting the new image
# unpacks nothing, and the dir holds no overlayfs-private xattrs.
id=$(strata create base)
m=$(strata mount "$id")
echo one >"$m/one"
strata umount "$id"
strata commit "$id" quick:1 >/dev/null
chain=$(strata inspect quick:1 | python3 -c '
import json, sys, hashlib
ids = json.load(sys.stdin)[0]["RootFS"]["DiffIDs"]
c = ids[0]
for d in ids[1:]:
    c = "sha256:" + hashlib.sha256((c + " " + d).encode()).hexdigest()
print(c[7:])')
assert_exists "$ROOT/layers/overlay/$chain/diff/one"
assert_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ChainID"])' \
	"$ROOT/layers/overlay/$chain/layer.json")" "sha256:$chain" "layer record"
strata rm "$id" >/dev/null

# Commit with --compression zstd and every kind of -c change.
id=$(strata create base)
m=$(strata mount "$id")
echo z >"$m/zfile"
strata umount "$id"
strata commit --compression zstd -a "a tester" \
	-c 'ENTRYPOINT ["/bin/sh", "-c"]' -c 'WORKDIR /srv' -c 'USER 1000:1000' \
	-c 'LABEL k=v' -c 'EXPOSE 8080/tcp' -c 'VOLUME /data' -c 'ENV Z=1' -c 'CMD ["echo hi"]' \
	"$id" changed:1 >/dev/null
strata inspect changed:1 | python3 -c '
import json, sys
i = json.load(sys.stdin)[0]
c = i["Config"]
assert c["Entrypoint"] == ["/bin/sh", "-c"], c
assert c["WorkingDir"] == "/srv" and c["User"] == "1000:1000", c
assert c["Labels"] == {"k": "v"} and "8080/tcp" in c["ExposedPorts"] and "/data" in c["Volumes"], c
assert "Z=1" in c["Env"] and c["Cmd"] == ["echo hi"], c' || fail "commit -c changes"
digest=$(strata inspect changed:1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])')
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
assert m["layers"][-1]["mediaType"].endswith("+zstd"), m["layers"][-1]' \
	"$ROOT/blobs/sha256/${digest#sha256:}" || fail "commit --compression zstd"
assert_contains "$(strata run --rm --entrypoint cat changed:1 /zfile)" "z"
strata rm "$id" >/dev/null
assert_fsck_clean
