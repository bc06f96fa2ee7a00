# strata pull from Debian's docker-registry: an image put there by skopeo
# from strata's own store, pulled into another store, listed, run, fsck;
# a corrupted and a truncated blob in the registry's storage, and a lying
# registry (bad JSON, HTTP 500, wrong digests) fail with one line and leave
# the store consistent.
. "${0%/*}/../lib.sh"
require_cmd skopeo "puts the image into the registry"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
import_busybox
skopeo copy -q --dest-tls-verify=false "oci:$ROOT:busybox:latest" "docker://$REG/busybox:latest" ||
	fail "skopeo copy into the registry"

OTHER=$TEST_TMP/other
so() { "$STRATA_BIN" --root "$OTHER" "$@"; }

# Without --tls-verify=false an http registry is refused, with a hint.
expect_fail so pull -q "$REG/busybox:latest"
assert_one_line_error "$out"
assert_contains "$out" "tls-verify=false"

id=$(so pull -q --tls-verify=false "$REG/busybox:latest")
assert_eq "$id" "$(strata images -q --no-trunc | sed 's/^sha256://')" "pulled image ID"
out=$(so images)
assert_contains "$out" "$REG/busybox"
assert_contains "$out" "latest"
assert_eq "$(so inspect "$REG/busybox" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RootFS"]["DiffIDs"][0])')" \
	"$(strata inspect busybox | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["RootFS"]["DiffIDs"][0])')" "diffID"
assert_fsck_clean
ROOT=$OTHER assert_fsck_clean
# Layers are unpacked as they arrive (not after the download), into the
# layer dirs of the default backend: the image is ready to mount.
STREAMED=$TEST_TMP/streamed
dbg=$(STRATA_DEBUG=1 "$STRATA_BIN" --root "$STREAMED" pull -q --tls-verify=false "$REG/busybox:latest" 2>&1 >/dev/null) ||
	fail "pull with STRATA_DEBUG"
assert_contains "$dbg" "unpacked as it arrived"
assert_not_contains "$dbg" "unpacked after the download"
backend=$(ls "$STREAMED/layers")
assert_eq "$(ls "$STREAMED/layers/$backend" | wc -l)" 1 "layer dirs after pull"
ROOT=$STREAMED assert_fsck_clean
assert_eq "$(ls "$STREAMED/tmp")" "" "staging left behind by a streamed pull"
# Pulling again finds every blob present; progress goes to stderr.
err=$(so pull --tls-verify=false "$REG/busybox:latest" 2>&1 >/dev/null)
assert_contains "$err" "already present"
if [ "$(id -u)" = 0 ]; then
	so run --rm "$REG/busybox:latest" true || fail "run the pulled image"
	assert_eq "$(so run --rm "$REG/busybox" echo pulled)" "pulled"
fi

# By digest.
dg=$(skopeo inspect --tls-verify=false "docker://$REG/busybox:latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')
so pull -q --tls-verify=false "$REG/busybox@$dg" >/dev/null || fail "pull by digest"
assert_contains "$(so images --format json)" "$dg"

# A blob corrupted in the registry's storage: a digest error naming it, nothing tagged.
layer=$(skopeo inspect --tls-verify=false "docker://$REG/busybox:latest" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Layers"][0])')
blob=$(registry_blob_path "$layer")
assert_exists "$blob"
cp "$blob" "$TEST_TMP/blob.orig"
printf 'ZZZZ' | dd of="$blob" bs=1 seek=1000 conv=notrunc 2>/dev/null
FRESH=$TEST_TMP/fresh
expect_fail "$STRATA_BIN" --root "$FRESH" pull -q --tls-verify=false "$REG/busybox:latest"
assert_one_line_error "$out"
assert_contains "$out" "$layer"
assert_contains "$out" "digest mismatch"
assert_eq "$("$STRATA_BIN" --root "$FRESH" images -q)" "" "nothing tagged after a bad blob"
ROOT=$FRESH assert_fsck_clean
assert_eq "$(ls "$FRESH/tmp")" "" "staging left behind"
# The layer was being unpacked as it arrived: that dir is dropped with the blob.
assert_eq "$(ls "$FRESH/layers/"* 2>/dev/null)" "" "a layer dir of a corrupt blob"
# Truncated.
head -c 1000 "$TEST_TMP/blob.orig" >"$blob"
expect_fail "$STRATA_BIN" --root "$FRESH" pull -q --tls-verify=false "$REG/busybox:latest"
assert_one_line_error "$out"
assert_contains "$out" "$layer"
ROOT=$FRESH assert_fsck_clean
cp "$TEST_TMP/blob.orig" "$blob"
"$STRATA_BIN" --root "$FRESH" pull -q --tls-verify=false "$REG/busybox:latest" >/dev/null ||
	fail "pull after the blob was repaired"

# Unknown repository: the registry's message.
expect_fail so pull -q --tls-verify=false "$REG/nothere:latest"
assert_one_line_error "$out"
assert_contains "$out" "manifest unknown"

# A lying registry: a python3 server whose answers are chosen by repository name.
cat >"$TEST_TMP/liar.py" <<'PY'
import hashlib, http.server, json, sys
cfg = json.dumps({"architecture": "amd64", "os": "linux",
                  "rootfs": {"type": "layers", "diff_ids": []}}).encode()
cd = "sha256:" + hashlib.sha256(cfg).hexdigest()
def manifest(config_digest, size):
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": config_digest, "size": size}, "layers": []}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json", digest=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if digest: self.send_header("Docker-Content-Digest", digest)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    do_HEAD = lambda self: self.do_GET()
    def do_GET(self):
        p = self.path
        if p == "/v2/": return self.send(200, b"{}")
        repo = p.split("/")[2]
        if repo == "badjson" and "/manifests/" in p:
            return self.send(200, b"{not json", "application/vnd.oci.image.manifest.v1+json")
        if repo == "err500":
            return self.send(500, b'{"errors":[{"code":"UNKNOWN","message":"disk on fire\\nreally"}]}')
        if repo == "wrongdigest" and "/manifests/" in p:
            return self.send(200, manifest(cd, len(cfg)), "application/vnd.oci.image.manifest.v1+json",
                             "sha256:" + "0" * 64)
        if repo == "badconfig" and "/manifests/" in p:
            return self.send(200, manifest(cd, len(cfg)), "application/vnd.oci.image.manifest.v1+json")
        if repo == "badconfig" and "/blobs/" in p:
            return self.send(200, b"x" * len(cfg), "application/octet-stream")
        if repo == "long" and "/manifests/" in p:
            return self.send(200, manifest(cd, 3), "application/vnd.oci.image.manifest.v1+json")
        if repo == "long" and "/blobs/" in p:
            return self.send(200, cfg, "application/octet-stream")
        self.send(404, b'{"errors":[{"code":"NAME_UNKNOWN","message":"no"}]}')
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
s.serve_forever()
PY
LPORT=$(free_port)
python3 "$TEST_TMP/liar.py" "$LPORT" &
track_pid $!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$LPORT/v2/"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "liar did not start"
	sleep 0.1
done
LIAR=$TEST_TMP/liar-root
for case in badjson:manifest err500:"HTTP 500: disk on fire" wrongdigest:"digest mismatch" \
	badconfig:"digest mismatch" long:"more than the 3 bytes"; do
	repo=${case%%:*}
	want=${case#*:}
	expect_fail "$STRATA_BIN" --root "$LIAR" pull -q --tls-verify=false "127.0.0.1:$LPORT/$repo:latest"
	assert_one_line_error "$out"
	assert_contains "$out" "$want" "$repo"
done
assert_eq "$("$STRATA_BIN" --root "$LIAR" images -q)" "" "nothing tagged from the liar"
ROOT=$LIAR assert_fsck_clean
