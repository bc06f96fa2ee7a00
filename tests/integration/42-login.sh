# login and logout against a docker-registry with htpasswd (bcrypt) Basic
# auth: wrong credentials give a clear 401, auth.json is written with mode
# 0600 in ${XDG_RUNTIME_DIR}/containers and read by pull and push (and by
# skopeo: same format); --creds, --authfile, --password-stdin, logout.
. "${0%/*}/../lib.sh"
require_cmd skopeo "puts the image into the registry"
require_cmd docker-registry "is the registry"
require_cmd htpasswd "makes the bcrypt password file"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

htpasswd -Bbn alice 's3cret:x' >"$TEST_TMP/htpasswd"
start_registry reg "auth:
  htpasswd:
    realm: strata-test
    path: $TEST_TMP/htpasswd"
export XDG_RUNTIME_DIR=$TEST_TMP/run
unset REGISTRY_AUTH_FILE
AUTH=$XDG_RUNTIME_DIR/containers/auth.json
import_busybox
skopeo copy -q --dest-tls-verify=false --dest-creds 'alice:s3cret:x' "oci:$ROOT:busybox:latest" \
	"docker://$REG/busybox:latest" || fail "skopeo copy with credentials"

OTHER=$TEST_TMP/other
so() { "$STRATA_BIN" --root "$OTHER" "$@"; }

# Anonymous and wrong credentials: 401, one line, no secret in it.
expect_fail so pull -q --tls-verify=false "$REG/busybox:latest"
assert_one_line_error "$out"
assert_contains "$out" "401"
expect_fail so pull -q --tls-verify=false --creds 'alice:Wr0ngPw' "$REG/busybox:latest"
assert_one_line_error "$out"
assert_contains "$out" "401"
assert_not_contains "$out" "Wr0ngPw"
expect_fail so login --tls-verify=false -u alice -p badpass "$REG"
assert_one_line_error "$out"
assert_contains "$out" "401"
assert_not_contains "$out" "badpass"
assert_not_exists "$AUTH"

# --creds works without a login.
so pull -q --tls-verify=false --creds 'alice:s3cret:x' "$REG/busybox:latest" >/dev/null ||
	fail "pull with --creds"

# login writes auth.json (0600) in the containers-auth.json format.
out=$(so login --tls-verify=false -u alice -p 's3cret:x' "$REG")
assert_contains "$out" "Login Succeeded"
assert_exists "$AUTH"
assert_eq "$(stat -c %a "$AUTH")" "600" "auth.json mode"
python3 - "$AUTH" "$REG" <<'PY' || fail "auth.json content"
import base64, json, sys
d = json.load(open(sys.argv[1]))
assert base64.b64decode(d["auths"][sys.argv[2]]["auth"]) == b"alice:s3cret:x", d
PY
skopeo inspect --tls-verify=false --authfile "$AUTH" "docker://$REG/busybox:latest" >/dev/null ||
	fail "skopeo reads strata's auth.json"

# pull and push use it.
"$STRATA_BIN" --root "$TEST_TMP/third" pull -q --tls-verify=false "$REG/busybox:latest" >/dev/null ||
	fail "pull with stored credentials"
so push -q --tls-verify=false "$REG/busybox:latest" "$REG/copy:1" >/dev/null || fail "push with stored credentials"
skopeo inspect --tls-verify=false --creds 'alice:s3cret:x' "docker://$REG/copy:1" >/dev/null ||
	fail "what strata pushed with stored credentials"

# logout removes them.
out=$(so logout "$REG")
assert_contains "$out" "Removed"
assert_not_contains "$(cat "$AUTH")" "$REG"
expect_fail "$STRATA_BIN" --root "$TEST_TMP/fourth" pull -q --tls-verify=false "$REG/busybox:latest"
assert_contains "$out" "401"
expect_fail so logout "$REG"
assert_one_line_error "$out"

# --password-stdin and --authfile.
printf 's3cret:x\n' | so login --tls-verify=false -u alice --password-stdin --authfile "$TEST_TMP/my.json" "$REG" >/dev/null ||
	fail "login --password-stdin --authfile"
assert_eq "$(stat -c %a "$TEST_TMP/my.json")" "600" "--authfile mode"
"$STRATA_BIN" --root "$TEST_TMP/fifth" pull -q --tls-verify=false --authfile "$TEST_TMP/my.json" "$REG/busybox:latest" >/dev/null ||
	fail "pull --authfile"
REGISTRY_AUTH_FILE=$TEST_TMP/my.json "$STRATA_BIN" --root "$TEST_TMP/sixth" pull -q --tls-verify=false "$REG/busybox:latest" >/dev/null ||
	fail "pull with REGISTRY_AUTH_FILE"
so logout --all --authfile "$TEST_TMP/my.json" >/dev/null
assert_not_contains "$(cat "$TEST_TMP/my.json")" "$REG"
ROOT=$OTHER assert_fsck_clean

# Credentials stay with the registry: an upload Location on another host
# (127.0.0.2 here) gets no Authorization header, the registry's own
# requests do. Two python3 servers: the registry wants Basic auth; the
# other host takes the uploads and notes the headers it was sent.
cat >"$TEST_TMP/split.py" <<'PY'
import base64, hashlib, http.server, json, os, sys, threading, uuid
rport, uport, store, log = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], open(sys.argv[4], "a", buffering=1)
want = "Basic " + base64.b64encode(b"alice:s3cret:x").decode()
def blob(d): return os.path.join(store, d.split(":")[1])
class Base(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, extra=(), body=b""):
        self.send_response(code)
        for k, v in extra: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def body(self): return self.rfile.read(int(self.headers.get("Content-Length", 0)))
class Registry(Base):
    def authed(self):
        if self.headers.get("Authorization") == want: return True
        self.body()
        self.send(401, [("WWW-Authenticate", 'Basic realm="split"')])
        return False
    def do_GET(self):
        if self.authed(): self.send(200, body=b"{}")
    def do_HEAD(self):
        if not self.authed(): return
        d = self.path.rsplit("/", 1)[1]
        self.send(200 if "/blobs/" in self.path and os.path.exists(blob(d)) else 404)
    def do_POST(self):
        if not self.authed(): return
        self.body()
        self.send(202, [("Location", "http://127.0.0.2:%d/up/%s" % (uport, uuid.uuid4().hex))])
    def do_PUT(self):
        if not self.authed(): return
        m = self.body()
        log.write("MANIFEST\n")
        self.send(201, [("Docker-Content-Digest", "sha256:" + hashlib.sha256(m).hexdigest())])
class Uploads(Base):
    def do_PUT(self):
        log.write("UPLOAD auth=%s\n" % ("yes" if self.headers.get("Authorization") else "no"))
        data = self.body()
        d = self.path.split("digest=")[1].replace("%3A", ":")
        open(blob(d), "wb").write(data)
        self.send(201)
u = http.server.ThreadingHTTPServer(("127.0.0.2", uport), Uploads)
threading.Thread(target=u.serve_forever, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", rport), Registry).serve_forever()
PY
RPORT=$(free_port)
UPORT=$(free_port)
mkdir -p "$TEST_TMP/split-blobs"
python3 "$TEST_TMP/split.py" "$RPORT" "$UPORT" "$TEST_TMP/split-blobs" "$TEST_TMP/split.log" &
track_pid $!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$RPORT/v2/"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the split registry did not start"
	sleep 0.1
done
strata push -q --tls-verify=false --creds 'alice:s3cret:x' busybox "127.0.0.1:$RPORT/split:v1" >/dev/null ||
	fail "push through an upload host of its own: $(cat "$TEST_TMP/split.log")"
assert_eq "$(grep -c '^UPLOAD' "$TEST_TMP/split.log")" 2 "blobs uploaded to the other host"
assert_not_contains "$(cat "$TEST_TMP/split.log")" "auth=yes" "credentials sent to the upload host"
assert_contains "$(cat "$TEST_TMP/split.log")" "MANIFEST"
for b in "$TEST_TMP"/split-blobs/*; do
	cmp -s "$b" "$ROOT/blobs/sha256/${b##*/}" || fail "blob ${b##*/} differs from the store's"
done
