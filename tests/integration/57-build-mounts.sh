# RUN --mount as real Dockerfiles use it: dependency caches (Go, pip, npm,
# apt with sharing=locked) that persist across builds and strata processes
# and never reach a layer or a step's key; lockfiles bind-mounted from the
# context with targets relative to WORKDIR; binds from a stage and an
# image; rw binds whose writes are dropped; tmpfs with its size enforced;
# two builds racing on one locked cache id; private caches; prune; errors.
. "${0%/*}/../lib.sh"
require_root "builds run containers and mount overlays"

import_busybox
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
ran() { printf '%s\n' "$1" | grep -v 'STEP [0-9]' || true; }
files() { strata export "$1" | tar -t | sort; }

# --- Go: module and build caches, lockfiles bound with relative targets ---
mkdir -p "$ctx/go"
printf 'module example.com/app\nrequire example.com/dep v1.2.3\n' >"$ctx/go/go.mod"
printf 'example.com/dep v1.2.3 h1:abc\n' >"$ctx/go/go.sum"
echo 'package main // v1' >"$ctx/go/main.go"
cat >"$ctx/go/Dockerfile" <<'X'
# syntax=docker/dockerfile:1.7
FROM busybox AS build
WORKDIR /src
ENV GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=bind,source=go.mod,target=go.mod \
    if [ -e $GOMODCACHE/example.com/dep@v1.2.3/dep.go ]; then echo DEPS-WARM; \
    else echo DEPS-DOWNLOADED; mkdir -p $GOMODCACHE/example.com/dep@v1.2.3 && \
         grep require go.mod >$GOMODCACHE/example.com/dep@v1.2.3/dep.go; fi
COPY main.go .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    test -s $GOMODCACHE/example.com/dep@v1.2.3/dep.go && \
    echo "built $(cat main.go) $(ls $GOCACHE | wc -l)" >/app && date +%s%N >>$GOCACHE/obj-$RANDOM
FROM busybox
COPY --from=build /app /app
X
out=$(strata build -t goapp "$ctx/go")
assert_contains "$(ran "$out")" DEPS-DOWNLOADED
assert_eq "$(strata run --rm goapp cat /app)" "built package main // v1 0"
# Neither the caches nor the lockfile mount points are in any layer.
strata build -q --target build -t gobuild "$ctx/go" >/dev/null
f=$(files gobuild)
assert_not_contains "$f" "go/pkg"
assert_not_contains "$f" "root/.cache"
assert_not_contains "$f" "src/go.mod"
assert_not_contains "$f" "src/go.sum"
assert_contains "$f" "src/main.go"
# Only the source changed: the dependency step is cached, the build step
# reruns against the warm caches (another strata process).
echo 'package main // v2' >"$ctx/go/main.go"
out=$(strata build -t goapp "$ctx/go")
assert_not_contains "$(ran "$out")" DEPS-
assert_eq "$(strata run --rm goapp cat /app)" "built package main // v2 1"
# A changed lockfile reruns the dependency step, which finds the cache warm.
echo 'example.com/dep v1.2.3 h1:def' >"$ctx/go/go.sum"
out=$(strata build -t goapp "$ctx/go")
assert_contains "$(ran "$out")" DEPS-WARM
# The cache's content is no input: a rebuild after it changed is all hits.
out=$(strata build "$ctx/go")
assert_not_contains "$(ran "$out")" DEPS-

# --- pip and npm: caches owned by the build user, ids shared across recipes ---
mkdir -p "$ctx/py"
echo 'requests==2.31.0' >"$ctx/py/requirements.txt"
cat >"$ctx/py/Dockerfile" <<'X'
FROM busybox
RUN echo 'app:x:1000:1000::/home/app:/bin/sh' >>/etc/passwd && mkdir -p /home/app && chown 1000:1000 /home/app
USER 1000
WORKDIR /home/app
RUN --mount=type=cache,target=/home/app/.cache/pip,uid=1000,gid=1000,mode=0700,id=pip \
    --mount=type=bind,source=requirements.txt,target=requirements.txt \
    stat -c '%u:%g %a' /home/app/.cache/pip && \
    cp requirements.txt /home/app/.cache/pip/wheel-$(cut -d= -f3 requirements.txt) && \
    ls /home/app/.cache/pip >installed
X
out=$(strata build -t pyapp "$ctx/py")
assert_contains "$out" "1000:1000 700"
assert_eq "$(strata run --rm pyapp cat /home/app/installed)" "wheel-2.31.0"
cat >"$ctx/py/Dockerfile.npm" <<'X'
FROM busybox
WORKDIR /usr/src/app
RUN --mount=type=cache,id=pip,target=/root/.npm,uid=1000 ls /root/.npm >/seen
X
strata build -q -f "$ctx/py/Dockerfile.npm" -t npmapp "$ctx/py" >/dev/null
assert_eq "$(strata run --rm npmapp cat /seen)" "wheel-2.31.0"

# --- cargo: a locked registry cache, a target dir cache keyed by an ARG,
# the binary copied out of the cache (which no layer holds) ---
mkdir -p "$ctx/rust/src"
printf '[package]\nname = "app"\n' >"$ctx/rust/Cargo.toml"
printf 'fn main() {}\n' >"$ctx/rust/src/main.rs"
cat >"$ctx/rust/Dockerfile" <<'X'
FROM busybox
ARG TARGETARCH
WORKDIR /app
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/app/target,id=target-${TARGETARCH:-none} \
    n=$(ls /app/target | wc -l) && echo "compiled-$n" >/app/target/app-$n && \
    touch /usr/local/cargo/registry/index && mkdir -p /usr/local/bin && \
    cp /app/target/app-$n /usr/local/bin/app
X
strata build -q -t rs1 "$ctx/rust" >/dev/null
echo '// changed' >>"$ctx/rust/src/main.rs"
strata build -q -t rs2 "$ctx/rust" >/dev/null
assert_eq "$(strata run --rm rs1 cat /usr/local/bin/app)" "compiled-0"
assert_eq "$(strata run --rm rs2 cat /usr/local/bin/app)" "compiled-1" "incremental target dir"
assert_eq "$(for i in "$ROOT"/buildcache/*.id; do cat "$i"; echo; done | grep -c "^target-$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')\$" || true)" 1 \
	"the cache id expanded with TARGETARCH"
f=$(files rs2)
assert_not_contains "$f" "app/target/"
assert_not_contains "$f" "cargo/registry"

# --- apt: two locked caches, a relative cache target, --network, a heredoc ---
mkdir -p "$ctx/apt"
cat >"$ctx/apt/Dockerfile" <<'X'
FROM busybox
WORKDIR /work
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt,sharing=locked \
    --mount=type=cache,target=rel-cache \
    --network=none <<EOF
set -e
n=$(ls /var/cache/apt | wc -l)
echo "archive-$n" >/var/cache/apt/pkg-$n.deb
touch /var/lib/apt/lists-updated /work/rel-cache/x
ls /var/cache/apt | wc -l >/count
EOF
X
strata build -q -t apt1 "$ctx/apt" >/dev/null
strata build -q --no-cache -t apt2 "$ctx/apt" >/dev/null
assert_eq "$(strata run --rm apt1 cat /count)" 1
assert_eq "$(strata run --rm apt2 cat /count)" 2
f=$(files apt2)
assert_not_contains "$f" "var/cache/apt/pkg"
assert_not_contains "$f" "lists-updated"
assert_not_contains "$f" "work/rel-cache"

# --- maven, yarn with a private registry token, uv: multi-stage builds whose
# dependency step reads only its lockfiles (bound), so a change of the
# sources reruns only the compile step, and a change of a lockfile reruns
# the dependency step against the warm cache ---
mkdir -p "$ctx/mvn/src" "$ctx/yarn/src" "$ctx/uv/app"
echo '<project><version>1</version></project>' >"$ctx/mvn/pom.xml"
echo 'class App {}' >"$ctx/mvn/src/App.java"
cat >"$ctx/mvn/Dockerfile" <<'X'
FROM busybox AS build
WORKDIR /build
RUN --mount=type=cache,target=/root/.m2 \
    --mount=type=bind,source=pom.xml,target=pom.xml \
    if [ -e /root/.m2/repository/dep.jar ]; then echo M2-WARM; else echo M2-COLD; \
    mkdir -p /root/.m2/repository && echo jar >/root/.m2/repository/dep.jar; fi && \
    cp /root/.m2/repository/dep.jar /build/dep.jar
COPY src src
RUN echo COMPILE && cat src/App.java dep.jar >app.jar
FROM busybox
COPY --from=build /build/app.jar /app.jar
X
echo '{"dependencies":{"left-pad":"1.3.0"}}' >"$ctx/yarn/package.json"
echo 'left-pad@1.3.0' >"$ctx/yarn/yarn.lock"
echo 'console.log(1)' >"$ctx/yarn/src/index.js"
printf '//registry.example.com/:_authToken=NPM-TOKEN-%s\n' "$$" >"$TEST_TMP/npmrc"
cat >"$ctx/yarn/Dockerfile" <<'X'
FROM busybox AS deps
WORKDIR /usr/src/app
RUN --mount=type=bind,source=package.json,target=package.json \
    --mount=type=bind,source=yarn.lock,target=yarn.lock \
    --mount=type=secret,id=npmrc,target=/root/.npmrc,required \
    --mount=type=cache,target=/usr/local/share/.cache/yarn,sharing=locked \
    grep -q _authToken /root/.npmrc && c=/usr/local/share/.cache/yarn && \
    { [ -e $c/left-pad ] && echo YARN-WARM || { echo YARN-COLD; echo pad >$c/left-pad; }; } && \
    mkdir -p node_modules && cp $c/left-pad node_modules/
FROM deps AS app
COPY src src
RUN echo COMPILE && cat src/index.js >bundle.js
X
printf '[project]\nname = "app"\n' >"$ctx/uv/pyproject.toml"
echo 'httpx==0.27.0' >"$ctx/uv/uv.lock"
echo 'print(1)' >"$ctx/uv/app/main.py"
cat >"$ctx/uv/Dockerfile" <<'X'
FROM busybox AS builder
ENV UV_CACHE_DIR=/root/.cache/uv
WORKDIR /app
RUN --mount=type=cache,target=/root/.cache/uv \
    --mount=type=bind,source=uv.lock,target=uv.lock \
    --mount=type=bind,source=pyproject.toml,target=pyproject.toml \
    { [ -e $UV_CACHE_DIR/httpx ] && echo UV-WARM || { echo UV-COLD; echo wheel >$UV_CACHE_DIR/httpx; }; } && \
    mkdir -p .venv && cp $UV_CACHE_DIR/httpx .venv/
COPY app app
RUN echo COMPILE && cp app/main.py .venv/
FROM busybox
COPY --from=builder /app/.venv /app/.venv
X
for app in mvn yarn uv; do
	tag=$(echo "$app" | tr a-z A-Z)
	[ "$app" = mvn ] && tag=M2
	extra=""
	[ "$app" = yarn ] && extra="--secret id=npmrc,src=$TEST_TMP/npmrc"
	# shellcheck disable=SC2086
	out=$(strata build $extra -t "$app-1" "$ctx/$app")
	assert_contains "$(ran "$out")" "$tag-COLD"
	assert_contains "$(ran "$out")" COMPILE
	echo '// changed' >>"$(find "$ctx/$app" -path '*/src/*' -o -path '*/app/*' | grep -v '/$' | head -1)"
	# shellcheck disable=SC2086
	out=$(strata build $extra -t "$app-2" "$ctx/$app")
	assert_not_contains "$(ran "$out")" "$tag-" "$app: the dependency step reran for a source change"
	assert_contains "$(ran "$out")" COMPILE
	case $app in mvn) lock=pom.xml ;; yarn) lock=yarn.lock ;; uv) lock=uv.lock ;; esac
	echo '# changed' >>"$ctx/$app/$lock"
	# shellcheck disable=SC2086
	out=$(strata build $extra -t "$app-3" "$ctx/$app")
	assert_contains "$(ran "$out")" "$tag-WARM" "$app: the dependency step after a lockfile change"
done
assert_eq "$(strata run --rm mvn-3 cat /app.jar | tr '\n' ' ')" "class App {} // changed jar "
assert_eq "$(strata run --rm yarn-3 cat /usr/src/app/node_modules/left-pad)" pad
assert_eq "$(strata run --rm yarn-3 ls -A /root)" "" "the .npmrc secret left no file"
assert_eq "$(strata run --rm uv-3 cat /app/.venv/httpx)" wheel
if grep -rqs "NPM-TOKEN-$$" "$ROOT"; then fail "the npmrc secret is in the store"; fi

# --- two builds racing on one locked id: one waits for the other ---
mkdir -p "$ctx/race"
cat >"$ctx/race/Dockerfile" <<'X'
FROM busybox
ARG WHO
RUN --mount=type=cache,id=race,target=/c,sharing=locked \
    if [ -e /c/busy ]; then echo OVERLAP; exit 1; fi; \
    touch /c/busy; echo "$WHO start" >>/c/log; sleep 1; echo "$WHO end" >>/c/log; rm /c/busy
X
strata build -q --build-arg WHO=a "$ctx/race" >"$TEST_TMP/a.out" 2>&1 &
pa=$!
track_pid $pa
strata build -q --build-arg WHO=b "$ctx/race" >"$TEST_TMP/b.out" 2>&1 &
pb=$!
track_pid $pb
wait $pa || fail "racing build a: $(cat "$TEST_TMP/a.out")"
wait $pb || fail "racing build b: $(cat "$TEST_TMP/b.out")"
cat >"$ctx/race/Dockerfile.log" <<'X'
FROM busybox
RUN --mount=type=cache,id=race,target=/c cat /c/log >/log
X
strata build -q -f "$ctx/race/Dockerfile.log" -t racelog "$ctx/race" >/dev/null
log=$(strata run --rm racelog cat /log | cut -d' ' -f2 | tr '\n' ' ')
assert_eq "$log" "start end start end " "locked steps in sequence"

# Whoever holds the lock (here this shell, on fd 9) makes a locked step wait.
hex=$(printf %s race | sha256sum | cut -d' ' -f1)
exec 9>"$ROOT/buildcache/$hex.0.lock"
flock -x 9
strata build -q --build-arg WHO=c "$ctx/race" >/dev/null 9>&- &
pc=$!
track_pid $pc
sleep 2
kill -0 $pc 2>/dev/null || fail "a locked step did not wait for the lock's holder"
# (flock -u: the background subshell keeps a copy of fd 9, closing ours would not unlock)
flock -u 9
exec 9>&-
wait $pc || fail "the locked step failed once the lock was free"

# --- private: a step finding the cache in use gets a dir of its own ---
cat >"$ctx/race/Dockerfile.priv" <<'X'
FROM busybox
ARG WHO
RUN --mount=type=cache,id=priv,target=/c,sharing=private touch /c/$WHO; ls /c | tr '\n' ' ' >/seen
X
strata build -q -t pa --build-arg WHO=a -f "$ctx/race/Dockerfile.priv" "$ctx/race" >/dev/null
hex=$(printf %s priv | sha256sum | cut -d' ' -f1)
exec 9>"$ROOT/buildcache/$hex.0.lock"
flock -x 9
strata build -q -t pb --build-arg WHO=b -f "$ctx/race/Dockerfile.priv" "$ctx/race" >/dev/null 9>&-
strata build -q -t pc --build-arg WHO=c -f "$ctx/race/Dockerfile.priv" "$ctx/race" >/dev/null 9>&-
flock -u 9
exec 9>&-
strata build -q -t pd --build-arg WHO=d -f "$ctx/race/Dockerfile.priv" "$ctx/race" >/dev/null
assert_eq "$(strata run --rm pa cat /seen)" "a "
assert_eq "$(strata run --rm pb cat /seen)" "b "
assert_eq "$(strata run --rm pc cat /seen)" "b c " "the second dir while the first is held"
assert_eq "$(strata run --rm pd cat /seen)" "a d " "the first dir once free"

# --- binds from a stage, an image and the context; rw; ignore file ---
mkdir -p "$ctx/bind/sub"
echo in-context >"$ctx/bind/sub/file"
echo secret-ish >"$ctx/bind/ignored.txt"
printf 'ignored.txt\n' >"$ctx/bind/.dockerignore"
cat >"$ctx/bind/Dockerfile" <<'X'
FROM busybox AS tools
RUN mkdir -p /opt/seed && echo tool >/tool && echo seeded >/opt/seed/s
FROM busybox
WORKDIR /w
RUN --mount=type=bind,from=tools,source=/tool,target=/usr/local/bin/tool \
    --mount=type=bind,from=busybox,source=/bin,target=/busybox-bin \
    --mount=type=bind,target=ctx \
    --mount=type=cache,target=/seeded,from=tools,source=/opt/seed \
    cat /usr/local/bin/tool >/w/out && test -x /busybox-bin/sh && cat ctx/sub/file >>/w/out && \
    cat /seeded/s >>/w/out && { test ! -e ctx/ignored.txt && echo no-ignored >>/w/out; } && \
    { touch ctx/x 2>/dev/null && echo WRITABLE || echo read-only; } >>/w/out
RUN --mount=type=bind,source=sub,target=/rw,rw \
    echo changed >/rw/file && echo new >/rw/new && cat /rw/file >>/w/out
RUN --mount=type=bind,source=sub,target=/rw cat /rw/file >>/w/out && test ! -e /rw/new
X
strata build -q -t bound "$ctx/bind" >/dev/null
assert_eq "$(strata run --rm bound cat /w/out | tr '\n' ' ')" \
	"tool in-context seeded no-ignored read-only changed in-context "
assert_eq "$(cat "$ctx/bind/sub/file")" in-context "rw bind left the context alone"
assert_not_exists "$ctx/bind/sub/new"
# The rw bind of a filtered context wrote to the filtered copy: no second copy,
# and nothing of either left in ROOT/tmp.
assert_eq "$(ls -A "$ROOT/tmp")" "" "what the build left in ROOT/tmp"
f=$(files bound)
assert_not_contains "$f" "usr/local/bin/tool"
assert_not_contains "$f" "busybox-bin"
assert_not_contains "$f" "w/ctx"
assert_not_contains "$f" "seeded"
# A changed bind source reruns its step.
echo in-context-2 >"$ctx/bind/sub/file"
assert_eq "$(strata build "$ctx/bind" | grep -c 'Using cache' || true)" 2 "hits after a bind source changed"

# --- tmpfs: a size limit holds ---
cat >"$ctx/bind/Dockerfile.tmpfs" <<'X'
FROM busybox
RUN --mount=type=tmpfs,target=/t,size=64k dd if=/dev/zero of=/t/f bs=1k count=32 && \
    ! dd if=/dev/zero of=/t/g bs=1k count=64 2>/dev/null && test ! -e /t/none && df /t | tail -1 >/df
X
strata build -q -t tmpfs -f "$ctx/bind/Dockerfile.tmpfs" "$ctx/bind" >/dev/null
assert_contains "$(strata run --rm tmpfs cat /df)" " 64 "
assert_not_contains "$(files tmpfs)" "t/f"

# --- errors name FILE:LINE, one line, exit 125 ---
for m in 'type=cache,target=/c,foo=1' 'type=nfs,target=/c' 'type=cache,sharing=maybe,target=/c' \
	'type=cache' 'type=tmpfs,target=/t,size=lots' 'type=bind,target=/b,ro=perhaps' \
	'type=cache,target=/c,mode=99' 'type=tmpfs,target=/t,from=x' 'type=bind,target=/b,rw,ro'; do
	printf 'FROM busybox\n\nRUN --mount=%s true\n' "$m" >"$ctx/Dockerfile.bad"
	set +e
	e=$(strata build -f "$ctx/Dockerfile.bad" "$ctx" 2>&1 >/dev/null)
	rc=$?
	set -e
	assert_eq "$rc" 125 "exit status for --mount=$m"
	assert_one_line_error "$e"
	assert_contains "$e" "Dockerfile.bad:3: RUN --mount '$m'"
done
printf 'FROM busybox\nARG T=nfs\nRUN --mount=type=$T,target=/c true\n' >"$ctx/Dockerfile.bad"
e=$(strata build -f "$ctx/Dockerfile.bad" "$ctx" 2>&1 >/dev/null) && fail "type=\$T=nfs accepted"
assert_contains "$e" "Dockerfile.bad:3:"
assert_contains "$e" "unsupported mount type 'nfs'"
printf 'FROM busybox\nRUN --mount=type=bind,from=nosuch,target=/x true\n' >"$ctx/Dockerfile.bad"
e=$(strata build -f "$ctx/Dockerfile.bad" "$ctx" 2>&1 >/dev/null) && fail "from=nosuch accepted"
assert_one_line_error "$e"
assert_contains "$e" "Dockerfile.bad:2:"

# --- gc keeps the cache dirs, builder prune frees them ---
strata gc >/dev/null
assert_exists "$ROOT/buildcache"
n=$(ls "$ROOT/buildcache" | grep -c '\.lock$')
[ "$n" -ge 8 ] || fail "expected the cache dirs, found $n"
out=$(strata builder prune)
assert_contains "$out" "cache mount '/go/pkg/mod'"
assert_contains "$out" "cache mount 'race'"
assert_eq "$(ls "$ROOT/buildcache" | wc -l)" 0 "buildcache after prune"
assert_fsck_clean
