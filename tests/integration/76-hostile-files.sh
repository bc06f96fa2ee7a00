# Hostile files where strata reads its configuration and its records: a
# FIFO (which would block a read for ever), /dev/zero, a directory, deep
# nesting, bytes that are not UTF-8, as registries.conf, policy.json,
# auth.json, a certs.d file, and as the store's index.json, settings.json,
# image-summary, blob-info.json, a tar-size record, a container or volume
# record, and a full disk under load from stdin, a build context from
# stdin and a volume's copy-up. Each command ends at once: one line
# 'strata: CMD: what: why', exit 125, or the hint ignored where the file is
# a cache; no data lost, and once the file is put right (or the disk has
# room) the same command works.
. "${0%/*}/../lib.sh"
require_root "runs containers and mounts a small tmpfs as a store"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

export HOME=$TEST_TMP/home STRATA_SYSCONFDIR=$TEST_TMP/etc XDG_RUNTIME_DIR=$TEST_TMP/run
export CONTAINERS_REGISTRIES_CONF=$TEST_TMP/registries.conf
unset XDG_CONFIG_HOME DOCKER_CONFIG REGISTRY_AUTH_FILE 2>/dev/null || true
mkdir -p "$HOME" "$STRATA_SYSCONFDIR/containers" "$XDG_RUNTIME_DIR"
: >"$CONTAINERS_REGISTRIES_CONF"
start_registry reg
import_busybox
strata push -q --tls-verify=false busybox "$REG/bb:1" >/dev/null || fail "push"

# ends WHAT CMD...: the command ends within 20 s, with one line and 125.
ends() {
	what=$1
	shift
	set +e
	out=$(timeout 20 "$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" != 124 ] || fail "$what: still running after 20 s"
	[ "$rc" = 125 ] || fail "$what: exit $rc, want 125: $out"
	assert_one_line_error "$out"
}
# works WHAT CMD...: the command succeeds.
works() {
	what=$1
	shift
	set +e
	out=$(timeout 20 "$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" = 0 ] || fail "$what: exit $rc: $out"
}
# hostile KIND PATH: PATH made a FIFO, a link to /dev/zero, a directory, deep or not UTF-8.
hostile() {
	rm -rf "$2"
	case $1 in
	fifo) mkfifo "$2" ;;
	zero) ln -s /dev/zero "$2" ;;
	dir) mkdir "$2" ;;
	deep) python3 -c 'print("[" * 100000 + "]" * 100000)' >"$2" ;;
	utf8) printf '{"a": "\377\376", "unqualified-search-registries": ["\377"]}\n' >"$2" ;;
	esac
}

# ---- configuration files ----
P=$TEST_TMP/p
for k in fifo zero dir deep utf8; do
	hostile $k "$CONTAINERS_REGISTRIES_CONF"
	ends "registries.conf $k" "$STRATA_BIN" --root "$P" pull -q --tls-verify=false "$REG/bb:1"
	assert_contains "$out" "registries.conf" "registries.conf $k"
	hostile $k "$TEST_TMP/policy.json"
	rm -rf "$CONTAINERS_REGISTRIES_CONF"
	: >"$CONTAINERS_REGISTRIES_CONF"
	ends "policy.json $k" "$STRATA_BIN" --root "$P" pull -q --tls-verify=false --signature-policy "$TEST_TMP/policy.json" "$REG/bb:1"
	assert_contains "$out" "policy" "policy.json $k"
	hostile $k "$TEST_TMP/auth.json"
	REGISTRY_AUTH_FILE=$TEST_TMP/auth.json ends "auth.json $k" "$STRATA_BIN" --root "$P" pull -q --tls-verify=false "$REG/bb:1"
	assert_contains "$out" "auth" "auth.json $k"
	REGISTRY_AUTH_FILE=$TEST_TMP/auth.json ends "logout with auth.json $k" \
		"$STRATA_BIN" --root "$P" logout "$REG"
done
# a certs.d file that is a FIFO
mkdir -p "$STRATA_SYSCONFDIR/containers/certs.d/$REG"
mkfifo "$STRATA_SYSCONFDIR/containers/certs.d/$REG/ca.crt"
CD=$STRATA_SYSCONFDIR/containers/certs.d
ends "certs.d FIFO" "$STRATA_BIN" --root "$P" pull -q --tls-verify=false --cert-dir "$CD/$REG" "$REG/bb:1"
rm -rf "$CD"
: >"$CONTAINERS_REGISTRIES_CONF"
rm -f "$TEST_TMP/auth.json"
works "pull with the files put right" "$STRATA_BIN" --root "$P" pull -q --tls-verify=false "$REG/bb:1"
o=$("$STRATA_BIN" --root "$P" fsck 2>&1) || fail "fsck after the configuration files: $o"

# ---- the store's own files ----
# A record that is not a regular file is an error where the command needs
# it, never a wait; the file put back, everything works again.
for f in index.json image-summary settings.json; do
	mv "$ROOT/$f" "$TEST_TMP/$f.saved" 2>/dev/null || : >"$TEST_TMP/$f.saved"
	for k in fifo zero; do
		hostile $k "$ROOT/$f"
		set +e
		for c in images "inspect busybox" "tag busybox busybox:x" "config" "system df" "image prune -f"; do
			timeout 20 "$STRATA_BIN" --root "$ROOT" $c >/dev/null 2>"$TEST_TMP/err"
			rc=$?
			[ "$rc" != 124 ] || fail "$c with $f a $k: still running after 20 s"
			[ "$rc" = 0 ] || [ "$rc" = 125 ] || fail "$c with $f a $k: exit $rc: $(cat "$TEST_TMP/err")"
			[ "$rc" = 0 ] || assert_one_line_error "$(cat "$TEST_TMP/err")"
		done
		set -e
	done
	rm -f "$ROOT/$f"
	[ -s "$TEST_TMP/$f.saved" ] && mv "$TEST_TMP/$f.saved" "$ROOT/$f"
	works "images with $f put back" "$STRATA_BIN" --root "$ROOT" images
	works "run with $f put back" "$STRATA_BIN" --root "$ROOT" run --rm busybox true
done
assert_fsck_clean
# blob-info.json (a cache: a bad one is started again) and a tar-size record (a hint).
for k in fifo zero dir deep utf8; do
	hostile $k "$ROOT/blob-info.json"
	works "push with blob-info.json a $k" "$STRATA_BIN" --root "$ROOT" push -q --tls-verify=false busybox "$REG/bi-$k:1"
done
rm -rf "$ROOT/blob-info.json"
for t in "$ROOT"/tar-sizes/*; do
	rm -f "$t"
	mkfifo "$t"
done
works "images with tar-size FIFOs" "$STRATA_BIN" --root "$ROOT" images
works "gc with tar-size FIFOs" "$STRATA_BIN" --root "$ROOT" gc
assert_fsck_clean
# A blob-info entry whose repository is not a repository name is no mount
# source: nothing of it reaches the registry's query.
works "push that records where the blobs are" "$STRATA_BIN" --root "$ROOT" push -q --tls-verify=false busybox "$REG/bi-fresh:1"
python3 - "$ROOT/blob-info.json" "$REG" <<'PY'
import json, sys
path, reg = sys.argv[1:3]
d = json.load(open(path))
for k in d["blobs"]:
    d["blobs"][k] = [{"registry": reg, "repository": r, "time": 1}
                     for r in ("bb&mount=sha256:00&from=../evil", "../bb", "BB", "bb/", "a//b")]
json.dump(d, open(path, "w"))
PY
out=$(strata --log-level debug push --tls-verify=false busybox "$REG/bi-inj:1" 2>&1) || fail "push with hostile blob-info entries: $out"
assert_not_contains "$out" "mounted from" "a mount from a hostile entry"
# A container's and a volume's record as a FIFO: an error for that one, others work.
strata create --name c1 busybox >/dev/null
strata create --name c2 busybox >/dev/null
strata volume create v1 >/dev/null
strata volume create v2 >/dev/null
c1=$(strata inspect --format '{{.Id}}' c1)
mv "$ROOT/containers/$c1/container.json" "$TEST_TMP/c1.json"
mkfifo "$ROOT/containers/$c1/container.json"
mv "$ROOT/volumes/v1/volume.json" "$TEST_TMP/v1.json"
mkfifo "$ROOT/volumes/v1/volume.json"
for c in "ps -a" "inspect c1" "rm c2" "volume ls" "volume inspect v1" "volume rm v2" "gc" "system df"; do
	set +e
	timeout 20 "$STRATA_BIN" --root "$ROOT" $c >/dev/null 2>"$TEST_TMP/err"
	rc=$?
	set -e
	[ "$rc" != 124 ] || fail "$c with record FIFOs: still running after 20 s"
	[ "$rc" = 0 ] || [ "$rc" = 125 ] || fail "$c with record FIFOs: exit $rc: $(cat "$TEST_TMP/err")"
done
rm "$ROOT/containers/$c1/container.json" "$ROOT/volumes/v1/volume.json"
mv "$TEST_TMP/c1.json" "$ROOT/containers/$c1/container.json"
mv "$TEST_TMP/v1.json" "$ROOT/volumes/v1/volume.json"
works "rm c1 with its record back" "$STRATA_BIN" --root "$ROOT" rm c1
works "volume rm v1 with its record back" "$STRATA_BIN" --root "$ROOT" volume rm v1
assert_fsck_clean

# ---- a full disk ----
# A store on a small tmpfs: load from a stdin pipe, a build whose context
# comes on stdin, and the copy-up of a volume each fail in one line with
# the disk's own error; the store stays whole, the volume stays empty (not
# half filled, which the next start would have taken as its content), and
# with room again the same commands succeed.
small=$TEST_TMP/small
mkdir -p "$small"
mount -t tmpfs -o size=24m tmpfs "$small"
on_cleanup "umount -l '$small'"
SMALL=$small/root
tree=$TEST_TMP/bigtree
mkdir -p "$tree/data"
tar -C "$tree" -xf "$(busybox_tar)"
for i in 1 2 3 4 5 6; do head -c 1000000 /dev/urandom >"$tree/data/f$i"; done
strata import "$tree" big >/dev/null
strata save -o "$TEST_TMP/big.tar" big
"$STRATA_BIN" --root "$SMALL" import "$tree" big >/dev/null || fail "import onto the tmpfs"
"$STRATA_BIN" --root "$SMALL" run --rm big true || fail "run on the tmpfs"
fill() { dd if=/dev/zero of="$small/filler" bs=1M count=$(($(df -m --output=avail "$small" | tail -1) - $1)) 2>/dev/null || true; }
full() {
	what=$1
	shift
	set +e
	out=$(timeout 60 "$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" = 125 ] || fail "$what on a full disk: exit $rc: $out"
	assert_one_line_error "$out"
	assert_contains "$out" "No space left on device" "$what on a full disk"
	o=$("$STRATA_BIN" --root "$SMALL" fsck 2>&1) || fail "$what on a full disk: fsck: $o"
}
fill 3
full "copy-up" "$STRATA_BIN" --root "$SMALL" run --rm -v vol:/data big true
assert_eq "$(ls -A "$SMALL/volumes/vol/_data")" "" "the volume after a copy-up onto a full disk"
mkdir -p "$TEST_TMP/bctx"
cp "$tree/data/f1" "$tree/data/f2" "$tree/data/f3" "$TEST_TMP/bctx/"
printf 'FROM big\nCOPY . /ctx/\n' >"$TEST_TMP/bctx/Containerfile"
tar -C "$TEST_TMP/bctx" -cf "$TEST_TMP/bctx.tar" .
full "build from stdin" sh -c "'$STRATA_BIN' --root '$SMALL' build -q -t b - <'$TEST_TMP/bctx.tar'"
"$STRATA_BIN" --root "$SMALL" rmi big >/dev/null
"$STRATA_BIN" --root "$SMALL" gc >/dev/null
rm -f "$small/filler"
fill 3
full "load from stdin" sh -c "'$STRATA_BIN' --root '$SMALL' load -q <'$TEST_TMP/big.tar'"
rm -f "$small/filler"
"$STRATA_BIN" --root "$SMALL" gc >/dev/null
works "load from stdin with room" sh -c "'$STRATA_BIN' --root '$SMALL' load -q <'$TEST_TMP/big.tar'"
works "build from stdin with room" sh -c "'$STRATA_BIN' --root '$SMALL' build -q -t b - <'$TEST_TMP/bctx.tar'"
got=$("$STRATA_BIN" --root "$SMALL" run --rm -v vol:/data big sh -c 'cat /data/f* | md5sum')
assert_eq "$got" "$(cat "$tree"/data/f* | md5sum)" "the volume filled with room again"
o=$("$STRATA_BIN" --root "$SMALL" fsck 2>&1) || fail "fsck at the end: $o"

# ---- an archive without end ----
# /dev/zero or /dev/urandom as the archive of load, import or layer unpack
# (on stdin or by name) was read, and load's stdin copied into the store,
# until the disk was full: a character device is refused at once.
for dev in /dev/zero /dev/urandom; do
	for c in "load -q" "load -q -i $dev" "import - x" "import $dev x" "layer unpack - $TEST_TMP/unp" "layer unpack $dev $TEST_TMP/unp"; do
		set +e
		out=$(timeout 20 "$STRATA_BIN" --root "$ROOT" $c <"$dev" 2>&1 >/dev/null)
		rc=$?
		set -e
		[ "$rc" = 125 ] || fail "$c <$dev: exit $rc: $out"
		assert_one_line_error "$out"
		assert_contains "$out" "a character device is not an archive" "$c <$dev"
	done
done
assert_eq "$(ls -A "$ROOT/tmp")" "" "staging after archives without end"
assert_fsck_clean

# ---- names a layer cannot hold ----
# A file named .wh.* made by a RUN step, copied from the context or in an
# imported directory would be read back as a whiteout ('.wh..' names no
# file: the next step could not even mount the layer): refused where the
# layer is made, in one line naming the file.
mkdir -p "$TEST_TMP/whctx" "$TEST_TMP/whdir"
printf 'FROM busybox\nRUN touch /.wh..\nRUN true\n' >"$TEST_TMP/whctx/Containerfile"
expect_fail strata build -q -t wh "$TEST_TMP/whctx"
assert_one_line_error "$out"
assert_contains "$out" "Containerfile:2: '/.wh..': a name that begins with '.wh.' cannot be in a layer"
mkdir -p "$TEST_TMP/whctx2"
echo x >"$TEST_TMP/whctx2/.wh.etc"
printf 'FROM busybox\nCOPY .wh.etc /\n' >"$TEST_TMP/whctx2/Containerfile"
expect_fail strata build -q -t wh "$TEST_TMP/whctx2"
assert_one_line_error "$out"
assert_contains "$out" "'/.wh.etc': a name that begins with '.wh.'"
echo x >"$TEST_TMP/whdir/.wh.bin"
expect_fail strata import "$TEST_TMP/whdir" wh
assert_one_line_error "$out"
assert_contains "$out" "'/.wh.bin'"
assert_not_contains "$(strata images)" "wh " "an image with a .wh. name"
assert_fsck_clean
