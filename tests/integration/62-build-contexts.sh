# --build-context NAME=DIR|docker-image://REF: what FROM NAME, COPY
# --from=NAME and RUN --mount from=NAME read instead of a stage or image.
. "${0%/*}/../lib.sh"
require_root "builds run containers and mount overlays"

import_busybox
ctx=$TEST_TMP/ctx
extra=$TEST_TMP/extra
mkdir -p "$ctx" "$extra/conf"
echo from-extra >"$extra/conf/app.conf"
printf 'FROM busybox\nRUN echo base-marker >/marker\n' >"$ctx/Dockerfile.base"
strata build -q -t mybase -f "$ctx/Dockerfile.base" "$ctx" >/dev/null
cat >"$ctx/Dockerfile" <<'X'
FROM alpine:3.19
COPY --from=extra conf/app.conf /app.conf
COPY --from=tools /marker /tools-marker
RUN --mount=type=bind,from=extra,source=conf,target=/c \
    --mount=type=bind,from=tools,source=/marker,target=/m \
    cat /c/app.conf /m >/seen
X
strata build -q -t ctxd --build-context alpine:3.19=docker-image://mybase \
	--build-context extra="$extra" --build-context tools=docker-image://mybase "$ctx" >/dev/null
assert_eq "$(strata run --rm ctxd cat /marker)" base-marker "FROM a docker-image context"
assert_eq "$(strata run --rm ctxd cat /app.conf)" from-extra "COPY --from a directory context"
assert_eq "$(strata run --rm ctxd cat /tools-marker)" base-marker
assert_eq "$(strata run --rm ctxd cat /seen | tr '\n' ' ')" "from-extra base-marker "
# A changed file of the directory context reruns what reads it.
echo changed >"$extra/conf/app.conf"
strata build -q -t ctxd --build-context alpine:3.19=docker-image://mybase \
	--build-context extra="$extra" --build-context tools=docker-image://mybase "$ctx" >/dev/null
assert_eq "$(strata run --rm ctxd cat /seen | tr '\n' ' ')" "changed base-marker "
for bad in extra "=x" "x=https://example.com/a.tar" "x=$TEST_TMP/nonexistent" "x=docker-image://"; do
	set +e
	e=$(strata build --build-context "$bad" "$ctx" 2>&1 >/dev/null)
	rc=$?
	set -e
	assert_eq "$rc" 125 "--build-context $bad"
	assert_one_line_error "$e"
	assert_contains "$e" "--build-context"
done
printf 'FROM extra\n' >"$ctx/Dockerfile.dir"
set +e
e=$(strata build -f "$ctx/Dockerfile.dir" --build-context extra="$extra" "$ctx" 2>&1 >/dev/null)
rc=$?
set -e
assert_eq "$rc" 125
assert_contains "$e" "a directory as a base is not supported"
