# ADD of a git repository: a local bare repository over file://, at a tag,
# a branch, a commit, with a subdir; .git only with --keep-git-dir;
# --checksum is the commit; the step is cached while the checkout is the
# same and reruns when the branch moves; errors are one line.
. "${0%/*}/../lib.sh"
require_root "builds run containers and mount overlays"
require_cmd git

import_busybox
g() { git -c user.email=t@example.com -c user.name=t -c init.defaultBranch=main "$@"; }
work=$TEST_TMP/work
g init -q "$work"
mkdir -p "$work/sub"
echo one >"$work/sub/a"
echo top >"$work/t"
g -C "$work" add .
g -C "$work" commit -qm one
g -C "$work" tag v1
c1=$(g -C "$work" rev-parse HEAD)
echo two >"$work/sub/a"
g -C "$work" commit -qam two
repo=$TEST_TMP/repo.git
g clone -q --bare "$work" "$repo"
url=file://$repo

ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
cat >"$ctx/Dockerfile" <<X
FROM busybox
ADD $url#v1:sub /v1/
ADD --keep-git-dir $url#main /main/
ADD --checksum=$c1 $url#$c1 /c1/
RUN cat /v1/a /main/sub/a /c1/sub/a >/out && ls -a /main >/main.ls && ls -a /c1 >/c1.ls
X
strata build -q -t gitimg "$ctx" >/dev/null
assert_eq "$(strata run --rm gitimg cat /out | tr '\n' ' ')" "one two one "
assert_contains "$(strata run --rm gitimg cat /main.ls)" ".git"
assert_not_contains "$(strata run --rm gitimg cat /c1.ls)" ".git"
assert_not_exists "$(ls -d "$ROOT"/tmp/*git-src* 2>/dev/null | head -1)"
# Unchanged: cached. The branch moves: the steps reading it rerun.
out=$(strata build "$ctx")
assert_eq "$(printf '%s\n' "$out" | grep -c 'Using cache')" 4 "all cached"
echo three >"$work/sub/a"
g -C "$work" commit -qam three
g -C "$work" push -q "$repo" main
strata build -q -t gitimg "$ctx" >/dev/null
assert_eq "$(strata run --rm gitimg cat /out | tr '\n' ' ')" "one three one "
# Errors: a wrong checksum, a missing ref, COPY of a git URL, several sources.
for bad in "ADD --checksum=$(printf %040d 0) $url#v1 /x/" "ADD $url#nosuch /x/" \
	"COPY $url /x/" "ADD $url Dockerfile /x/"; do
	printf 'FROM busybox\n%s\n' "$bad" >"$ctx/Dockerfile.bad"
	set +e
	e=$(strata build -f "$ctx/Dockerfile.bad" "$ctx" 2>&1 >/dev/null)
	rc=$?
	set -e
	assert_eq "$rc" 125 "exit status of '$bad'"
	assert_one_line_error "$e"
	assert_contains "$e" "Dockerfile.bad:2:"
done
assert_not_exists "$(ls -d "$ROOT"/tmp/*git-src* 2>/dev/null | head -1)"
assert_fsck_clean
