# With --timestamp or SOURCE_DATE_EPOCH two builds of the same recipe and
# context give the same image digest, cache or not.
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds run containers and mount overlays"

import_busybox
ctx=$TEST_TMP/ctx
mkdir -p "$ctx/dir"
echo hello >"$ctx/dir/file"
cat >"$ctx/Containerfile" <<'X'
FROM busybox
COPY dir /dir
RUN echo made >/made && mkdir -p /var/x && touch /var/x/y
ENV A=b
ADD dir/file /added
WORKDIR /new/dir
CMD ["sh"]
X
digest() { strata inspect "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Digest"])'; }

strata build -q --no-cache --timestamp 1700000000 -t r1 "$ctx" >/dev/null
sleep 1
touch "$ctx/dir/file"
strata build -q --no-cache --timestamp 1700000000 -t r2 "$ctx" >/dev/null
assert_eq "$(digest r2)" "$(digest r1)" "digest with --timestamp"
SOURCE_DATE_EPOCH=1700000000 strata build -q --no-cache -t r3 "$ctx" >/dev/null
assert_eq "$(digest r3)" "$(digest r1)" "digest with SOURCE_DATE_EPOCH"
created=$(strata inspect r1 | python3 -c 'import json,sys; d=json.load(sys.stdin)[0]; print(d["Created"], {h["created"] for h in d["History"][1:]})')
assert_eq "$created" "2023-11-14T22:13:20Z {'2023-11-14T22:13:20Z'}"
# Layer mtimes are clamped.
img_unpack r1:latest
[ "$(stat -c %Y "$ROOTFS/made")" -le 1700000000 ] || fail "mtime of /made not clamped"
# zstd layers are reproducible too.
strata build -q --no-cache --compression zstd --timestamp 5 -t z1 "$ctx" >/dev/null
strata build -q --no-cache --compression zstd --timestamp 5 -t z2 "$ctx" >/dev/null
assert_eq "$(digest z2)" "$(digest z1)" "digest with zstd"
# Without a timestamp, created times differ.
strata build -q --no-cache -t n1 "$ctx" >/dev/null
sleep 1
strata build -q --no-cache -t n2 "$ctx" >/dev/null
[ "$(digest n1)" != "$(digest n2)" ] || fail "two builds without a timestamp gave the same digest"
