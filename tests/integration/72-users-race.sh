# A volume or an image that a container being created is about to use is
# never pruned or removed under it: `create`/`run -v NAME:` against
# `volume prune`, `system prune --volumes`, `volume rm`, `rmi` and
# `image prune -a`; and a container that `run` made is not pruned before
# it starts. The window (from reading the image and making the
# volume to saving the record that names them) is widened to 0.6 s by
# strace delaying the create's renames into ROOT/containers, and the other
# command is run inside it; then the same pairs run freely many times.
. "${0%/*}/../lib.sh"
require_root "makes overlay containers"
require_cmd strace "delays a create to run a prune inside its window"
import_busybox
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'
# the layer dirs exist before the timed creates
strata rm "$(strata create busybox)" >/dev/null

# slow_create ARGS...: `strata create ARGS` in the background, its renames
# into ROOT/containers (the new container's dir, then its record) 0.3 s late.
slow_create() {
	strace -f -qq -o /dev/null -P "$ROOT/containers" -e trace=renameat,renameat2 \
		-e inject=renameat,renameat2:delay_enter=300000 \
		"$STRATA_BIN" --root "$ROOT" create "$@" >"$TEST_TMP/create.out" 2>&1 &
	slow_pid=$!
}

# slow_pin_create ARGS...: the same, its first flock of gc.lock (taken
# after the image is read, before the container is made) 0.6 s late; that
# flock is in $TEST_TMP/strace.log once the create waits there.
slow_pin_create() {
	rm -f "$TEST_TMP/strace.log"
	strace -f -qq -o "$TEST_TMP/strace.log" -P "$ROOT/gc.lock" -e trace=flock \
		-e inject=flock:delay_enter=600000:when=1 \
		"$STRATA_BIN" --root "$ROOT" create "$@" >"$TEST_TMP/create.out" 2>&1 &
	slow_pid=$!
}

# wait_for TEST...: polls TEST for up to 10 s.
wait_for() {
	n=0
	until "$@"; do
		n=$((n + 1))
		[ $n -lt 1000 ] || fail "timed out waiting for: $*"
		sleep 0.01
	done
}

# The create has read its image and waits to make its container.
pinning() { grep -q 'flock(' "$TEST_TMP/strace.log" 2>/dev/null; }

# ---- a new named volume against volume prune, system prune --volumes, volume rm ----
for i in 1 2 3 4 5 6; do
	slow_create --name "c$i" -v "v$i:/data" busybox sh -c 'echo ok >/data/f'
	wait_for test -d "$ROOT/volumes/v$i"
	case $i in
	1 | 2) strata volume prune -f >/dev/null ;;
	3 | 4)
		# podman's system prune takes a created container too: it waits for
		# the create to end, then removes the container, then its volume
		strata system prune -f --volumes >"$TEST_TMP/prune.out"
		wait "$slow_pid" || fail "create c$i: $(cat "$TEST_TMP/create.out")"
		id=$(cat "$TEST_TMP/create.out")
		assert_contains "$(cat "$TEST_TMP/prune.out")" "$id" "system prune: the created container"
		assert_contains "$(cat "$TEST_TMP/prune.out")" "v$i" "system prune: then its volume"
		assert_not_contains "$(strata ps -aq --no-trunc)" "$id" "containers after system prune"
		continue ;;
	*)
		expect_fail strata volume rm "v$i"
		assert_contains "$out" "volume 'v$i' is being used by container(s)" "volume rm in the window"
		assert_one_line_error "$out" ;;
	esac
	wait "$slow_pid" || fail "create c$i: $(cat "$TEST_TMP/create.out")"
	strata volume exists "v$i" || fail "volume v$i removed under the create of c$i"
	strata start -a "c$i" >/dev/null || fail "c$i does not start"
	assert_eq "$(cat "$ROOT/volumes/v$i/_data/f")" ok "what c$i wrote in its volume"
done

# ---- an image against rmi and image prune -a ----
# (a container keeps busybox from image prune -a)
strata create --name keep-busybox busybox >/dev/null
for i in 1 2 3 4; do
	strata import -c "LABEL n=$i" "$(busybox_tar)" "victim$i" >/dev/null
	slow_pin_create --name "ic$i" "victim$i" true
	wait_for pinning
	if [ $i -le 2 ]; then
		expect_fail strata rmi "victim$i"
		assert_contains "$out" "image 'victim$i' is in use by container" "rmi in the window"
		assert_one_line_error "$out"
	else
		strata image prune -a -f >/dev/null
	fi
	wait "$slow_pid" || fail "create ic$i: $(cat "$TEST_TMP/create.out")"
	strata images -q "victim$i" | grep -q . || fail "image victim$i removed under the create of ic$i"
	strata start -a "ic$i" >/dev/null || fail "ic$i does not start"
done

# ---- a container `run` has made, against container prune before it starts ----
# (its clones, the container's among them, come 0.8 s late)
for i in 1 2; do
	strace -f -qq -o /dev/null -e trace=clone,clone3 -e inject=clone,clone3:delay_enter=800000 \
		"$STRATA_BIN" --root "$ROOT" run --name "rp$i" --proc-view=false busybox echo "started $i" \
		>"$TEST_TMP/run.out" 2>&1 &
	slow_pid=$!
	wait_for sh -c "[ -n \"\$(\"$STRATA_BIN\" --root \"$ROOT\" ps -aq --filter name=^rp$i\$)\" ]"
	if [ $i = 1 ]; then
		strata container prune -f >/dev/null
	else
		strata system prune -f >/dev/null
	fi
	wait "$slow_pid" || fail "run rp$i under a container prune: $(cat "$TEST_TMP/run.out")"
	assert_eq "$(cat "$TEST_TMP/run.out")" "started $i" "run under a prune"
done
# once its run is gone, it is prunable as podman's
strata container prune -f >/dev/null
assert_eq "$(strata ps -aq --filter name=^rp)" "" "containers after the runs"

# ---- the same pairs, free-running ----
(
	for i in $(seq 1 25); do
		strata run --rm -v "free$i:/data" busybox true ||
			{ echo "run $i failed" >"$TEST_TMP/free.fail"; }
	done
) &
runner=$!
while kill -0 "$runner" 2>/dev/null; do
	strata volume prune -f >/dev/null
done
wait "$runner"
[ ! -e "$TEST_TMP/free.fail" ] || fail "$(cat "$TEST_TMP/free.fail") under concurrent volume prunes"
assert_fsck_clean
