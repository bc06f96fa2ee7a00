# The containers configuration files, all in this test's temp dir (HOME,
# STRATA_SYSCONFDIR, CONTAINERS_REGISTRIES_CONF: the machine's own
# /etc/containers is never read): registries.conf short names (search list,
# modes, aliases, drop-ins), prefix rewrites, mirrors, insecure, blocked;
# policy.json (reject, per-scope insecureAcceptAnything, signedBy refused)
# for pull, push and load (docker-archive, oci-archive, oci), with skopeo's
# verdict on the same files; certs.d with a
# client certificate over TLS; the blob-info cache turning a push into
# cross-repository mounts; login through an insecure registry of
# registries.conf, and auth.json keys with a scheme or a namespace.
. "${0%/*}/../lib.sh"
require_cmd skopeo "compares the policy verdicts"
require_cmd docker-registry "is the registry"
require_cmd openssl "makes the CA and the certificates"
require_cmd curl "checks that the registry is up"
require_cmd htpasswd "makes the bcrypt password file"
. "${0%/*}/registry.inc"

export HOME=$TEST_TMP/home STRATA_SYSCONFDIR=$TEST_TMP/etc XDG_RUNTIME_DIR=$TEST_TMP/run
# the short-name alias cache of root, /var/cache/containers/short-name-aliases.conf, moved here
export STRATA_CACHEDIR=$TEST_TMP/vcache
export CONTAINERS_REGISTRIES_CONF=$TEST_TMP/registries.conf
unset XDG_CONFIG_HOME DOCKER_CONFIG REGISTRY_AUTH_FILE 2>/dev/null || true
mkdir -p "$HOME/.config/containers" "$STRATA_SYSCONFDIR/containers/registries.conf.d" "$XDG_RUNTIME_DIR"
: >"$CONTAINERS_REGISTRIES_CONF"

start_registry one
ONE=$REG
start_registry two
TWO=$REG
import_busybox
# No policy file anywhere: accepted. The image goes to ONE only.
strata push -q --tls-verify=false busybox "$ONE/busybox:latest" >/dev/null || fail "push to ONE"
strata push -q --tls-verify=false busybox "$ONE/other/img:1" >/dev/null || fail "push to ONE/other"

# Each pull goes to a new store: R=$(new) then so ...
n=0
new() {
	n=$((n + 1))
	R=$TEST_TMP/r$n
}
so() { "$STRATA_BIN" --root "$R" "$@"; }
last_images() { so images --format json; }

# ---- short names ----
cat >"$CONTAINERS_REGISTRIES_CONF" <<EOF
# two search registries: TWO lacks the image, ONE has it
unqualified-search-registries = ["$TWO", "$ONE"]
short-name-mode = "permissive"

[[registry]]
location = "$ONE"
insecure = true

[[registry]]
location = "$TWO"
insecure = true
EOF
new
err=$(so pull busybox 2>&1 >/dev/null) || fail "pull a short name through the search list: $err"
assert_contains "$err" "Trying to pull $TWO/busybox:latest"
assert_contains "$err" "Trying to pull $ONE/busybox:latest"
assert_contains "$(last_images)" "$ONE/busybox"
# Enforcing, two search registries, no alias, no prompt: refused.
sed -i 's/permissive/enforcing/' "$CONTAINERS_REGISTRIES_CONF"
new
expect_fail so pull -q busybox
assert_one_line_error "$out"
assert_contains "$out" "enforcing"
# A drop-in of the system dir replaces the search list: one registry, no ambiguity.
printf 'unqualified-search-registries = ["%s"]\n' "$ONE" >"$STRATA_SYSCONFDIR/containers/registries.conf.d/50-one.conf"
new
so pull -q busybox >/dev/null || fail "pull with the search list of a drop-in"
assert_contains "$(last_images)" "$ONE/busybox"
# A later drop-in (name order) empties it again: no alias, no search registry.
printf 'unqualified-search-registries = []\n' >"$STRATA_SYSCONFDIR/containers/registries.conf.d/60-none.conf"
new
expect_fail so pull -q busybox
assert_one_line_error "$out"
assert_contains "$out" "did not resolve to an alias"
# An alias (the user's drop-in dir) resolves without the search list.
mkdir -p "$HOME/.config/containers/registries.conf.d"
printf '[aliases]\n"mybox" = "%s/busybox"\n' "$ONE" >"$HOME/.config/containers/registries.conf.d/alias.conf"
new
so pull -q mybox:latest >/dev/null || fail "pull an alias"
assert_contains "$(last_images)" "$ONE/busybox"
# --all-tags lists the tags where the alias points.
new
so pull -q --all-tags mybox >/dev/null || fail "pull --all-tags of an alias"
assert_contains "$(last_images)" "$ONE/busybox"
rm -f "$STRATA_SYSCONFDIR"/containers/registries.conf.d/*.conf "$HOME"/.config/containers/registries.conf.d/*

# ---- the short-name alias cache, written and read by podman and strata ----
# podman records a short name's alias only when it asked at a prompt (stdin
# and stdout terminals) and the pull worked; then the cache's alias comes
# before registries.conf's. podman (root) always uses
# /var/cache/containers: it runs in a mount namespace where that is ours.
if command -v podman >/dev/null && command -v script >/dev/null; then
	CACHE=$STRATA_CACHEDIR/containers/short-name-aliases.conf
	mkdir -p "$STRATA_CACHEDIR/containers"
	strata push -q --tls-verify=false busybox "$ONE/cached:latest" >/dev/null
	strata push -q --tls-verify=false busybox "$TWO/cached:latest" >/dev/null
	# $TEST_TMP/in-vcache CMD...: CMD seeing our cache dir as /var/cache/containers
	cat >"$TEST_TMP/in-vcache" <<EOF
#!/bin/sh
exec unshare -m sh -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /var/cache &&
	mkdir /var/cache/containers && mount --bind "\$0" /var/cache/containers && exec "\$@"' \\
	"$STRATA_CACHEDIR/containers" "\$@"
EOF
	chmod +x "$TEST_TMP/in-vcache"
	POD="$TEST_TMP/in-vcache podman --root $TEST_TMP/proot --runroot $TEST_TMP/prun --storage-driver vfs --events-backend=file"
	pod() { $POD "$@"; }
	on_cleanup "podman --root $TEST_TMP/proot --runroot $TEST_TMP/prun --storage-driver vfs rmi -af >/dev/null 2>&1"
	search() {
		printf 'unqualified-search-registries = ["%s", "%s"]\nshort-name-mode = "%s"\n' "$1" "$2" "$3"
		printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$ONE" "$TWO"
	}
	search "$ONE" "$TWO" permissive >"$CONTAINERS_REGISTRIES_CONF"
	# no terminal: both try the search list in order and record nothing
	pod pull -q cached </dev/null >/dev/null || fail "podman pull of a short name"
	new
	so pull -q cached </dev/null >/dev/null || fail "strata pull of a short name"
	assert_not_exists "$CACHE"
	# podman at a prompt (Enter: the first, ONE) records the alias; strata then follows it
	# though its search list now starts with TWO
	pod rmi -af >/dev/null
	(sleep 3; printf '\r'; sleep 2) | script -qec "$POD pull -q cached" /dev/null >/dev/null
	assert_eq "$(cat "$CACHE")" "$(printf '[aliases]\n  cached = "%s/cached"' "$ONE")" "podman's alias cache"
	search "$TWO" "$ONE" permissive >"$CONTAINERS_REGISTRIES_CONF"
	new
	err=$(so pull cached 2>&1 >/dev/null) || fail "pull through podman's alias: $err"
	assert_not_contains "$err" "Trying to pull" "an alias from the cache tries no search registry"
	assert_contains "$(last_images)" "$ONE/cached"
	# the cache comes before registries.conf's [aliases]; an empty value there hides them
	printf '[aliases]\n"cached" = "%s/cached"\n' "$TWO" >"$STRATA_SYSCONFDIR/containers/registries.conf.d/alias.conf"
	new
	so pull -q cached >/dev/null && assert_contains "$(last_images)" "$ONE/cached"
	cp "$CACHE" "$TEST_TMP/podman-cache"
	printf '[aliases]\n  cached = ""\n' >"$CACHE"
	search "$ONE" "$TWO" permissive >"$CONTAINERS_REGISTRIES_CONF"
	new
	err=$(so pull cached 2>&1 >/dev/null) || fail "pull with the alias hidden: $err"
	assert_contains "$err" "Trying to pull $ONE/cached:latest" "an empty cached alias hides registries.conf's"
	rm "$STRATA_SYSCONFDIR/containers/registries.conf.d/alias.conf" "$CACHE"
	# strata at a prompt (2: TWO) records it as podman does; podman, with no terminal, follows it
	new
	printf '2\n' | script -qec "$STRATA_BIN --root $R pull -q cached" /dev/null >"$TEST_TMP/prompt.out"
	assert_contains "$(cat "$TEST_TMP/prompt.out")" "2) $TWO/cached:latest" "strata's prompt"
	assert_contains "$(last_images)" "$TWO/cached"
	assert_eq "$(cat "$CACHE")" "$(printf '[aliases]\n  cached = "%s/cached"' "$TWO")" "strata's alias cache"
	assert_eq "$(stat -c %a "$CACHE")" 600 "the alias cache's mode"
	assert_eq "$(sed "s|$TWO|X|" "$CACHE" | od -c)" "$(sed "s|$ONE|X|" "$TEST_TMP/podman-cache" | od -c)" \
		"strata's alias cache, byte for byte as podman writes it"
	pod rmi -af >/dev/null
	pod pull -q cached </dev/null >/dev/null || fail "podman pull through strata's alias"
	assert_eq "$(pod images --format '{{.Repository}}')" "$TWO/cached" "podman follows strata's alias"
	# enforcing with a terminal asks instead of refusing
	search "$ONE" "$TWO" enforcing >"$CONTAINERS_REGISTRIES_CONF"
	rm "$CACHE"
	new
	printf '\n' | script -qec "$STRATA_BIN --root $R pull -q cached" /dev/null >/dev/null
	assert_contains "$(last_images)" "$ONE/cached"
	assert_contains "$(cat "$CACHE")" "cached = \"$ONE/cached\"" "recorded in enforcing mode"
	# a broken cache is one clear error, as in containers/image
	printf '[aliases]\n  cached = "no-registry"\n' >"$CACHE"
	new
	expect_fail so pull -q cached
	assert_one_line_error "$out"
	assert_contains "$out" "short-name alias cache $CACHE"
	# root's cache is /var/cache/containers without STRATA_CACHEDIR
	printf '[aliases]\n  cached = "%s/cached"\n' "$TWO" >"$CACHE"
	search "$ONE" "$TWO" permissive >"$CONTAINERS_REGISTRIES_CONF"
	new
	"$TEST_TMP/in-vcache" env -u STRATA_CACHEDIR "$STRATA_BIN" --root "$R" pull -q cached >/dev/null ||
		fail "pull with /var/cache/containers"
	assert_contains "$(last_images)" "$TWO/cached"
	rm -f "$CACHE"
else
	skip "the alias cache against podman's (needs podman and script)"
fi

# ---- prefix rewrites, mirrors, blocked ----
cat >"$CONTAINERS_REGISTRIES_CONF" <<EOF
[[registry]]
prefix = "fake.example/foo"
location = "$ONE"
insecure = true

[[registry]]
prefix = "*.mirrored.example"
[[registry.mirror]]
location = "$TWO"
insecure = true
[[registry.mirror]]
location = "$ONE"
insecure = true

[[registry]]
prefix = "$ONE/blocked"
location = "$ONE/blocked"
insecure = true
blocked = true

[[registry]]
location = "$ONE"
insecure = true

[[registry]]
location = "$TWO"
insecure = true
EOF
new
so pull -q fake.example/foo/busybox >/dev/null || fail "pull through a prefix rewrite"
assert_contains "$(last_images)" "fake.example/foo/busybox"
# The blob-info cache: the store that pulled fake.example/foo/busybox saw its
# blobs in ONE's "busybox"; a push to another repository of ONE mounts them
# from there (the image has no name in ONE, so only the cache knows).
assert_exists "$R/blob-info.json"
err=$(so push --tls-verify=false fake.example/foo/busybox "$ONE/mounted:1" 2>&1 >/dev/null) ||
	fail "push with the blob-info cache: $err"
assert_contains "$err" "mounted from busybox"
assert_not_contains "$err" "MB"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any(p["repository"] == "mounted" for v in d["blobs"].values() for p in v)' \
	"$R/blob-info.json" || fail "the push is not in the blob-info cache"
skopeo inspect --tls-verify=false "docker://$ONE/mounted:1" >/dev/null || fail "skopeo reads the mounted image"
# The first mirror lacks it, the second has it; the location itself (a
# name that does not resolve) is never reached.
new
err=$(so pull a.b.mirrored.example/busybox 2>&1 >/dev/null) || fail "pull through mirrors: $err"
assert_contains "$err" "from $TWO/busybox:latest (mirror)"
assert_contains "$err" "from $ONE/busybox:latest (mirror)"
assert_contains "$(last_images)" "a.b.mirrored.example/busybox"
# Blocked: pull and push refused, one line each.
new
expect_fail so pull -q "$ONE/blocked/busybox"
assert_one_line_error "$out"
assert_contains "$out" "blocked"
expect_fail strata push -q busybox "$ONE/blocked/busybox"
assert_one_line_error "$out"
assert_contains "$out" "blocked"
# A push goes to the name given, not the location (skopeo and podman do the same).
expect_fail strata push -q busybox fake.example/foo/pushed:1
assert_one_line_error "$out"
assert_contains "$out" "fake.example"
assert_not_contains "$(curl -s "http://$ONE/v2/_catalog")" "pushed"
# Insecure from registries.conf: no --tls-verify=false needed.
strata push -q busybox "$ONE/viaconf:1" >/dev/null || fail "push to an insecure registry of registries.conf"
curl -sf "http://$ONE/v2/viaconf/tags/list" >/dev/null || fail "the push did not reach ONE"
# --tls-verify=true beats registries.conf's insecure.
new
expect_fail so pull -q --tls-verify=true "$ONE/busybox"
assert_one_line_error "$out"
# A malformed file: one line naming the file and line.
printf '[[registry]]\nlocation = "%s"\ninsecure = yes\n' "$ONE" >"$CONTAINERS_REGISTRIES_CONF"
new
expect_fail so pull -q "$ONE/busybox"
assert_one_line_error "$out"
assert_contains "$out" "$CONTAINERS_REGISTRIES_CONF"
assert_contains "$out" "line 3"
printf '[[registry]]\nprefix = "x.example"\nlocation = "https://%s"\n' "$ONE" >"$CONTAINERS_REGISTRIES_CONF"
new
expect_fail so pull -q "$ONE/busybox"
assert_one_line_error "$out"
assert_contains "$out" "URL schemes are not supported"

# ---- policy.json ----
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$ONE" >"$CONTAINERS_REGISTRIES_CONF"
P=$TEST_TMP/policy
mkdir -p "$P"
echo '{"default": [{"type": "reject"}]}' >"$P/reject.json"
new
expect_fail so pull -q --signature-policy "$P/reject.json" "$ONE/busybox"
assert_one_line_error "$out"
assert_contains "$out" "rejected by the signature policy"
assert_eq "$rc" 125 "exit status of a rejected pull"
assert_eq "$(last_images)" "[]" "a rejected pull stored nothing"
expect_fail strata push -q --signature-policy "$P/reject.json" busybox "$ONE/rejected:1"
assert_one_line_error "$out"
assert_contains "$out" "rejected by the signature policy"
assert_eq "$rc" 125 "exit status of a rejected push"
# skopeo refuses the same copies with the same file.
expect_fail skopeo --policy "$P/reject.json" copy --src-tls-verify=false "docker://$ONE/busybox:latest" "oci:$TEST_TMP/sk:x"
assert_contains "$out" "rejected by policy"
expect_fail skopeo --policy "$P/reject.json" copy --dest-tls-verify=false "oci:$ROOT:busybox:latest" "docker://$ONE/rejected:1"
assert_contains "$out" "rejected by policy"
# Reject by default, one repository accepted, and the store (oci) for pushes.
cat >"$P/scoped.json" <<EOF
{"default": [{"type": "reject"}],
 "transports": {
   "docker": {"$ONE/busybox": [{"type": "insecureAcceptAnything"}],
              "$ONE/other": [{"type": "signedBy", "keyType": "GPGKeys", "keyPath": "/nonexistent"}]},
   "oci": {"$(realpath "$ROOT")": [{"type": "insecureAcceptAnything"}]}}}
EOF
new
so pull -q --signature-policy "$P/scoped.json" "$ONE/busybox" >/dev/null || fail "pull an accepted scope"
new
expect_fail so pull -q --signature-policy "$P/scoped.json" "$ONE/viaconf:1"
assert_one_line_error "$out"
assert_contains "$out" "rejected"
# signedBy cannot be checked yet: refused, saying so.
new
expect_fail so pull -q --signature-policy "$P/scoped.json" "$ONE/other/img:1"
assert_one_line_error "$out"
assert_contains "$out" "cannot verify"
strata push -q --signature-policy "$P/scoped.json" busybox "$ONE/scoped:1" >/dev/null ||
	fail "push from an accepted store"
expect_fail "$STRATA_BIN" --root "$TEST_TMP/r1" push -q --signature-policy "$P/scoped.json" "$ONE/busybox" "$ONE/scoped:2"
assert_one_line_error "$out"
assert_contains "$out" "rejected"
skopeo --policy "$P/scoped.json" copy -q --src-tls-verify=false "docker://$ONE/busybox:latest" "oci:$TEST_TMP/sk:x" ||
	fail "skopeo accepts the scope strata accepts"
# The user's policy.json comes before the system's; a broken one fails clearly.
echo '{"default": [{"type": "insecureAcceptAnything"}]}' >"$STRATA_SYSCONFDIR/containers/policy.json"
new
so pull -q "$ONE/busybox" >/dev/null || fail "pull under the system policy"
cp "$P/reject.json" "$HOME/.config/containers/policy.json"
new
expect_fail so pull -q "$ONE/busybox"
assert_contains "$out" "$HOME/.config/containers/policy.json"
echo '{"default": []}' >"$HOME/.config/containers/policy.json"
new
expect_fail so pull -q "$ONE/busybox"
assert_one_line_error "$out"
assert_contains "$out" "must not be empty"
rm -f "$HOME/.config/containers/policy.json"

# load judges its input too: docker-archive (the "" scope only), oci-archive
# (the resolved path and its parents), oci for a layout directory.
strata save -o "$TEST_TMP/saved.tar" busybox
strata save --format oci-archive -o "$TEST_TMP/saved-oci.tar" busybox
strata save --format oci-dir -o "$TEST_TMP/saved-dir" busybox
for input in saved.tar saved-oci.tar saved-dir; do
	new
	expect_fail so load -q --signature-policy "$P/reject.json" -i "$TEST_TMP/$input"
	assert_one_line_error "$out"
	assert_contains "$out" "strata: load: "
	assert_contains "$out" "rejected by the signature policy $P/reject.json"
	assert_eq "$rc" 125 "exit status of a rejected load of $input"
	[ ! -e "$R" ] || fail "a rejected load of $input wrote to the store"
done
new
expect_fail so load -q --signature-policy "$P/reject.json" <"$TEST_TMP/saved.tar"
assert_one_line_error "$out"
assert_contains "$out" "docker-archive: rejected"
assert_eq "$(last_images)" "[]" "a rejected load from stdin stored nothing"
cat >"$P/archives.json" <<EOF
{"default": [{"type": "reject"}],
 "transports": {
   "docker-archive": {"": [{"type": "insecureAcceptAnything"}]},
   "oci-archive": {"$(dirname "$(realpath "$TEST_TMP/saved-oci.tar")")": [{"type": "insecureAcceptAnything"}]}}}
EOF
new
so load -q --signature-policy "$P/archives.json" -i "$TEST_TMP/saved.tar" ||
	fail "load a docker archive its transport accepts"
assert_contains "$(last_images)" "busybox"
new
so load -q --signature-policy "$P/archives.json" -i "$TEST_TMP/saved-oci.tar" ||
	fail "load an OCI archive whose directory is accepted"
new
expect_fail so load -q --signature-policy "$P/archives.json" -i "$TEST_TMP/saved-dir"
assert_one_line_error "$out"
assert_contains "$out" "oci:$(realpath "$TEST_TMP/saved-dir"): rejected"
# The system policy (insecureAcceptAnything) applies without the option.
new
so load -q -i "$TEST_TMP/saved.tar" >/dev/null || fail "load under the system policy"
# skopeo gives the same verdicts on the same archives.
expect_fail skopeo --policy "$P/reject.json" copy "docker-archive:$TEST_TMP/saved.tar" "oci:$TEST_TMP/sk-load:x"
assert_contains "$out" "rejected by policy"
skopeo --policy "$P/archives.json" copy -q "docker-archive:$TEST_TMP/saved.tar" "oci:$TEST_TMP/sk-load:x" ||
	fail "skopeo accepts the docker archive strata accepts"
skopeo --policy "$P/archives.json" copy -q "oci-archive:$TEST_TMP/saved-oci.tar" "oci:$TEST_TMP/sk-load:y" ||
	fail "skopeo accepts the OCI archive strata accepts"

# ---- auth files: schemes and namespaces ----
htpasswd -Bbn alice pw-a >"$TEST_TMP/htpasswd"
htpasswd -Bbn bob pw-b >>"$TEST_TMP/htpasswd"
start_registry auth "auth:
  htpasswd:
    realm: strata-test
    path: $TEST_TMP/htpasswd"
AUTHREG=$REG
printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$AUTHREG" >"$CONTAINERS_REGISTRIES_CONF"
strata push -q --creds alice:pw-a busybox "$AUTHREG/team/app:1" >/dev/null || fail "push with --creds"
strata push -q --creds alice:pw-a busybox "$AUTHREG/other:1" >/dev/null || fail "push with --creds"
# login needs no --tls-verify=false: registries.conf says insecure.
strata login -u bob -p pw-b "$AUTHREG" >/dev/null || fail "login to an insecure registry of registries.conf"
assert_contains "$(cat "$XDG_RUNTIME_DIR/containers/auth.json")" "\"$AUTHREG\""
rm "$XDG_RUNTIME_DIR/containers/auth.json"
# A namespaced key beats the host's (wrong) one; other repositories get the host's.
a_ok=$(printf alice:pw-a | base64)
a_bad=$(printf alice:nope | base64)
printf '{"auths": {"https://%s": {"auth": "%s"}, "%s/team": {"auth": "%s"}}}\n' \
	"$AUTHREG" "$a_bad" "$AUTHREG" "$a_ok" >"$TEST_TMP/auth.json"
new
so pull -q --authfile "$TEST_TMP/auth.json" "$AUTHREG/team/app:1" >/dev/null ||
	fail "pull with the namespace's credentials"
new
expect_fail so pull -q --authfile "$TEST_TMP/auth.json" "$AUTHREG/other:1"
assert_one_line_error "$out"
assert_contains "$out" "401"
# The https:// key alone is the host's.
printf '{"auths": {"https://%s": {"auth": "%s"}}}\n' "$AUTHREG" "$a_ok" >"$TEST_TMP/auth.json"
new
so pull -q --authfile "$TEST_TMP/auth.json" "$AUTHREG/other:1" >/dev/null ||
	fail "pull with a key that has a scheme"

# ---- certs.d: CAs and a client certificate ----
K=$TEST_TMP/pki
mkdir -p "$K"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$K/ca.key" -out "$K/ca.crt" -days 2 \
	-subj /CN=strata-test-ca >/dev/null 2>&1 || fail "make the CA"
for who in srv client; do
	openssl req -newkey rsa:2048 -nodes -keyout "$K/$who.key" -out "$K/$who.csr" -subj "/CN=$who" \
		>/dev/null 2>&1 || fail "make the $who key"
done
printf 'subjectAltName=IP:127.0.0.1\n' >"$K/ext"
openssl x509 -req -in "$K/srv.csr" -CA "$K/ca.crt" -CAkey "$K/ca.key" -CAcreateserial \
	-out "$K/srv.crt" -days 2 -extfile "$K/ext" >/dev/null 2>&1 || fail "sign the server certificate"
openssl x509 -req -in "$K/client.csr" -CA "$K/ca.crt" -CAkey "$K/ca.key" -CAcreateserial \
	-out "$K/client.cert" -days 2 >/dev/null 2>&1 || fail "sign the client certificate"
REG_SCHEME=https
REG_CURL_ARGS="--cacert $K/ca.crt --cert $K/client.cert --key $K/client.key"
start_registry tls "  tls:
    certificate: $K/srv.crt
    key: $K/srv.key
    clientcas:
      - $K/ca.crt"
TLS=$REG
: >"$CONTAINERS_REGISTRIES_CONF"
CD=$HOME/.config/containers/certs.d/$TLS
mkdir -p "$CD"
cp "$K/ca.crt" "$CD/0-ca.crt"
# The CA alone: the server wants a client certificate.
expect_fail strata push -q busybox "$TLS/busybox:1"
assert_one_line_error "$out"
cp "$K/client.cert" "$K/client.key" "$CD/"
strata push -q busybox "$TLS/busybox:1" >/dev/null || fail "push with a client certificate from certs.d"
new
so pull -q "$TLS/busybox:1" >/dev/null || fail "pull with a client certificate from certs.d"
# A .cert without its .key is an error, as in containers/image.
rm "$CD/client.key"
new
expect_fail so pull -q "$TLS/busybox:1"
assert_one_line_error "$out"
assert_contains "$out" "has no key"
# The system's certs.d when the user has none; --cert-dir beats both.
mv "$CD" "$TEST_TMP/certs-moved"
mkdir -p "$STRATA_SYSCONFDIR/containers/certs.d/$TLS"
cp "$K/ca.crt" "$K/client.cert" "$K/client.key" "$STRATA_SYSCONFDIR/containers/certs.d/$TLS/"
new
so pull -q "$TLS/busybox:1" >/dev/null || fail "pull with the system's certs.d"
new
expect_fail so pull -q --cert-dir "$TEST_TMP/certs-moved" "$TLS/busybox:1"
assert_contains "$out" "has no key"
assert_fsck_clean
