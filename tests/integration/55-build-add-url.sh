# ADD of URLs: downloaded with libcurl from a local HTTP server, mode 0600,
# --checksum verified, not extracted; a cached rebuild reuses the step when
# the content is the same and re-runs it when it changed.
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds mount overlays"
require_cmd python3 "serves files over HTTP"
require_cmd umoci "unpacks the built images"

import_busybox
srv=$TEST_TMP/srv
mkdir -p "$srv/sub"
echo downloaded >"$srv/sub/file.txt"
mk_test_tar "$srv/arch.tar.gz" gzip
port=$(free_port)
(cd "$srv" && exec python3 -m http.server --bind 127.0.0.1 "$port") >"$TEST_TMP/http.log" 2>&1 &
track_pid $!
i=0
until curl -s "http://127.0.0.1:$port/" >/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "HTTP server did not start"
	sleep 0.1
done
sum=$(sha256sum "$srv/sub/file.txt" | cut -d' ' -f1)
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
cat >"$ctx/Containerfile" <<X
FROM busybox
ADD http://127.0.0.1:$port/sub/file.txt /dl/
ADD --checksum=sha256:$sum http://127.0.0.1:$port/sub/file.txt /checked
ADD http://127.0.0.1:$port/arch.tar.gz /archive/
X
strata build -q -t added "$ctx" >/dev/null
img_unpack added:latest
assert_eq "$(img_cat /dl/file.txt)" "downloaded"
assert_eq "$(img_stat /dl/file.txt)" "file 600 0:0"
assert_eq "$(img_cat /checked)" "downloaded"
assert_eq "$(img_type /archive/arch.tar.gz)" "file"

out=$(strata build "$ctx")
assert_eq "$(printf '%s\n' "$out" | grep -c -- '--> Using cache')" 3
echo changed >"$srv/sub/file.txt"
out=$(strata build "$ctx" 2>&1 >/dev/null) && fail "a changed download passed its --checksum"
assert_contains "$out" "ADD: checksum mismatch for 'http://127.0.0.1:$port/sub/file.txt': expected sha256:$sum"
assert_one_line_error "$out"
printf 'FROM busybox\nADD http://127.0.0.1:%s/missing /x\n' "$port" >"$ctx/Containerfile"
expect_fail strata build "$ctx"
assert_contains "$out" "Containerfile:2: ADD: download 'http://127.0.0.1:$port/missing'"
assert_contains "$out" "404"
ls "$ROOT/tmp" | grep -q download && fail "a failed download left a file in tmp/"
true
