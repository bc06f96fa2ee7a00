# The newer store operations killed at their file-creating, renaming and
# removing system calls (as 28-crash-points does for the older ones):
# volume create, rm and prune; load from a stdin pipe; image, container
# and system prune; rmi -a; the store's settings (config); commit of a
# running container; a build with a cache mount, and with --squash. strace
# sends SIGKILL on entry to the Nth renameat, unlinkat or openat of the
# store, at up to POINTS calls spread over the operation's run. After every
# kill fsck is clean at once and the operation run again succeeds; after
# each operation's kills, gc leaves nothing in ROOT/tmp and no temporary
# file of a record rewrite (.tmp-*) anywhere in the store.
. "${0%/*}/../lib.sh"
require_root "makes overlay containers and volumes"
require_cmd strace "injects the kills"

ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
export ASAN_OPTIONS
POINTS=${CRASH_POINTS_NEWER:-5}

import_busybox
strata save -o "$TEST_TMP/saved.tar" busybox
ctx=$TEST_TMP/ctx
mkdir -p "$ctx/data"
echo one >"$ctx/data/one"
cat >"$ctx/Containerfile" <<'EOF2'
FROM busybox
COPY data /data
RUN --mount=type=cache,target=/cache sh -c 'echo x >>/cache/n; cp /data/one /two'
RUN echo three >/three && rm /data/one
EOF2

q() { strata "$@" >/dev/null 2>&1 || true; }
# the error of a re-run that finds its work done by the killed run is no failure
gone_ok() {
	o=$(strata "$@" 2>&1 >/dev/null) ||
		case $o in *"no such"* | *"not found"* | *"No such"*) ;; *) echo "$o" >&2 && return 1 ;; esac
}

prep_volcreate() { q volume rm -f v1; }
cmd_volcreate() { echo volume create v1; }
redo_volcreate() { q volume rm -f v1; strata volume create v1 >/dev/null; }
check_volcreate() { strata volume inspect v1 >/dev/null || fail "volume v1"; }

# The re-run uses the volume the killed run left: it must find it empty and
# fill it, or filled whole, never with part of /bin.
prep_volcopyup() { q rm -f vc; q volume rm -f vcu; }
cmd_volcopyup() { echo run --name vc -v vcu:/bin busybox true; }
redo_volcopyup() {
	q rm -f vc
	strata run --name vc -v vcu:/bin busybox true || return 1
	got=$(strata run --rm -v vcu:/v busybox sh -c 'cd /v && find . -mindepth 1 -exec ls -ld {} + | sort')
	[ "$got" = "$BIN_LIST" ] || {
		echo "the volume holds another tree than /bin: $got" >&2
		return 1
	}
}
check_volcopyup() { q rm -f vc; }
SC_volcopyup="renameat unlinkat openat symlinkat"
BIN_LIST=$(strata run --rm busybox sh -c 'cd /bin && find . -mindepth 1 -exec ls -ld {} + | sort')

prep_volrm() { q volume create v1; }
cmd_volrm() { echo volume rm v1; }
redo_volrm() { gone_ok volume rm v1; }
check_volrm() { assert_not_contains "$(strata volume ls -q)" "v1" "volumes after rm"; }

prep_volprune() { q volume create v1; q volume create v2; }
cmd_volprune() { echo volume prune -f; }
redo_volprune() { strata volume prune -f >/dev/null; }
check_volprune() { assert_eq "$(strata volume ls -q)" "" "volumes after prune"; }

prep_loadstdin() { q rmi -f busybox; }
cmd_loadstdin() { echo load -q; }
STDIN_loadstdin=$TEST_TMP/saved.tar
redo_loadstdin() { strata load -q <"$TEST_TMP/saved.tar" >/dev/null; }
check_loadstdin() { strata run --rm busybox true || fail "run the loaded image"; }

prep_imgprune() {
	strata import "$(busybox_tar)" dangling >/dev/null
	strata rmi dangling >/dev/null
	strata tag busybox other:1
}
cmd_imgprune() { echo image prune -a -f; }
redo_imgprune() { strata image prune -a -f >/dev/null; strata load -q -i "$TEST_TMP/saved.tar" >/dev/null; }
check_imgprune() { assert_not_contains "$(strata images)" "other" "images after prune -a"; }

prep_ctrprune() { q create --name c1 busybox; q create --name c2 busybox; }
cmd_ctrprune() { echo container prune -f; }
redo_ctrprune() { strata container prune -f >/dev/null; }
check_ctrprune() { assert_eq "$(strata ps -aq)" "" "containers after prune"; }

prep_sysprune() { q create --name c1 busybox; strata tag busybox other:1; q volume create v1; }
cmd_sysprune() { echo system prune -a -f --volumes; }
redo_sysprune() { strata system prune -a -f --volumes >/dev/null; strata load -q -i "$TEST_TMP/saved.tar" >/dev/null; }
check_sysprune() { assert_eq "$(strata ps -aq)$(strata volume ls -q)" "" "what system prune leaves"; }

prep_rmia() { strata tag busybox other:1; }
cmd_rmia() { echo rmi -a -f; }
redo_rmia() { strata rmi -a -f >/dev/null 2>&1 || true; strata load -q -i "$TEST_TMP/saved.tar" >/dev/null; }
check_rmia() { assert_not_contains "$(strata images)" "other" "images after rmi -a"; }

prep_config() { q config proc-view true; }
cmd_config() { echo config proc-view false; }
redo_config() { strata config proc-view false >/dev/null; }
check_config() { assert_contains "$(strata config)" "false" "the setting"; }

prep_commitrun() {
	q rm -f cr
	q rmi -f crimg
	strata run -d --name cr busybox sh -c 'echo hi >/hi; sleep 600' >/dev/null
	i=0
	until strata exec cr test -f /hi 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 50 ] || fail "the container did not write /hi"
		sleep 0.1
	done
}
cmd_commitrun() { echo commit cr crimg; }
redo_commitrun() { strata commit cr crimg >/dev/null; }
check_commitrun() {
	assert_eq "$(strata run --rm crimg cat /hi)" "hi" "the committed file"
	q rm -f cr
}

prep_build() { q rmi -f built; }
cmd_build() { echo build -q --no-cache -t built "$ctx"; }
redo_build() { strata build -q -t built "$ctx" >/dev/null; }
check_build() { assert_eq "$(strata run --rm built sh -c 'cat /two /three; ls /data')" "one
three" "the built image"; }

prep_squash() { q rmi -f squashed; }
cmd_squash() { echo build -q --no-cache --squash -t squashed "$ctx"; }
redo_squash() { strata build -q --squash -t squashed "$ctx" >/dev/null; }
check_squash() {
	assert_eq "$(strata run --rm squashed sh -c 'cat /two /three; ls /data')" "one
three" "the squashed image"
	assert_eq "$(strata inspect --format '{{len .RootFS.Layers}}' squashed)" 2 "layers of the squashed image"
}

leftovers() {
	{
		find "$ROOT" -name '.tmp-*'
		find "$ROOT/tmp" -mindepth 1 -maxdepth 1
	} 2>/dev/null
}

points=0
for op in ${CRASH_NEWER_OPS:-volcreate volcopyup volrm volprune loadstdin imgprune ctrprune sysprune rmia config commitrun build squash}; do
	eval "in=\${STDIN_$op:-/dev/null}"
	eval "scs=\${SC_$op:-renameat unlinkat openat}"
	for sc in $scs; do
		"prep_$op" >/dev/null 2>&1 || fail "prepare $op"
		set -- $("cmd_$op")
		strace -f -qq -o "$TEST_TMP/trace" -e trace=$sc "$STRATA_BIN" --root "$ROOT" "$@" \
			<"$in" >/dev/null 2>&1 || fail "$op under strace"
		# the calls in the store, from the first one there
		first=$(grep -n "$ROOT" "$TEST_TMP/trace" | head -1 | cut -d: -f1)
		total=$(wc -l <"$TEST_TMP/trace")
		first=${first:-1}
		"redo_$op" || fail "$op again after a whole run"
		step=$(((total - first) / POINTS + 1))
		n=$first
		while :; do
			"prep_$op" >/dev/null 2>&1 || fail "prepare $op"
			set -- $("cmd_$op")
			rc=$({ (exec strace -f -qq -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n \
				"$STRATA_BIN" --root "$ROOT" "$@" <"$in" >/dev/null 2>&1) && echo 0 || echo $?; } 2>/dev/null)
			o=$(strata fsck 2>&1) || fail "fsck after $op killed at $sc #$n: $o"
			"redo_$op" || fail "$op again after a kill at $sc #$n"
			[ "$rc" = 137 ] || break
			points=$((points + 1))
			n=$((n + step))
		done
	done
	"check_$op"
	for id in $(strata ps -aq); do q rm -f "$id"; done
	strata gc >/dev/null || fail "gc after $op"
	l=$(leftovers)
	[ -z "$l" ] || fail "left after $op's kills and gc: $l"
	assert_fsck_clean
done
[ $points -ge 60 ] || fail "only $points kill points were reached"
echo "$points kill points"
