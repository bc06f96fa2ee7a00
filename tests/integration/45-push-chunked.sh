# Chunked uploads. With STRATA_PUSH_CHUNK_SIZE forcing small chunks, push to
# Debian's docker-registry goes in PATCH requests (seen in its access log),
# and skopeo inspects and copies an image whose blobs equal the store's;
# without it a small image goes in one PUT. Then a python3 registry that
# insists on the protocol: each PATCH must carry the Location of the last
# answer and a Content-Range that starts where the registry's Range said it
# stopped, and it keeps only part of some chunks, so the client must go on
# from its Range, not from what it sent; it also drops the connection once
# halfway through a chunk, and the client must ask where the upload stands
# (GET, 204 with Range) and resume from there.
. "${0%/*}/../lib.sh"
require_cmd skopeo "reads what strata pushed"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

REG_ACCESSLOG=1 start_registry reg
LOG=$TEST_TMP/reg.log
import_busybox
size=$(stat -c %s "$ROOT/blobs/sha256/$(ls -S "$ROOT/blobs/sha256" | head -1)")
[ "$size" -gt 300000 ] || fail "the busybox layer is $size bytes, too small to chunk"

# Small chunks: the layer goes in several PATCH requests.
before=$(grep -c '"PATCH ' "$LOG" || true)
dg=$(STRATA_PUSH_CHUNK_SIZE=100k strata push -q --tls-verify=false busybox "$REG/chunked/bb:v1") ||
	fail "chunked push"
patches=$(($(grep -c '"PATCH ' "$LOG" || true) - before))
[ "$patches" -ge $((size / 102400)) ] || fail "$patches PATCH requests for $size bytes in 100k chunks"
skopeo inspect --tls-verify=false "docker://$REG/chunked/bb:v1" >"$TEST_TMP/inspect.json" ||
	fail "skopeo inspect of the chunked push"
assert_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Digest"])' "$TEST_TMP/inspect.json")" "$dg" "digest"
skopeo copy -q --src-tls-verify=false "docker://$REG/chunked/bb:v1" "oci:$TEST_TMP/oci:bb" ||
	fail "skopeo copy of the chunked push"
n=0
for b in "$TEST_TMP"/oci/blobs/sha256/*; do
	cmp -s "$b" "$ROOT/blobs/sha256/${b##*/}" || fail "blob ${b##*/} differs from the store's"
	n=$((n + 1))
done
assert_eq "$n" 3 "blobs copied back"
OTHER=$TEST_TMP/other
"$STRATA_BIN" --root "$OTHER" pull -q --tls-verify=false "$REG/chunked/bb:v1" >/dev/null || fail "pull the chunked push"
[ "$("$STRATA_BIN" --root "$OTHER" export "$REG/chunked/bb:v1" | sha256sum)" = "$(strata export busybox | sha256sum)" ] ||
	fail "export of the chunked push differs"
ROOT=$OTHER assert_fsck_clean

# The default threshold: a 1 MB layer goes in one PUT, no PATCH.
before=$(grep -c '"PATCH ' "$LOG" || true)
strata push -q --tls-verify=false busybox "$REG/mono/bb:v1" >/dev/null || fail "monolithic push"
assert_eq "$(($(grep -c '"PATCH ' "$LOG" || true) - before))" 0 "PATCH requests for a small blob"
assert_eq "$(skopeo inspect --tls-verify=false "docker://$REG/mono/bb:v1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Digest"])')" "$dg"

# A strict registry that keeps only half of every other chunk.
cat >"$TEST_TMP/strict.py" <<'PY'
import hashlib, http.server, json, os, sys, uuid
port, store, log = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "a", buffering=1)
uploads = {}  # id -> [data, state token, patches]
dropped = []
def path_of(d): return os.path.join(store, d.split(":")[1])
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body=b"", extra=()):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def err(self, code, what):
        log.write("ERROR %s\n" % what)
        self.send(code, json.dumps({"errors": [{"code": "BLOB_UPLOAD_INVALID", "message": what}]}).encode())
    def body(self):
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))
    def upload(self):
        p, _, q = self.path.partition("?")
        uid = p.rsplit("/", 1)[1]
        args = dict(kv.split("=", 1) for kv in q.split("&") if "=" in kv)
        u = uploads.get(uid)
        if not u: return None, None, args
        if args.get("state") != u[1]:
            self.err(400, "stale upload state %s, want %s" % (args.get("state"), u[1])); return None, "answered", args
        return uid, u, args
    def where(self, uid, u):
        u[1] = uuid.uuid4().hex
        return [("Location", "/v2/strict/blobs/uploads/%s?state=%s" % (uid, u[1])),
                ("Range", "0-%d" % (len(u[0]) - 1))]
    def do_GET(self):
        if self.path == "/v2/": return self.send(200, b"{}")
        if "/blobs/uploads/" in self.path:
            uid, u, _ = self.upload()
            if not uid: return u or self.err(404, "unknown upload")
            log.write("STATUS %d\n" % len(u[0]))
            return self.send(204, extra=self.where(uid, u))
        self.send(404)
    def do_HEAD(self):
        parts = self.path.split("/")
        if parts[3] == "blobs" and os.path.exists(path_of(parts[4])): return self.send(200)
        self.send(404)
    def do_POST(self):
        self.body()
        uid = uuid.uuid4().hex
        uploads[uid] = [b"", None, 0]
        self.send(202, extra=self.where(uid, uploads[uid]))
    def do_PATCH(self):
        uid, u, _ = self.upload()
        if not uid: return u or self.err(404, "unknown upload")
        if self.headers.get("Content-Type") != "application/octet-stream":
            return self.err(400, "Content-Type %s" % self.headers.get("Content-Type"))
        start, end = map(int, self.headers["Content-Range"].split("-"))
        data = self.body()
        if start != len(u[0]) or end != start + len(data) - 1:
            return self.err(416, "Content-Range %d-%d after %d bytes" % (start, end, len(u[0])))
        u[2] += 1
        if u[2] == 3 and not dropped:
            # Half the chunk arrives, then the connection drops: no answer.
            dropped.append(1)
            u[0] += data[:len(data) // 2]
            log.write("DROP after %d\n" % len(u[0]))
            self.close_connection = True
            return
        keep = data if u[2] % 2 == 0 or len(data) < 2 else data[:len(data) // 2]
        u[0] += keep
        log.write("PATCH %d-%d kept %d\n" % (start, end, len(keep)))
        self.send(202, extra=self.where(uid, u))
    def do_PUT(self):
        if "/manifests/" in self.path:
            m = self.body()
            for d in [json.loads(m)["config"]] + json.loads(m)["layers"]:
                if not os.path.exists(path_of(d["digest"])): return self.err(400, "missing " + d["digest"])
            return self.send(201, extra=[("Docker-Content-Digest", "sha256:" + hashlib.sha256(m).hexdigest())])
        uid, u, args = self.upload()
        if not uid: return u or self.err(404, "unknown upload")
        u[0] += self.body()
        d = args["digest"].replace("%3A", ":")
        if "sha256:" + hashlib.sha256(u[0]).hexdigest() != d: return self.err(400, "digest of %s" % d)
        open(path_of(d), "wb").write(u[0])
        log.write("PUT %s %d\n" % (d, len(u[0])))
        self.send(201)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
SPORT=$(free_port)
mkdir -p "$TEST_TMP/strict-blobs"
python3 "$TEST_TMP/strict.py" "$SPORT" "$TEST_TMP/strict-blobs" "$TEST_TMP/strict.log" &
track_pid $!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$SPORT/v2/"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "strict registry did not start"
	sleep 0.1
done
err=$(STRATA_PUSH_CHUNK_SIZE=256k strata push --tls-verify=false busybox "127.0.0.1:$SPORT/strict:v1" 2>&1 >/dev/null) ||
	fail "push to the strict registry: $err $(grep ERROR "$TEST_TMP/strict.log")"
assert_not_contains "$(cat "$TEST_TMP/strict.log")" "ERROR" "protocol errors"
dropped_at=$(sed -n 's/^DROP after //p' "$TEST_TMP/strict.log")
[ -n "$dropped_at" ] || fail "the strict registry did not drop a chunk"
grep -q "^STATUS $dropped_at\$" "$TEST_TMP/strict.log" || fail "no upload status asked after the drop"
assert_contains "$err" "connection lost, resuming the upload at $dropped_at bytes"
grep -q "kept $((256 * 1024 / 2))\$" "$TEST_TMP/strict.log" || fail "no chunk was cut short: $(cat "$TEST_TMP/strict.log")"
for b in "$TEST_TMP"/strict-blobs/*; do
	cmp -s "$b" "$ROOT/blobs/sha256/${b##*/}" || fail "blob ${b##*/} differs from the store's"
done
assert_eq "$(ls "$TEST_TMP/strict-blobs" | wc -l)" 2 "blobs uploaded to the strict registry"
assert_fsck_clean
