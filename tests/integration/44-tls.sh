# TLS: docker-registry serving https with a server certificate from a CA
# made here with openssl. Verified by default: refused until the CA is
# trusted through /etc/containers/certs.d/HOST:PORT/ca.crt, then pull and
# push work; --tls-verify=false accepts it unverified.
. "${0%/*}/../lib.sh"
require_root "writes /etc/containers/certs.d"
require_cmd skopeo "puts the image into the registry"
require_cmd docker-registry "is the registry"
require_cmd openssl "makes the CA and the server certificate"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

P=$TEST_TMP/pki
mkdir -p "$P"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 2 \
	-subj /CN=strata-test-ca >/dev/null 2>&1 || fail "make the CA"
openssl req -newkey rsa:2048 -nodes -keyout "$P/srv.key" -out "$P/srv.csr" -subj /CN=127.0.0.1 \
	>/dev/null 2>&1 || fail "make the server key"
printf 'subjectAltName=IP:127.0.0.1\n' >"$P/ext"
openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial \
	-out "$P/srv.crt" -days 2 -extfile "$P/ext" >/dev/null 2>&1 || fail "sign the server certificate"

REG_SCHEME=https
start_registry tls "  tls:
    certificate: $P/srv.crt
    key: $P/srv.key"
import_busybox
skopeo copy -q --dest-tls-verify=false "oci:$ROOT:busybox:latest" "docker://$REG/busybox:latest" ||
	fail "skopeo copy into the TLS registry"

OTHER=$TEST_TMP/other
so() { "$STRATA_BIN" --root "$OTHER" "$@"; }

# Not trusted yet: a one-line certificate error.
expect_fail so pull -q "$REG/busybox:latest"
assert_one_line_error "$out"
assert_contains "$out" "certificate"
# Unverified https with --tls-verify=false.
so pull -q --tls-verify=false "$REG/busybox:latest" >/dev/null || fail "pull --tls-verify=false over https"

# Trusted through certs.d (a directory of this test's port only).
CD=/etc/containers/certs.d/$REG
[ -d /etc/containers/certs.d ] || on_cleanup "rmdir /etc/containers/certs.d"
on_cleanup "rm -rf '$CD'"
mkdir -p "$CD"
cp "$P/ca.crt" "$CD/ca.crt"
"$STRATA_BIN" --root "$TEST_TMP/third" pull -q "$REG/busybox:latest" >/dev/null ||
	fail "pull verified against certs.d"
strata push -q busybox "$REG/pushed:1" >/dev/null || fail "push verified against certs.d"
skopeo inspect --cert-dir "$CD" "docker://$REG/pushed:1" >/dev/null || fail "skopeo reads the pushed image"
ROOT=$OTHER assert_fsck_clean
assert_fsck_clean
