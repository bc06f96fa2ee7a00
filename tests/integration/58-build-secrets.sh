# Build secrets and ssh agents: a step reads a secret given with --secret
# (a file or an environment variable) at /run/secrets/ID, at its own
# target with mode and owner, or in an environment variable; the secret's
# bytes are nowhere in the store afterwards (layers, configs, history,
# cache entries) nor in the build's output; only its presence keys the
# step. A step reaches the ssh agent forwarded with --ssh (ssh-add -l), or
# an agent strata runs for a key file.
. "${0%/*}/../lib.sh"
require_root "builds run containers and mount overlays"
require_cmd ssh-agent
require_cmd ssh-add
require_cmd ssh-keygen

import_busybox
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
ran() { printf '%s\n' "$1" | grep -v 'STEP [0-9]' || true; }

secret="s3cr3t-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '%s' "$secret" >"$TEST_TMP/token"
hash=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)
cat >"$ctx/Dockerfile" <<'X'
FROM busybox
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >>/etc/passwd
# a registry token used to fetch dependencies, never kept
RUN --mount=type=secret,id=token,required \
    echo RAN-TOKEN && sha256sum /run/secrets/token | cut -d' ' -f1 >/token.sha && \
    stat -c '%a %u' /run/secrets/token >/token.stat
RUN --mount=type=secret,id=token,target=/home/app/.netrc,mode=0440,uid=1000,gid=1000 \
    stat -c '%a %u:%g' /home/app/.netrc >/netrc.stat && test "$(whoami)" = root
RUN --mount=type=secret,id=token,env=API_TOKEN \
    printf %s "$API_TOKEN" | sha256sum | cut -d' ' -f1 >/env.sha && test ! -e /run/secrets/token
RUN --mount=type=secret,id=absent echo "absent: $(ls /run/secrets 2>/dev/null | wc -l)" >/absent
X
out=$(strata build -t sec --secret id=token,src="$TEST_TMP/token" "$ctx" 2>&1)
assert_contains "$out" RAN-TOKEN
assert_eq "$(strata run --rm sec cat /token.sha)" "$hash" "secret at /run/secrets/ID"
assert_eq "$(strata run --rm sec cat /token.stat)" "400 0"
assert_eq "$(strata run --rm sec cat /netrc.stat)" "440 1000:1000"
assert_eq "$(strata run --rm sec cat /env.sha)" "$hash" "secret in env="
assert_eq "$(strata run --rm sec cat /absent)" "absent: 0"
f=$(strata export sec | tar -t)
assert_not_contains "$f" "run/secrets"
assert_not_contains "$f" ".netrc"
# Nowhere in the store: layers (compressed and unpacked), configs,
# history, cache entries; nor in what the build printed.
assert_not_contains "$out" "$secret"
if grep -r -a -l -F "$secret" "$ROOT" >/dev/null 2>&1; then
	fail "the secret is in the store: $(grep -r -a -l -F "$secret" "$ROOT")"
fi
for b in "$ROOT"/blobs/sha256/*; do
	if gzip -dc "$b" 2>/dev/null | grep -a -q -F "$secret"; then fail "secret in layer $b"; fi
done
assert_not_contains "$(strata inspect sec)" "$secret"
assert_not_contains "$(strata history --no-trunc sec)" "$secret"
# No secret left on the tmpfs either.
assert_eq "$(ls -d /dev/shm/strata-secrets-* 2>/dev/null | wc -l)" 0 "secret dirs left"

# Only the presence keys the step: another value is a cache hit.
printf 'other-value' >"$TEST_TMP/token2"
out=$(strata build --secret id=token,src="$TEST_TMP/token2" "$ctx" 2>&1)
assert_not_contains "$(ran "$out")" RAN-TOKEN
# From an environment variable.
out=$(TOKEN_VAR=$secret strata build --no-cache --secret id=token,env=TOKEN_VAR "$ctx" 2>&1)
assert_contains "$out" RAN-TOKEN
# A required secret missing, bad --secret values: one line each, exit 125.
set +e
e=$(strata build "$ctx" 2>&1 >/dev/null)
rc=$?
set -e
assert_eq "$rc" 125
assert_one_line_error "$e"
assert_contains "$e" "Dockerfile:4: RUN: secret 'token' is required"
for bad in "src=$TEST_TMP/token" "id=token" "id=t,src=/x,env=Y" "id=t,file=/x" \
	"id=t,src=$TEST_TMP/nonexistent"; do
	set +e
	e=$(strata build --secret "$bad" "$ctx" 2>&1 >/dev/null)
	rc=$?
	set -e
	assert_eq "$rc" 125 "--secret $bad"
	assert_one_line_error "$e"
	assert_contains "$e" "secret"
done

# --- ssh: the agent forwarded into the step ---
# An image with ssh-add (and the libraries it links) beside busybox.
img=$TEST_TMP/sshimg
mkdir -p "$img/usr/bin"
cp /usr/bin/ssh-add "$img/usr/bin/"
for l in $(ldd /usr/bin/ssh-add | grep -o '/[^ ]*'); do
	mkdir -p "$img$(dirname "$l")"
	cp -L "$l" "$img$l"
done
tar -C "$img" -cf "$TEST_TMP/ssh.tar" .
mkdir -p "$ctx/ssh"
cp "$TEST_TMP/ssh.tar" "$ctx/ssh/"
cat >"$ctx/ssh/Dockerfile" <<'X'
FROM busybox
ADD ssh.tar /
RUN --mount=type=ssh ssh-add -l >/keys 2>&1; echo "sock=$SSH_AUTH_SOCK" >>/keys
RUN --mount=type=ssh,id=deploy,target=/agent.sock SSH_AUTH_SOCK=/agent.sock ssh-add -l >/deploy
X
ssh-keygen -q -t ed25519 -N '' -C strata-test-key -f "$TEST_TMP/id" >/dev/null
sock=$TEST_TMP/agent.sock
eval "$(ssh-agent -a "$sock" -s)" >/dev/null
track_pid "$SSH_AGENT_PID"
ssh-add -q "$TEST_TMP/id" 2>/dev/null
strata build -q -t sshimg --ssh default --ssh deploy="$sock" "$ctx/ssh" >/dev/null
keys=$(strata run --rm sshimg cat /keys)
assert_contains "$keys" "strata-test-key (ED25519)"
assert_contains "$keys" "sock=/run/buildkit/ssh_agent.0"
assert_contains "$(strata run --rm sshimg cat /deploy)" "strata-test-key"
# A key file: loaded into an agent of strata's own for the build, gone after it.
ssh-keygen -q -t ed25519 -N '' -C strata-file-key -f "$TEST_TMP/id2" >/dev/null
strata build -q --no-cache -t sshimg2 --ssh default="$TEST_TMP/id2" --ssh deploy="$sock" \
	"$ctx/ssh" >/dev/null
assert_contains "$(strata run --rm sshimg2 cat /keys)" "strata-file-key (ED25519)"
assert_not_contains "$(strata run --rm sshimg2 cat /keys)" "strata-test-key"
assert_eq "$(ls -d /tmp/strata-ssh-* 2>/dev/null | wc -l)" 0 "agent dirs left"
f=$(strata export sshimg | tar -t)
assert_not_contains "$f" "run/buildkit"
assert_not_contains "$f" "agent.sock"
# required without --ssh fails; a path that is no socket is refused.
printf 'FROM busybox\nRUN --mount=type=ssh,required true\n' >"$ctx/ssh/Dockerfile.req"
set +e
e=$(SSH_AUTH_SOCK='' strata build -f "$ctx/ssh/Dockerfile.req" "$ctx/ssh" 2>&1 >/dev/null)
rc=$?
set -e
assert_eq "$rc" 125
assert_contains "$e" "ssh agent 'default' is required"
set +e
e=$(strata build --ssh default="$TEST_TMP" -f "$ctx/ssh/Dockerfile.req" "$ctx/ssh" 2>&1 >/dev/null)
rc=$?
set -e
assert_eq "$rc" 125
assert_one_line_error "$e"
assert_contains "$e" "is not an agent socket"
printf 'FROM busybox\nRUN --mount=type=ssh,uid=1000 true\n' >"$ctx/ssh/Dockerfile.uid"
set +e
e=$(strata build -f "$ctx/ssh/Dockerfile.uid" "$ctx/ssh" 2>&1 >/dev/null)
rc=$?
set -e
assert_eq "$rc" 125
assert_one_line_error "$e"
assert_contains "$e" "Dockerfile.uid:2: RUN: type=ssh: uid, gid and mode are not supported"
kill "$SSH_AGENT_PID"
assert_fsck_clean
