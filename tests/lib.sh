# Sourced by every tests/integration/NN-topic.sh: a private store root, a
# cleanup that runs on any exit (mounts, processes, temp dirs), asserts.
# Exit status: 0 pass, 77 skip (a failure under STRATA_TEST_STRICT=1), other fail.
set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
STRATA_BIN=${STRATA_BIN:-$TOP/strata}
TEST_NAME=$(basename "$0" .sh)
STRATA_TEST_BASE=${STRATA_TEST_BASE:-/tmp}
TEST_TMP=$(mktemp -d "$STRATA_TEST_BASE/strata-test.XXXXXX")
ROOT=$TEST_TMP/root
STRATA_TEST_CACHE=${STRATA_TEST_CACHE:-$STRATA_TEST_BASE/cache}
export STRATA_BIN TEST_TMP ROOT
unset STRATA_ROOT STRATA_BACKEND 2>/dev/null || true

_cleanups=""
_bg_pids=""

# Registers a shell command to run at exit, last registered first.
on_cleanup() {
	_cleanups="$1
$_cleanups"
}

# Remembers a background process to kill at exit.
track_pid() {
	_bg_pids="$_bg_pids $1"
}

_unmount_under() {
	# Deepest first, so nested mounts go before their parents.
	awk -v p="$1" '$5 ~ "^"p {print $5}' /proc/self/mountinfo 2>/dev/null | sort -r |
		while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

_cleanup() {
	status=$?
	set +e
	printf '%s\n' "$_cleanups" | while IFS= read -r c; do [ -n "$c" ] && eval "$c"; done
	for p in $_bg_pids; do kill -9 "$p" 2>/dev/null; done
	for p in $_bg_pids; do wait "$p" 2>/dev/null; done
	_unmount_under "$TEST_TMP"
	rm -rf "$TEST_TMP"
	exit $status
}
trap _cleanup EXIT
trap 'exit 130' INT TERM

strata() {
	"$STRATA_BIN" --root "$ROOT" "$@"
}

# LeakSanitizer stops the world with ptrace, which a traced process cannot:
# under make asan it ends a strata that strace runs with a fatal error. A
# traced strata checks no leaks (ASan's other checks stay on). `exec strace`
# and `command strace` bypass this function (the latter where a test needs
# strace itself as its background job); they set ASAN_OPTIONS themselves.
strace() {
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 command strace "$@"
}

fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	exit 1
}

skip() {
	echo "SKIP: $*"
	if [ "${STRATA_TEST_STRICT:-0}" = 1 ]; then
		echo "FAIL: $TEST_NAME: skipped under STRATA_TEST_STRICT=1" >&2
		exit 1
	fi
	exit 77
}

require_root() {
	[ "$(id -u)" = 0 ] || skip "$1 (needs root)"
}

require_cmd() {
	command -v "$1" >/dev/null 2>&1 || skip "$2 (needs '$1'; 'make deps' installs it)"
}

assert_exists() {
	[ -e "$1" ] || [ -L "$1" ] || fail "expected '$1' to exist"
}

assert_not_exists() {
	{ [ -e "$1" ] || [ -L "$1" ]; } && fail "expected '$1' not to exist"
	return 0
}

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-values differ}: got '$1', want '$2'"
}

assert_contains() {
	case "$1" in *"$2"*) ;; *) fail "${3:-missing text}: '$2' not in '$1'" ;; esac
}

assert_not_contains() {
	case "$1" in *"$2"*) fail "${3:-unexpected text}: '$2' in '$1'" ;; *) ;; esac
}

# Runs a command that must fail; sets $out to its stderr and $rc to its status.
expect_fail() {
	set +e
	out=$("$@" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ $rc -ne 0 ] || fail "expected failure: $*"
}

# Asserts that a failure message is exactly one line starting with "strata: ".
assert_one_line_error() {
	[ "$(printf '%s\n' "$1" | wc -l)" -eq 1 ] || fail "error is not one line: '$1'"
	assert_contains "$1" "strata: " "error prefix"
}

# Path of the deterministic busybox rootfs tar (built once per run).
busybox_tar() {
	mkdir -p "$STRATA_TEST_CACHE"
	t=$STRATA_TEST_CACHE/busybox.tar
	if [ ! -f "$t" ]; then
		"$TOP/fixtures/busybox/make-rootfs.sh" "$t.$$" >&2
		mv "$t.$$" "$t"
	fi
	echo "$t"
}

# Imports the busybox rootfs as busybox:latest into $ROOT.
import_busybox() {
	strata import "$(busybox_tar)" busybox >/dev/null
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Asserts that fsck finds nothing wrong.
assert_fsck_clean() {
	o=$(strata fsck 2>&1) || fail "fsck not clean: $o"
}
