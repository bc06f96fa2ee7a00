#!/bin/sh
# strata build against buildah bud on the same 10-step recipe FROM the same
# busybox base: a cold build (base present, nothing cached) and a fully
# cached rebuild. buildah uses its overlay driver and runc, --layers. Then
# the cost of RUN --mount=type=cache per step, for both, and a rebuild whose
# changed source reruns a dependency step against its warm cache mount.
. "$(dirname "$0")/lib.sh"
command -v buildah >/dev/null || { echo "bench: buildah missing (make deps)" >&2; exit 1; }

ctx=$BENCH_TMP/ctx
mkdir -p "$ctx/src"
for i in 1 2 3 4 5 6 7 8; do head -c 20000 /dev/urandom | base64 >"$ctx/src/file$i.txt"; done
echo "config" >"$ctx/app.conf"
cat >"$ctx/Containerfile" <<'X'
FROM busybox
ENV APP=/app LANG=C.UTF-8
WORKDIR /app
COPY src/ ./src/
RUN cat src/*.txt | wc -c >size.txt
RUN mkdir -p /var/lib/app && echo ready >/var/lib/app/state
COPY app.conf /etc/app.conf
LABEL org.example.bench=build
RUN ls -la /app >/app/listing.txt
EXPOSE 8080
CMD ["sh", "-c", "cat /app/size.txt"]
X

sroot=$BENCH_TMP/strata
broot=$BENCH_TMP/buildah
s() { "$STRATA_BIN" --root "$sroot" "$@"; }
b() { buildah --root "$broot/root" --runroot "$broot/run" --storage-driver overlay "$@"; }
bench_on_cleanup "buildah --root '$broot/root' --runroot '$broot/run' --storage-driver overlay rm -a >/dev/null 2>&1; buildah --root '$broot/root' --runroot '$broot/run' --storage-driver overlay rmi -a -f >/dev/null 2>&1"

tar=$BENCH_TMP/busybox.tar
"$BENCH_TOP/fixtures/busybox/make-rootfs.sh" "$tar" >/dev/null
s import --change 'CMD ["sh"]' "$tar" busybox >/dev/null
umoci init --layout "$BENCH_TMP/layout" >/dev/null
umoci new --image "$BENCH_TMP/layout:busybox" >/dev/null
umoci raw add-layer --image "$BENCH_TMP/layout:busybox" "$tar" >/dev/null
skopeo copy -q "oci:$BENCH_TMP/layout:busybox" \
	"containers-storage:[overlay@$broot/root+$broot/run]localhost/busybox:latest"

bud="bud --runtime runc --layers -q"
set -- $(bench_pair "'$STRATA_BIN' --root '$sroot' build -q --no-cache '$ctx'" \
	"b $bud --no-cache '$ctx'")
cold_s=$1 cold_b=$2
s build -q "$ctx" >/dev/null
# shellcheck disable=SC2086
b $bud "$ctx" >/dev/null
set -- $(bench_pair "'$STRATA_BIN' --root '$sroot' build -q '$ctx'" "b $bud '$ctx'")
warm_s=$1 warm_b=$2
rss_s=$(bench_rss "$STRATA_BIN" --root "$sroot" build -q --no-cache "$ctx")

# RUN --mount=type=cache: five RUN steps with a cache mount each against the
# same five without; the mount may cost at most 5 ms a step.
mk() { printf 'FROM busybox\n'; for i in 1 2 3 4 5; do printf 'RUN %s echo %s >/f%s\n' "$1" $i $i; done; }
mk "" >"$ctx/Containerfile.plain"
mk "--mount=type=cache,target=/root/.cache" >"$ctx/Containerfile.cache"
sb() { echo "'$STRATA_BIN' --root '$sroot' build -q --no-cache -f '$ctx/Containerfile.$1' '$ctx'"; }
set -- $(bench_pair "$(sb cache)" "$(sb plain)")
mount_s=$1 plain_s=$2
set -- $(bench_pair "b $bud --no-cache -f '$ctx/Containerfile.cache' '$ctx'" \
	"b $bud --no-cache -f '$ctx/Containerfile.plain' '$ctx'")
mount_b=$1 plain_b=$2
step_s=$(awk -v a="$mount_s" -v b="$plain_s" 'BEGIN { printf "%.4f", (a - b) / 5 }')
step_b=$(awk -v a="$mount_b" -v b="$plain_b" 'BEGIN { printf "%.4f", (a - b) / 5 }')

# A rebuild where only the source changed: the dependency step comes after
# the source's COPY, so it runs again, against its warm cache mount (a cold
# cache costs it 1 s, the stand-in for a download of dependencies).
mkdir -p "$BENCH_TMP/warm"
echo 0 >"$BENCH_TMP/warm/main.src"
cat >"$BENCH_TMP/warm/Containerfile" <<'X'
FROM busybox
COPY main.src /src/main.src
RUN --mount=type=cache,target=/deps sh -c 'test -f /deps/fetched || { sleep 1; touch /deps/fetched; }; cat /src/main.src >/built'
X
s build -q "$BENCH_TMP/warm" >/dev/null
# shellcheck disable=SC2086
b $bud "$BENCH_TMP/warm" >/dev/null
cat >"$BENCH_TMP/warm-strata.sh" <<X
date +%N >"$BENCH_TMP/warm/main.src" && "$STRATA_BIN" --root "$sroot" build -q "$BENCH_TMP/warm"
X
cat >"$BENCH_TMP/warm-buildah.sh" <<X
date +%N >"$BENCH_TMP/warm/main.src" &&
	buildah --root "$broot/root" --runroot "$broot/run" --storage-driver overlay $bud "$BENCH_TMP/warm"
X
set -- $(bench_pair "sh '$BENCH_TMP/warm-strata.sh'" "sh '$BENCH_TMP/warm-buildah.sh'")
dep_s=$1 dep_b=$2

bench_header "build of a 10-step recipe FROM busybox" "strata (s)" "buildah (s)" "strata/buildah"
bench_row "cold (base present, no cache)" "$cold_s" "$cold_b" "$(bench_ratio "$cold_s" "$cold_b")"
bench_row "fully cached rebuild" "$warm_s" "$warm_b" "$(bench_ratio "$warm_s" "$warm_b")"
bench_row "peak RSS of a cold build (MB)" "$rss_s" "" ""
bench_row "5 RUN steps, a cache mount each" "$mount_s" "$mount_b" "$(bench_ratio "$mount_s" "$mount_b")"
bench_row "the same 5 RUN steps without" "$plain_s" "$plain_b" "$(bench_ratio "$plain_s" "$plain_b")"
bench_row "cost of a cache mount per step" "$step_s" "$step_b" ""
bench_row "source changed, dependency step on its warm cache mount" "$dep_s" "$dep_b" "$(bench_ratio "$dep_s" "$dep_b")"

ok=0
awk -v a="$cold_s" -v b="$cold_b" 'BEGIN { exit !(a <= b) }' || { echo "bench: cold build slower than buildah" >&2; ok=1; }
awk -v a="$warm_s" 'BEGIN { exit !(a <= 0.2) }' || { echo "bench: cached rebuild over 0.2 s" >&2; ok=1; }
awk -v a="$warm_s" -v b="$warm_b" 'BEGIN { exit !(a * 10 <= b) }' || { echo "bench: cached rebuild over a tenth of buildah's" >&2; ok=1; }
awk -v a="$step_s" 'BEGIN { exit !(a <= 0.005) }' || { echo "bench: a cache mount costs over 5 ms a step" >&2; ok=1; }
awk -v a="$dep_s" 'BEGIN { exit !(a < 1) }' || { echo "bench: the dependency step did not find its cache warm" >&2; ok=1; }
exit $ok
