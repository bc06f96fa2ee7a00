# Build fidelity beyond the trees 53 compares: another platform is refused,
# never ignored (FROM --platform, build --platform, a base image of another
# architecture); the launcher's mount points never reach a diff or a
# commit of a container; a tag with an upper-case letter says so; a
# context given as a tar archive (a file, or stdin; compressed or not).
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds run containers and mount overlays"
require_cmd umoci "unpacks the built images"

import_busybox
ctx=$TEST_TMP/ctx0
mkdir -p "$ctx"
printf 'FROM busybox\nRUN echo hi >/hi\n' >"$ctx/Containerfile"

# Another platform: one line, exit 125, nothing built.
expect_fail strata build --platform linux/s390x -t p1 "$ctx"
assert_one_line_error "$out"
assert_contains "$out" "--platform: platform 'linux/s390x' is not this machine's"
strata build -q --platform "linux/$(uname -m | sed 's/x86_64/amd64/; s/aarch64/arm64/')" -t p2 "$ctx" >/dev/null
case $(uname -m) in x86_64) other=s390x ;; *) other=amd64 ;; esac
MKIMAGE_ARCH=$other python3 "$TOP/tests/integration/mkimage.py" "$ROOT" foreign 1 >/dev/null
printf 'FROM foreign\nRUN true\n' >"$TEST_TMP/Foreign"
expect_fail strata build -f "$TEST_TMP/Foreign" "$ctx"
assert_one_line_error "$out"
assert_contains "$out" "base image 'foreign' is for linux/$other, not this machine's"

# The launcher's mount points are no change of the container's.
strata run --name stubs busybox sh -c 'echo x >/onefile' >/dev/null
d=$(strata diff stubs)
assert_contains "$d" "A /onefile"
for p in /etc/hosts /etc/hostname /etc/resolv.conf; do
	assert_not_contains "$d" "A $p" "diff lists the mount point $p"
done
strata commit stubs committed >/dev/null
IMG=committed:latest
img_unpack "$IMG"
for p in /etc/hosts /etc/hostname /etc/resolv.conf; do
	assert_eq "$(img_type $p)" missing "commit stores the mount point $p"
done
assert_eq "$(img_cat /onefile)" x
# Nor of a running one, whose mount points are still mounted over.
strata run -d --name live busybox sh -c 'echo y >/twofile; exec sleep 60' >/dev/null
for _ in $(seq 50); do strata exec live test -f /twofile 2>/dev/null && break; sleep 0.2; done
strata commit live committed-live >/dev/null
strata rm -f live >/dev/null
IMG=committed-live:latest
img_unpack "$IMG"
for p in /etc/hosts /etc/hostname /etc/resolv.conf; do
	assert_eq "$(img_type $p)" missing "commit of a running container stores the mount point $p"
done
assert_eq "$(img_cat /twofile)" y
# -v targets made only to mount over are no change either.
mkdir -p "$TEST_TMP/vol"
strata run --name vstub -v "$TEST_TMP/vol:/mnt/data" busybox true >/dev/null
assert_not_contains "$(strata diff vstub)" "/mnt/data"
strata rm stubs vstub >/dev/null

# A tag with an upper-case letter.
expect_fail strata build -t c-Name "$ctx"
assert_one_line_error "$out"
assert_contains "$out" "repository name must be lowercase"

# A context as a tar archive: a file (plain or compressed) or stdin.
tar -C "$ctx" -cf "$TEST_TMP/ctx.tar" .
gzip -c "$TEST_TMP/ctx.tar" >"$TEST_TMP/ctx.tar.gz"
id1=$(strata build -q -t fromtar "$TEST_TMP/ctx.tar")
id2=$(strata build -q -t fromtgz "$TEST_TMP/ctx.tar.gz")
id3=$(strata build -q -t fromstdin - <"$TEST_TMP/ctx.tar.gz")
[ ${#id1} = 64 ] || fail "tar context: $id1"
IMG=fromstdin:latest
img_unpack "$IMG"
assert_eq "$(img_cat /hi)" hi
assert_eq "$id2" "$id1" "a compressed tar gives the same image"
assert_eq "$id3" "$id1" "stdin gives the same image"
printf 'FROM busybox\nRUN echo other >/hi\n' >"$ctx/Other"
tar -C "$ctx" -cf "$TEST_TMP/ctx2.tar" .
strata build -q -f Other -t fromtar2 "$TEST_TMP/ctx2.tar" >/dev/null
img_unpack fromtar2:latest
assert_eq "$(img_cat /hi)" other "-f names a file inside the archive"
printf 'not a tar' >"$TEST_TMP/bad.tar"
expect_fail strata build "$TEST_TMP/bad.tar"
assert_one_line_error "$out"
assert_contains "$out" "build context '$TEST_TMP/bad.tar'"
[ -z "$(ls -A "$ROOT/tmp")" ] || fail "the unpacked context was left in tmp: $(ls "$ROOT/tmp")"
assert_fsck_clean
