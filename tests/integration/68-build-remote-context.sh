# The build context from elsewhere than a directory: stdin or a pipe (a
# tar, gzip or zstd), a tarball URL (a loopback http server), a git URL (file:// and
# git:// from a git daemon on loopback; #ref and #ref:subdir); -f names a
# file inside such a context; -f - reads the recipe from stdin. Errors are
# one line and leave nothing in ROOT/tmp.
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds run containers and mount overlays"
require_cmd git "makes and serves the repositories"
require_cmd zstd "compresses a context"
require_cmd python3 "serves the tarballs"

import_busybox
g() { git -c user.email=t@example.com -c user.name=t -c init.defaultBranch=main "$@"; }
tmp_empty() { [ -z "$(ls -A "$ROOT/tmp")" ] || fail "left in ROOT/tmp: $(ls -A "$ROOT/tmp")"; }

src=$TEST_TMP/src
mkdir -p "$src/sub"
echo top >"$src/t"
echo one >"$src/sub/a"
printf 'FROM busybox\nCOPY . /ctx/\nRUN cat /ctx/t >/out\n' >"$src/Containerfile"
printf 'FROM busybox\nCOPY a /a\nRUN cat /a >/out\n' >"$src/sub/Containerfile"
printf 'FROM busybox\nRUN echo other >/out\n' >"$src/Other"
printf 'FROM busybox\nCOPY sub/a /a\nRUN cat /a >/out\n' >"$src/Remote"
out_of() { strata run --rm "$1" cat /out; }

# stdin: plain, gzip, zstd; -f inside it.
tar -C "$src" -cf "$TEST_TMP/ctx.tar" .
gzip -c "$TEST_TMP/ctx.tar" >"$TEST_TMP/ctx.tar.gz"
zstd -q -c "$TEST_TMP/ctx.tar" >"$TEST_TMP/ctx.tar.zst"
id0=$(strata build -q -t s0 - <"$TEST_TMP/ctx.tar")
assert_eq "$(out_of s0)" top
for z in gz zst; do
	id=$(strata build -q -t "s-$z" - <"$TEST_TMP/ctx.tar.$z")
	assert_eq "$id" "$id0" "a $z context on stdin gives the same image"
done
# A pipe (what bash's <(tar -c .) gives) is read as stdin is.
mkfifo "$TEST_TMP/ctx.fifo"
cat "$TEST_TMP/ctx.tar.gz" >"$TEST_TMP/ctx.fifo" &
track_pid $!
id=$(strata build -q -t s-fifo "$TEST_TMP/ctx.fifo")
assert_eq "$id" "$id0" "a context through a pipe"
strata build -q -f Other -t s1 - <"$TEST_TMP/ctx.tar.zst" >/dev/null
assert_eq "$(out_of s1)" other
# -f -: the recipe from stdin, the context a directory.
printf 'FROM busybox\nCOPY t /t2\nRUN cat /t2 >/out\n' | strata build -q -f - -t s2 "$src" >/dev/null
assert_eq "$(out_of s2)" top
expect_fail strata build -f - - <"$TEST_TMP/ctx.tar"
assert_one_line_error "$out"
assert_contains "$out" "cannot both be stdin"
tmp_empty

# A tarball URL.
www=$TEST_TMP/www
mkdir -p "$www"
cp "$TEST_TMP/ctx.tar.gz" "$TEST_TMP/ctx.tar.zst" "$www/"
echo 'not a tar' >"$www/bad.tar"
port=$(free_port)
python3 -m http.server --bind 127.0.0.1 --directory "$www" "$port" >"$TEST_TMP/http.log" 2>&1 &
track_pid $!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/" >/dev/null 2>&1 && break; sleep 0.1; done
id=$(strata build -q -t u1 "http://127.0.0.1:$port/ctx.tar.gz")
assert_eq "$id" "$id0" "a tarball URL gives the image of the same context"
strata build -q -f Remote -t u2 "http://127.0.0.1:$port/ctx.tar.zst" >/dev/null
assert_eq "$(out_of u2)" one "-f names a file inside the downloaded context"
expect_fail strata build "http://127.0.0.1:$port/missing.tar"
assert_one_line_error "$out"
assert_contains "$out" "download 'http://127.0.0.1:$port/missing.tar'"
expect_fail strata build "http://127.0.0.1:$port/bad.tar"
assert_one_line_error "$out"
assert_contains "$out" "build context 'http://127.0.0.1:$port/bad.tar'"
tmp_empty

# A git URL: file:// and git:// (a daemon on loopback), a ref, a subdir.
work=$TEST_TMP/work
cp -a "$src" "$work"
g init -q "$work"
g -C "$work" add .
g -C "$work" commit -qm one
g -C "$work" tag v1
echo two >"$work/t"
g -C "$work" commit -qam two
mkdir -p "$TEST_TMP/git"
g clone -q --bare "$work" "$TEST_TMP/git/repo.git"
strata build -q -t g1 "file://$TEST_TMP/git/repo.git" >/dev/null
assert_eq "$(out_of g1)" two "the default branch"
strata build -q -t g2 "file://$TEST_TMP/git/repo.git#v1" >/dev/null
assert_eq "$(out_of g2)" top "#v1"
strata build -q -t g3 "file://$TEST_TMP/git/repo.git#v1:sub" >/dev/null
assert_eq "$(out_of g3)" one "#v1:sub is the context"
assert_eq "$(strata run --rm g1 ls -a /ctx | grep -c '^.git$')" 0 "no .git in the context"
gport=$(free_port)
# git-daemon itself, not `git daemon`: git runs it as a child, which killing
# the background job would leave serving after the test.
"$(git --exec-path)/git-daemon" --reuseaddr --listen=127.0.0.1 --port="$gport" --export-all \
	--base-path="$TEST_TMP/git" "$TEST_TMP/git" >"$TEST_TMP/daemon.log" 2>&1 &
track_pid $!
for _ in $(seq 100); do git ls-remote "git://127.0.0.1:$gport/repo.git" >/dev/null 2>&1 && break; sleep 0.1; done
strata build -q -f Other -t g4 "git://127.0.0.1:$gport/repo.git#main" >/dev/null
assert_eq "$(out_of g4)" other "-f inside a git context"
strata build -q -t g5 "git://127.0.0.1:$gport/repo.git#v1:sub" >/dev/null
assert_eq "$(out_of g5)" one
expect_fail strata build "file://$TEST_TMP/git/repo.git#nosuch"
assert_one_line_error "$out"
assert_contains "$out" "build context 'file://$TEST_TMP/git/repo.git#nosuch'"
expect_fail strata build "file://$TEST_TMP/git/repo.git#v1:nosuch"
assert_one_line_error "$out"
assert_contains "$out" "build context"
tmp_empty
assert_fsck_clean
