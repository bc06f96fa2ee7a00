#!/bin/sh
# Archives through stdin and stdout, as podman's: save with no -o or -o -
# to stdout (never a terminal), load from stdin (-i - or none; a pipe or a
# file), export to stdout, import - from stdin.
. "${0%/*}/../lib.sh"

tar=$(busybox_tar)
strata import - bb:1 <"$tar" >/dev/null || fail "import - from stdin"
assert_eq "$(strata images --format '{{.Repository}}:{{.Tag}}')" "bb:1"

# save to stdout is the same archive as save -o FILE
strata save bb:1 >"$TEST_TMP/out.tar"
strata save -o - bb:1 >"$TEST_TMP/dash.tar"
strata save -o "$TEST_TMP/file.tar" bb:1
cmp -s "$TEST_TMP/out.tar" "$TEST_TMP/file.tar" || fail "save to stdout differs from save -o"
cmp -s "$TEST_TMP/dash.tar" "$TEST_TMP/file.tar" || fail "save -o - differs from save -o"
strata save -f oci-archive bb:1 >"$TEST_TMP/oci.tar"
tar tf "$TEST_TMP/oci.tar" | grep -qx index.json || fail "oci-archive to stdout"
[ -e ./- ] && fail "save -o - made a file named -"

# load: a pipe, a redirected file, -i -
for how in pipe file dash; do
	R=$TEST_TMP/r-$how
	case $how in
	pipe) cat "$TEST_TMP/out.tar" | "$STRATA_BIN" --root "$R" load >"$TEST_TMP/msg" ;;
	file) "$STRATA_BIN" --root "$R" load <"$TEST_TMP/oci.tar" >"$TEST_TMP/msg" ;;
	dash) cat "$TEST_TMP/oci.tar" | "$STRATA_BIN" --root "$R" load -i - >"$TEST_TMP/msg" ;;
	esac || fail "load from stdin ($how)"
	assert_eq "$(cat "$TEST_TMP/msg")" "Loaded image: bb:1" "load ($how)"
	assert_eq "$("$STRATA_BIN" --root "$R" images -q)" "$(strata images -q)" "same image ($how)"
	"$STRATA_BIN" --root "$R" fsck >/dev/null || fail "fsck after load ($how)"
	# the size shown is the layer's tar (an oci-archive's layer is gzip: read once at load)
	assert_eq "$("$STRATA_BIN" --root "$R" images --format '{{.VirtualSize}}')" \
		"$(strata images --format '{{.VirtualSize}}' bb:1)" "size after load ($how)"
done
assert_eq "$(strata history --format '{{.Size}}' bb:1)" \
	"$(python3 -c "import os; s=os.path.getsize('$tar')/1000**2; print('%.3g MB' % s)")" \
	"history: the tar's size"
# a broken stream loads nothing and says so on one line
head -c 5000 "$TEST_TMP/out.tar" >"$TEST_TMP/cut.tar"
set +e
out=$(cat "$TEST_TMP/cut.tar" | "$STRATA_BIN" --root "$TEST_TMP/r-cut" load 2>&1 >/dev/null)
rc=$?
set -e
assert_eq "$rc" 125 "load of a cut stream"
assert_one_line_error "$out"
assert_eq "$("$STRATA_BIN" --root "$TEST_TMP/r-cut" images -q)" "" "nothing loaded from a cut stream"

# export to stdout; import from stdin of that tar gives the same tree
strata export bb:1 >"$TEST_TMP/flat.tar"
strata export -o - bb:1 | cmp -s - "$TEST_TMP/flat.tar" || fail "export -o - differs"
strata import - flat:1 <"$TEST_TMP/flat.tar" >/dev/null
assert_eq "$(tar tf "$TEST_TMP/flat.tar" | sort | md5sum)" \
	"$(strata export flat:1 | tar tf - | sort | md5sum)" "import - of an export"

# terminals are refused: one line, 125
if command -v script >/dev/null 2>&1; then
	for c in "save bb:1" "save -o - bb:1" "load" "load -i -" "export bb:1" "import - x:1"; do
		set +e
		script -qec "'$STRATA_BIN' --root '$ROOT' $c" /dev/null </dev/null >"$TEST_TMP/tty" 2>&1
		rc=$?
		set -e
		assert_eq "$rc" 125 "$c on a terminal"
		out=$(tr -d '\r' <"$TEST_TMP/tty")
		assert_contains "$out" "terminal" "$c on a terminal"
		assert_eq "$(printf '%s\n' "$out" | grep -c .)" 1 "$c: one line"
	done
fi
expect_fail strata save -f oci-dir bb:1
assert_one_line_error "$out"

# podman reads strata's archive from a pipe
if command -v podman >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	P_RUN=$(mktemp -d /tmp/sp.XXXXXX)
	on_cleanup "rm -rf '$P_RUN'"
	strata save bb:1 | podman --root "$TEST_TMP/proot" --runroot "$P_RUN" --storage-driver vfs \
		load >/dev/null 2>&1 || fail "podman load from strata save on stdout"
	podman --root "$TEST_TMP/proot" --runroot "$P_RUN" --storage-driver vfs save bb:1 2>/dev/null |
		"$STRATA_BIN" --root "$TEST_TMP/r-podman" load >/dev/null || fail "load of podman save"
	assert_eq "$("$STRATA_BIN" --root "$TEST_TMP/r-podman" images -q)" "$(strata images -q | head -1)" \
		"podman's archive on stdin"
fi
echo PASS
