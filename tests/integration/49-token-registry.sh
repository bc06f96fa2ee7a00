# Debian's docker-registry in token mode: its auth.token realm is a python3
# standard-library token server started here on loopback, which issues
# RS256 JWTs signed by `openssl dgst` with a key and self-signed certificate
# made by openssl here (the certificate in the JWT's x5c header and in the
# registry's rootcertbundle). Anonymous requests get pull access to
# public/* only; alice (Basic credentials at the realm) gets pull and push
# everywhere; wrong credentials are refused by the token server. Pull and
# push with and without credentials, --creds and a login; skopeo reads what
# strata pushed through the same token flow.
. "${0%/*}/../lib.sh"
require_cmd docker-registry "is the registry"
require_cmd openssl "makes the token signing key"
require_cmd skopeo "reads what strata pushed"
require_cmd curl "checks that the servers are up"
. "${0%/*}/registry.inc"

openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TEST_TMP/token.key" -out "$TEST_TMP/token.crt" \
	-days 2 -subj /CN=strata-test-token 2>/dev/null || fail "openssl req"

cat >"$TEST_TMP/tokens.py" <<'PY'
import base64, http.server, json, os, subprocess, sys, time, urllib.parse
port, key, cert, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], open(sys.argv[4], "a", buffering=1)
ISSUER, SERVICE = "strata-test-issuer", "strata-test-registry"
GOOD = "Basic " + base64.b64encode(b"alice:t0k3n-pw").decode()
pem = open(cert).read()
x5c = "".join(l for l in pem.splitlines() if l and not l.startswith("-----"))
def b64u(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def sign(data):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=data,
                          capture_output=True, check=True).stdout
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def send(self, code, body):
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        if u.path != "/token": return self.send(404, b"{}")
        q = urllib.parse.parse_qs(u.query)
        auth = self.headers.get("Authorization")
        if auth and auth != GOOD:
            log.write("refused\n")
            return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"wrong user name or password"}]}')
        who = "alice" if auth else ""
        access = []
        for scope in " ".join(q.get("scope", [])).split():
            typ, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            want = actions.split(",")
            if who == "alice": got = want
            else: got = [a for a in want if a == "pull" and name.startswith("public/")]
            access.append({"type": typ, "name": name, "actions": got})
        log.write("token for %s: %s\n" % (who or "anonymous", json.dumps(access)))
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": who, "aud": q.get("service", [""])[0], "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": b64u(os.urandom(12)), "access": access}
        head = b64u(json.dumps({"typ": "JWT", "alg": "RS256", "x5c": [x5c]}).encode())
        body = b64u(json.dumps(claims).encode())
        tok = head + "." + body + "." + b64u(sign((head + "." + body).encode()))
        self.send(200, json.dumps({"token": tok, "expires_in": 300}).encode())
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
TPORT=$(free_port)
python3 "$TEST_TMP/tokens.py" "$TPORT" "$TEST_TMP/token.key" "$TEST_TMP/token.crt" "$TEST_TMP/tokens.log" &
track_pid $!
i=0
until curl -s -o /dev/null "http://127.0.0.1:$TPORT/"; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "token server did not start"
	sleep 0.1
done
start_registry reg "auth:
  token:
    realm: http://127.0.0.1:$TPORT/token
    service: strata-test-registry
    issuer: strata-test-issuer
    rootcertbundle: $TEST_TMP/token.crt"
export XDG_RUNTIME_DIR=$TEST_TMP/run
unset REGISTRY_AUTH_FILE
import_busybox
strata export busybox | sha256sum >"$TEST_TMP/want.sum"
CREDS=alice:t0k3n-pw

# The registry really asks for a token.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://$REG/v2/")
assert_eq "$code" 401 "anonymous GET /v2/"

# Push: with credentials it works; anonymous it is refused, one line.
dg=$(strata push -q --tls-verify=false --creds "$CREDS" busybox "$REG/team/bb:v1") || fail "push with credentials"
strata push -q --tls-verify=false --creds "$CREDS" busybox "$REG/public/bb:v1" >/dev/null || fail "push to public/"
assert_contains "$(cat "$TEST_TMP/tokens.log")" 'token for alice: [{"type": "repository", "name": "team/bb", "actions": ["pull", "push"]}]'
expect_fail strata push -q --tls-verify=false busybox "$REG/team/bb:v2"
assert_one_line_error "$out"
assert_contains "$out" "401"
expect_fail strata push -q --tls-verify=false --creds alice:Wr0ng busybox "$REG/team/bb:v2"
assert_one_line_error "$out"
assert_contains "$out" "401"
assert_contains "$out" "wrong user name or password"
assert_not_contains "$out" "Wr0ng"
assert_contains "$(cat "$TEST_TMP/tokens.log")" "refused"
skopeo inspect --tls-verify=false --creds "$CREDS" "docker://$REG/team/bb:v1" >"$TEST_TMP/inspect.json" ||
	fail "skopeo inspect through the token flow"
assert_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["Digest"])' "$TEST_TMP/inspect.json")" "$dg"

# Pull: anonymous from public/, not from team/; with credentials from both.
A=$TEST_TMP/anon
"$STRATA_BIN" --root "$A" pull -q --tls-verify=false "$REG/public/bb:v1" >/dev/null || fail "anonymous pull from public/"
assert_eq "$("$STRATA_BIN" --root "$A" export "$REG/public/bb:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "anonymous pull export"
expect_fail "$STRATA_BIN" --root "$A" pull -q --tls-verify=false "$REG/team/bb:v1"
assert_one_line_error "$out"
assert_contains "$out" "401"
expect_fail "$STRATA_BIN" --root "$A" pull -q --tls-verify=false --creds alice:Wr0ng "$REG/public/bb:v1"
assert_one_line_error "$out"
assert_contains "$out" "401"
assert_not_contains "$out" "Wr0ng"
ROOT=$A assert_fsck_clean
C=$TEST_TMP/creds
"$STRATA_BIN" --root "$C" pull -q --tls-verify=false --creds "$CREDS" "$REG/team/bb:v1" >/dev/null || fail "pull with credentials"
assert_eq "$("$STRATA_BIN" --root "$C" export "$REG/team/bb:v1" | sha256sum)" "$(cat "$TEST_TMP/want.sum")" "pull with credentials export"
ROOT=$C assert_fsck_clean

# login checks the credentials through the token flow; pull and push use them.
expect_fail strata login --tls-verify=false -u alice -p Wr0ng "$REG"
assert_one_line_error "$out"
assert_contains "$out" "401"
strata login --tls-verify=false -u alice -p t0k3n-pw "$REG" >/dev/null || fail "login"
L=$TEST_TMP/login
"$STRATA_BIN" --root "$L" pull -q --tls-verify=false "$REG/team/bb:v1" >/dev/null || fail "pull with the login's credentials"
"$STRATA_BIN" --root "$L" push -q --tls-verify=false --compression zstd "$REG/team/bb:v1" "$REG/team/bb:zstd" >/dev/null ||
	fail "push with the login's credentials"
assert_eq "$(skopeo inspect --raw --tls-verify=false --creds "$CREDS" "docker://$REG/team/bb:zstd" | grep -c 'tar+zstd')" 1 "zstd layer pushed"
ROOT=$L assert_fsck_clean
assert_fsck_clean
