# Each store operation killed at every one of its file-creating, renaming
# and removing system calls in turn, not at random times: strace's fault
# injection sends SIGKILL on entry to the Nth openat (then renameat,
# mkdirat, unlinkat, symlinkat) of the operation, for N = 1, 2, ... until
# the operation runs to its end. After every kill fsck is clean at once,
# and the operation run again succeeds with the right result.
. "${0%/*}/../lib.sh"
require_root "makes overlay containers"
require_cmd strace

# LeakSanitizer cannot run under ptrace (a sanitized build exits 1 there).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS

import_busybox
ctx=$TEST_TMP/small
mkdir -p "$ctx/data"
for f in 1 2 3; do echo "file $f" >"$ctx/data/f$f"; done
tar -C "$ctx" -cf "$TEST_TMP/small.tar" .

# prep_OP makes the state the operation starts from; cmd_OP is the
# operation (killed); redo_OP runs it again after the kill and must succeed;
# check_OP tests its result.
prep_create() { strata rm -f cp >/dev/null 2>&1 || true; }
cmd_create() { echo create --name cp busybox; }
redo_create() { strata rm -f cp >/dev/null 2>&1; strata create --name cp busybox >/dev/null; }
check_create() {
	strata mount cp >/dev/null && strata umount cp >/dev/null || fail "mount the created container"
}

prep_rm() { strata rm -f cp >/dev/null 2>&1; strata create --name cp busybox >/dev/null; }
cmd_rm() { echo rm cp; }
redo_rm() { o=$(strata rm cp 2>&1) || case $o in *"no such container"* | *"not found"*) ;; *) echo "$o" >&2 && return 1 ;; esac; }
check_rm() { assert_not_contains "$(strata ps -a)" " cp" "containers after rm"; }

prep_tag() { strata rmi busybox:t >/dev/null 2>&1 || true; }
cmd_tag() { echo tag busybox busybox:t; }
redo_tag() { strata tag busybox busybox:t; }
check_tag() { strata inspect busybox:t >/dev/null || fail "the new tag"; }

prep_rmi() { strata tag busybox busybox:t; }
cmd_rmi() { echo rmi busybox:t; }
redo_rmi() { o=$(strata rmi busybox:t 2>&1) || case $o in *"no such image"* | *"not found"*) ;; *) echo "$o" >&2 && return 1 ;; esac; }
check_rmi() { assert_not_contains "$(strata images)" ":t " "names after rmi"; }

prep_import() { strata rmi -f small >/dev/null 2>&1 || true; }
cmd_import() { echo import "$TEST_TMP/small.tar" small; }
redo_import() { strata import "$TEST_TMP/small.tar" small >/dev/null; }
check_import() { assert_eq "$(strata export small | tar -xOf - --wildcards '*data/f3')" "file 3" "the imported file"; }

prep_commit() {
	strata rm -f cm >/dev/null 2>&1
	strata rmi -f committed >/dev/null 2>&1
	strata create --name cm busybox >/dev/null
	m=$(strata mount cm) && echo change >"$m/changed" && strata umount cm >/dev/null
}
cmd_commit() { echo commit cm committed; }
redo_commit() { strata commit cm committed >/dev/null; }
check_commit() { assert_eq "$(strata run --rm committed cat /changed)" "change" "the committed file"; }

points=0
for op in ${CRASH_POINTS_OPS:-create rm tag rmi import commit}; do
	for sc in openat renameat mkdirat unlinkat symlinkat; do
		# The calls before the first one in the store (loading libraries,
		# reading /etc and /proc) change nothing of it: start at that one.
		"prep_$op" || fail "prepare $op"
		set -- $("cmd_$op")
		strace -f -qq -o "$TEST_TMP/trace" -e trace=$sc "$STRATA_BIN" --root "$ROOT" "$@" >/dev/null 2>&1 ||
			fail "$op under strace"
		n=$(grep -n -e "$ROOT" -e "$sc([0-9]" "$TEST_TMP/trace" | head -1 | cut -d: -f1)
		n=${n:-1}
		"redo_$op" || fail "$op again after a whole run"
		while :; do
			"prep_$op" || fail "prepare $op"
			set -- $("cmd_$op")
			# (in a command substitution, so that the shell's "Killed" is not printed)
			rc=$({ (exec strace -f -qq -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n \
				"$STRATA_BIN" --root "$ROOT" "$@" >/dev/null 2>&1) && echo 0 || echo $?; } 2>/dev/null)
			o=$(strata fsck 2>&1) || fail "fsck after $op killed at $sc #$n: $o"
			"redo_$op" || fail "$op again after a kill at $sc #$n"
			[ $rc = 137 ] || {
				[ -z "${CRASH_POINTS_VERBOSE:-}" ] || echo "$op $sc: $n" >&2
				break
			}
			points=$((points + 1))
			n=$((n + 1))
			[ $n -le 80 ] || fail "$op: more than 80 calls of $sc"
		done
	done
	"check_$op"
done
[ $points -ge 50 ] || fail "only $points kill points were reached"
echo "$points kill points"
assert_fsck_clean
