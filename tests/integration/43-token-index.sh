# The Bearer token flow, platform indexes, parallel layer fetches and resumed
# transfers, against a small python3
# registry that needs a token from its realm (Basic credentials there,
# the token in the access_token field) and serves an OCI index with a
# linux/amd64 and a linux/arm64 image: pull picks this machine's platform
# or --platform's; wrong or missing credentials give a clear 401.
. "${0%/*}/../lib.sh"
require_cmd curl "checks that the server is up"

cat >"$TEST_TMP/tokenreg.py" <<'PY'
import base64, gzip, hashlib, http.server, io, json, sys, tarfile
port = int(sys.argv[1])
def dg(b): return "sha256:" + hashlib.sha256(b).hexdigest()
blobs, manifests, entries = {}, {}, []
def layer_of(name, data):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 0
        t.addfile(ti, io.BytesIO(data))
    tar = raw.getvalue()
    return tar, gzip.compress(tar, mtime=0)
amd64_layers = []
for arch in ("amd64", "arm64"):
    files = [("hello", ("built for %s\n" % arch).encode())]
    if arch == "amd64":  # several layers, fetched in parallel
        files += [("f%d" % i, (("layer %d " % i) * 20000).encode()) for i in range(1, 6)]
    tars, layers = [], []
    for name, data in files:
        tar, layer = layer_of(name, data)
        tars.append(tar); layers.append(layer); blobs[dg(layer)] = layer
    if arch == "amd64": amd64_layers = [dg(l) for l in layers]
    cfg = json.dumps({"architecture": arch, "os": "linux", "config": {},
                      "rootfs": {"type": "layers", "diff_ids": [dg(t) for t in tars]}}).encode()
    blobs[dg(cfg)] = cfg
    m = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": dg(cfg), "size": len(cfg)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": dg(l), "size": len(l)}
                   for l in layers]}).encode()
    if arch == "amd64": amd64_manifest = m
    manifests[dg(m)] = (m, "application/vnd.oci.image.manifest.v1+json")
    entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": dg(m), "size": len(m),
                    "platform": {"architecture": arch, "os": "linux"}})
idx = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                  "manifests": entries}).encode()
manifests[dg(idx)] = manifests["latest"] = (idx, "application/vnd.oci.image.index.v1+json")
# "bad": the amd64 manifest, whose fourth layer comes back corrupted.
bad_layer = amd64_layers[3]
open(sys.argv[2], "w").write(bad_layer)
dropped = set()
GOOD = "Basic " + base64.b64encode(b"alice:t0ken-pw").decode()
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body, ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def deny(self, scope):
        ch = 'Bearer realm="http://127.0.0.1:%d/token",service="fake"' % port
        if scope: ch += ',scope="%s"' % scope
        self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                  extra=[("WWW-Authenticate", ch)])
    do_HEAD = lambda self: self.do_GET()
    def do_GET(self):
        p = self.path
        if p.startswith("/token"):
            if self.headers.get("Authorization") != GOOD:
                return self.send(401, b'{"details":"bad credentials"}')
            ok = any("scope=repository%%3A%s%%3Apull" % r in p for r in ("multi", "bad", "flaky", "norange"))
            return self.send(200, json.dumps({"access_token": "good" if ok else "noscope"}).encode())
        parts = p.split("/")
        tok = self.headers.get("Authorization")
        if p == "/v2/":
            return self.send(200, b"{}") if tok in ("Bearer good", "Bearer noscope") else self.deny(None)
        if tok != "Bearer good":
            return self.deny("repository:multi:pull")
        if parts[2] in ("flaky", "norange") and parts[3] == "manifests":
            return self.send(200, amd64_manifest, "application/vnd.oci.image.manifest.v1+json")
        if parts[2] in ("flaky", "norange") and parts[3] == "blobs" and parts[4] in blobs:
            body = blobs[parts[4]]
            if parts[4] == amd64_layers[4] and (parts[2], parts[4]) not in dropped:
                # The connection drops halfway through the first time.
                dropped.add((parts[2], parts[4]))
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body[:len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            rng = self.headers.get("Range")
            if rng and parts[2] == "flaky":
                start = int(rng.split("=")[1].rstrip("-"))
                open(sys.argv[2] + ".ranges", "a").write("%s %d\n" % (parts[4], start))
                return self.send(206, body[start:], "application/octet-stream",
                                 [("Content-Range", "bytes %d-%d/%d" % (start, len(body) - 1, len(body)))])
            return self.send(200, body, "application/octet-stream")
        if parts[2] == "bad" and parts[3] == "manifests":
            return self.send(200, amd64_manifest, "application/vnd.oci.image.manifest.v1+json")
        if parts[2] == "bad" and parts[3] == "blobs" and parts[4] == bad_layer:
            return self.send(200, b"x" * len(blobs[bad_layer]), "application/octet-stream")
        if parts[2] == "bad" and parts[3] == "blobs" and parts[4] in blobs:
            return self.send(200, blobs[parts[4]], "application/octet-stream")
        if parts[2] == "multi" and parts[3] == "manifests" and parts[4] in manifests:
            body, mt = manifests[parts[4]]
            return self.send(200, body, mt, [("Docker-Content-Digest", dg(body))])
        if parts[2] == "multi" and parts[3] == "blobs" and parts[4] in blobs:
            return self.send(200, blobs[parts[4]], "application/octet-stream")
        self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
PORT=$(free_port)
python3 "$TEST_TMP/tokenreg.py" "$PORT" "$TEST_TMP/bad-layer" &
track_pid $!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "token registry did not start"
	sleep 0.1
done
R=127.0.0.1:$PORT
export XDG_RUNTIME_DIR=$TEST_TMP/run
unset REGISTRY_AUTH_FILE

# No credentials, wrong ones: the token server's 401, one line.
expect_fail strata pull -q --tls-verify=false "$R/multi:latest"
assert_one_line_error "$out"
assert_contains "$out" "401"
expect_fail strata pull -q --tls-verify=false --creds alice:nope "$R/multi:latest"
assert_one_line_error "$out"
assert_contains "$out" "401"
assert_not_contains "$out" "nope"

# This machine's platform from the index.
strata pull -q --tls-verify=false --creds alice:t0ken-pw "$R/multi:latest" >/dev/null ||
	fail "pull through the token flow"
arch=$(strata inspect "$R/multi" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Architecture"])')
want=$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')
assert_eq "$arch" "$want" "platform picked from the index"
assert_eq "$(strata export "$R/multi" | tar -xOf - hello)" "built for $want" "content of the picked image"
if [ "$want" = amd64 ]; then
	strata export -o "$TEST_TMP/multi.tar" "$R/multi"
	assert_eq "$(tar -tf "$TEST_TMP/multi.tar" | grep -c '^f[1-5]$')" 5 "the layers fetched in parallel"
	assert_eq "$(tar -xOf "$TEST_TMP/multi.tar" f4 | cut -c1-8)" "layer 4 " "content of a parallel layer"
	# One corrupted layer among several fetched at once: named, nothing tagged, nothing staged.
	BAD=$TEST_TMP/bad
	expect_fail "$STRATA_BIN" --root "$BAD" pull -q --tls-verify=false --creds alice:t0ken-pw "$R/bad:latest"
	assert_one_line_error "$out"
	assert_contains "$out" "$(cat "$TEST_TMP/bad-layer")"
	assert_contains "$out" "digest mismatch"
	assert_eq "$("$STRATA_BIN" --root "$BAD" images -q)" "" "nothing tagged after a bad layer"
	assert_eq "$(ls "$BAD/tmp")" "" "staging left behind"
	ROOT=$BAD assert_fsck_clean

	# A connection dropped halfway through a layer: resumed with a Range request.
	FLAKY=$TEST_TMP/flaky
	err=$("$STRATA_BIN" --root "$FLAKY" pull --tls-verify=false --creds alice:t0ken-pw "$R/flaky:latest" 2>&1 >/dev/null) ||
		fail "pull through a dropped connection: $err"
	assert_contains "$err" "connection lost"
	assert_exists "$TEST_TMP/bad-layer.ranges"
	[ "$(cut -d' ' -f2 "$TEST_TMP/bad-layer.ranges")" -gt 0 ] || fail "resumed from byte 0"
	assert_eq "$("$STRATA_BIN" --root "$FLAKY" export "$R/flaky" | tar -xOf - f5 | cut -c1-8)" "layer 5 "
	ROOT=$FLAKY assert_fsck_clean
	# A server that ignores Range: the blob starts over, and still checks out.
	"$STRATA_BIN" --root "$TEST_TMP/norange" pull -q --tls-verify=false --creds alice:t0ken-pw "$R/norange:latest" >/dev/null ||
		fail "pull when Range is ignored"
	ROOT=$TEST_TMP/norange assert_fsck_clean
fi

# --platform picks the other one; a platform the index lacks is an error.
OTHER=$TEST_TMP/other
"$STRATA_BIN" --root "$OTHER" pull -q --tls-verify=false --creds alice:t0ken-pw --platform linux/arm64 "$R/multi:latest" >/dev/null ||
	fail "pull --platform linux/arm64"
assert_eq "$("$STRATA_BIN" --root "$OTHER" export "$R/multi" | tar -xOf - hello)" "built for arm64"
expect_fail strata pull -q --tls-verify=false --creds alice:t0ken-pw --platform linux/s390x "$R/multi:latest"
assert_one_line_error "$out"
assert_contains "$out" "linux/s390x"
expect_fail strata pull -q --tls-verify=false --creds alice:t0ken-pw --platform linux "$R/multi:latest"
assert_one_line_error "$out"

# Credentials stored by login are used for the token too.
strata login --tls-verify=false -u alice -p t0ken-pw "$R" >/dev/null || fail "login to a token registry"
"$STRATA_BIN" --root "$TEST_TMP/third" pull -q --tls-verify=false "$R/multi:latest" >/dev/null ||
	fail "pull with stored credentials through the token flow"
expect_fail strata login --tls-verify=false -u alice -p nope "$R"
assert_one_line_error "$out"
assert_contains "$out" "401"
assert_fsck_clean
ROOT=$OTHER assert_fsck_clean
