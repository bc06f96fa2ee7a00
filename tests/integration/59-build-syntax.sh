# The rest of the syntax real Dockerfiles use: # syntax= and # check=
# lines, parameter expansion with patterns (${v#p} ${v##p} ${v%p} ${v%%p}
# ${v/p/r} ${v//p/r}) in global ARGs, FROM and stages, COPY --parents
# (with a "/./" pivot), COPY/ADD --exclude (also with --from).
. "${0%/*}/../lib.sh"
require_root "builds run containers and mount overlays"

import_busybox
ctx=$TEST_TMP/ctx
mkdir -p "$ctx/x" "$ctx/y" "$ctx/src/dir/sub" "$ctx/docs"
echo a >"$ctx/x/a.txt"
echo b >"$ctx/y/a.txt"
echo c >"$ctx/x/c.md"
echo d >"$ctx/src/dir/sub/f"
echo e >"$ctx/src/dir/g.txt"
echo r >"$ctx/docs/README.md"
echo n >"$ctx/docs/notes.txt"
tar -C "$ctx" -cf "$TEST_TMP/arch.tar" x
cp "$TEST_TMP/arch.tar" "$ctx/arch.tar"
cat >"$ctx/Dockerfile" <<'X'
# syntax=docker/dockerfile:1.7-labs
# check=skip=JSONArgsRecommended;error=true
ARG VERSION=v1.22.3-rc1
ARG BASE=busybox:latest
ARG TRIM=${VERSION#v}
FROM ${BASE%:*} AS base
RUN mkdir -p /opt/x && echo from-base >/opt/x/keep.txt && echo skip >/opt/x/skip.log
FROM ${BASE%%:*}:${BASE##*:}
ARG VERSION
ARG TRIM
ARG REF=refs/heads/feature/x
ENV V1=${VERSION#v} V2=${VERSION%%-*} V3=${VERSION%.*} V4=${VERSION/./_} V5=${VERSION//./_} \
    V6=${REF##*/} V7=${REF#refs/heads/} V8=${TRIM} V9=${VERSION/#v/} V10=${NOPE%x}
LABEL version=${VERSION%-rc*}
WORKDIR /app/${REF##*/}
COPY --parents x/a.txt y/a.txt /p/
COPY --parents ./src/./dir/sub /q/
COPY --exclude=*.md --exclude=dir/sub x src /r/
COPY --exclude=*.txt --parents x /s/
ADD --exclude=*.md docs /t/
ADD arch.tar /u/
COPY --from=base --exclude=*.log /opt/x /v/
RUN find /p /q /r /s /t /u /v | sort >/tree && pwd >/wd && ls /v
X
id=$(strata build -q -t syn "$ctx")
env=$(strata inspect syn)
for kv in V1=1.22.3-rc1 V2=v1.22.3 V3=v1.22 V4=v1_22.3-rc1 V5=v1_22_3-rc1 V6=x V7=feature/x \
	V8=1.22.3-rc1 V9=v1.22.3-rc1 V10=; do
	assert_contains "$env" "\"$kv\""
done
assert_contains "$env" '"version": "v1.22.3"'
assert_eq "$(strata run --rm syn cat /wd)" /app/x
want='/p
/p/x
/p/x/a.txt
/p/y
/p/y/a.txt
/q
/q/dir
/q/dir/sub
/q/dir/sub/f
/r
/r/a.txt
/r/dir
/r/dir/g.txt
/s
/s/x
/s/x/c.md
/t
/t/notes.txt
/u
/u/x
/u/x/a.txt
/u/x/c.md
/v
/v/keep.txt'
assert_eq "$(strata run --rm syn cat /tree)" "$want"
# A rebuild is all cache hits, the same image.
out=$(strata build "$ctx")
steps=$(printf '%s\n' "$out" | grep 'STEP' | grep -vc 'FROM')
assert_eq "$(printf '%s\n' "$out" | grep -c 'Using cache')" "$steps" "all cached"
assert_eq "$(printf '%s\n' "$out" | tail -n1)" "$id"
# A changed --exclude reruns its step.
sed -i 's/--exclude=\*.log/--exclude=*.txt/' "$ctx/Dockerfile"
assert_contains "$(strata build "$ctx")" "skip.log"
# Errors: one line naming FILE:LINE.
for bad in 'COPY --parents=maybe x /p/' 'ADD --parents x /p/' 'COPY --exclude= x /p/' \
	'COPY --parents x/a.txt /p' 'ENV A=${VERSION/x}'; do
	printf 'FROM busybox\nARG VERSION=1\n%s\n' "$bad" >"$ctx/Dockerfile.bad"
	set +e
	e=$(strata build -f "$ctx/Dockerfile.bad" "$ctx" 2>&1 >/dev/null)
	rc=$?
	set -e
	assert_eq "$rc" 125 "exit status of '$bad'"
	assert_one_line_error "$e"
	assert_contains "$e" "Dockerfile.bad:3:"
done
assert_fsck_clean
