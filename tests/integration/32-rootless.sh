# Rootless: strata run by a user that is not root. The container gets a
# user namespace that maps that user to root (uid_map "0 UID 1"), its
# overlay is mounted inside it (userxattr), PID 1, hostname isolation,
# writes land in the upper dir and commit packs them as root's, exit codes,
# --memory without a cgroup is a clear error, so is a kernel that refuses
# user namespaces; mount works in `strata unshare`; a build runs its RUN
# steps rootless; nothing is left behind.
. "${0%/*}/../lib.sh"
require_cmd setpriv "switching to an unprivileged user"

# As root (CI) the test runs strata as nobody; as another user, as that user.
if [ "$(id -u)" = 0 ]; then
	RUID=65534 RGID=65534
	wrap="setpriv --reuid=$RUID --regid=$RGID --clear-groups --inh-caps=-all"
else
	RUID=$(id -u) RGID=$(id -g)
	wrap=""
fi
# $TEST_TMP is root's and mode 0700: the user needs a directory it can reach.
RL=$(mktemp -d "${TMPDIR:-/tmp}/strata-rootless.XXXXXX")
on_cleanup 'rm -rf "$RL"'
chmod 0755 "$RL"
cp "$(busybox_tar)" "$RL/busybox.tar"
mkdir -p "$RL/home" "$RL/ctx"
[ -z "$wrap" ] || chown -R "$RUID:$RGID" "$RL"
STORE=$RL/home/.local/share/strata

# The user's own environment: a store under its XDG_DATA_HOME, nothing of ours.
as_user() {
	$wrap env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$RL/home" \
		XDG_DATA_HOME="$RL/home/.local/share" "$@"
}
rs() { as_user "$STRATA_BIN" "$@"; }

as_user test -x "$STRATA_BIN" || fail "the user $RUID cannot run '$STRATA_BIN'"
# Processes of the user's (as root: nobody's) that are there before we start.
# (Exited ones, zombies until PID 1 of the machine reaps them, do not count.)
live_pids() { ps -u "$RUID" -o pid=,stat= | awk '$2 !~ /^Z/ {print $1}' | sort; }
[ -z "$wrap" ] || live_pids >"$RL/pids.before"
# Containers go whatever happens (rm -f kills and waits).
on_cleanup 'for c in $(rs ps -aq 2>/dev/null); do rs rm -f "$c" >/dev/null 2>&1; done'

rs import "$RL/busybox.tar" busybox >/dev/null || fail "import as the user"
assert_exists "$STORE/index.json"
assert_eq "$(stat -c %u "$STORE/index.json")" "$RUID" "the store is the user's"
info=$(rs info)
assert_contains "$info" "default: overlay" "overlayfs is the default without root here"
assert_contains "$info" "rootless: yes" "info says rootless"
[ -z "$wrap" ] || assert_contains "$(strata info)" "rootless: no" "info as root"

run() { rs run --rm busybox "$@"; }

# Root inside, by the single mapping of the user; PID 1; the hostname is the container's.
assert_eq "$(run id -u)" 0 "uid inside"
assert_eq "$(run id -g)" 0 "gid inside"
assert_eq "$(run cat /proc/self/uid_map | tr -s ' ' | sed 's/^ //')" "0 $RUID 1" "uid_map"
assert_eq "$(run cat /proc/self/gid_map | tr -s ' ' | sed 's/^ //')" "0 $RGID 1" "gid_map"
assert_eq "$(run sh -c 'echo $$')" 1 "the command is PID 1"
assert_eq "$(run sh -c 'ps -o pid,comm; true' | tail -n +2 | awk '{print $1 ":" $2}' | tr '\n' ' ')" \
	"1:sh 2:ps " "ps sees only sh and ps"
# -t: a pty of the container's devpts (mounted in the user namespace); --init.
assert_eq "$(rs run --rm -t busybox tty | tr -d '\r')" /dev/pts/0 "tty without root"
assert_eq "$(rs run --rm --init busybox cat /proc/1/cmdline | tr '\0' ' ')" \
	"init -- cat /proc/1/cmdline " "--init without root"
assert_eq "$(rs run --rm --hostname box1 busybox hostname)" box1 "--hostname"
[ "$(run hostname)" != "$(hostname)" ] || fail "hostname leaks from the host"
assert_eq "$(run ls /sys/class/net)" lo "only lo with --net none"
# The rootfs is an overlay mounted in the container's namespaces, with userxattr.
mounts=$(run cat /proc/self/mountinfo)
assert_contains "$(echo "$mounts" | awk '$5 == "/"')" "overlay" "the rootfs is an overlay"
assert_contains "$(echo "$mounts" | awk '$5 == "/"')" "userxattr" "mounted with userxattr"
# /dev nodes (bound from the host: no mknod in a user namespace) and a pty instance.
assert_eq "$(run sh -c 'echo x > /dev/null && head -c 4 /dev/zero | wc -c')" 4 "/dev/null, /dev/zero"
assert_contains "$(run ls /dev/pts)" "ptmx" "devpts"
# /proc/sys read-only, /proc/kcore masked, as for root.
set +e
run sh -c 'echo 1 > /proc/sys/kernel/ns_last_pid' 2>/dev/null
rc=$?
set -e
[ $rc -ne 0 ] || fail "/proc/sys is writable"
# Capabilities: the default set, of the container's own namespace; no mount.
assert_eq "$(run grep CapEff /proc/self/status | awk '{print $2}')" 00000000a80425fb "CapEff"
set +e
run mount -t tmpfs none /mnt 2>/dev/null
rc=$?
set -e
[ $rc -ne 0 ] || fail "mount works inside"

# Exit codes.
for code in 0 1 42; do
	set +e
	run sh -c "exit $code"
	rc=$?
	set -e
	assert_eq "$rc" "$code" "exit code"
done
# PID 1 cannot be killed from inside: from the host, as the same user.
k=$(rs run -d busybox sleep 60)
rs kill "$k" >/dev/null
assert_eq "$(rs wait "$k")" 137 "killed by SIGKILL"
rs rm "$k" >/dev/null

# Limits need a cgroup the user may write: a clear error, and no container left.
before=$(rs ps -aq | wc -l)
expect_fail rs run --rm --memory 32m busybox true
assert_one_line_error "$out"
assert_contains "$out" "strata: run: cgroup limits need root or a delegated cgroup"
assert_eq "$rc" 125 "exit status of the limit error"
assert_eq "$(rs ps -aq | wc -l)" "$before" "the failed run left a container"

# A kernel (or a profile) that refuses user namespaces: one clear line.
shim=${STRATA_TEST_HELPERS:-$TOP/build/tests}/no-userns
[ -x "$shim" ] || fail "no $shim: run 'make units'"
expect_fail as_user "$shim" "$STRATA_BIN" run --rm busybox true
assert_one_line_error "$out"
assert_contains "$out" "strata: run: "
assert_contains "$out" ": user namespaces are not available to this user"

# A detached container: exec joins it, its writes land in the upper dir.
id=$(rs run -d --name keep busybox sh -c 'mkdir -p /data && echo hello > /data/f && sleep 60')
pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["State"]["Pid"])' \
	"$STORE/containers/$id/container.json")
for i in $(seq 50); do [ -f "$STORE/containers/$id/upper/data/f" ] && break; sleep 0.1; done
assert_eq "$(cat "$STORE/containers/$id/upper/data/f")" hello "the write is in the upper dir"
assert_eq "$(stat -c %u "$STORE/containers/$id/upper/data/f")" "$RUID" "owned by the user on the host"
assert_eq "$(rs exec keep id -u)" 0 "exec: uid"
assert_eq "$(rs exec keep cat /data/f)" hello "exec sees the container's files"
assert_eq "$(rs exec keep sh -c 'ps -o pid,comm | grep -c sleep')" 1 "exec joins the PID namespace"
# The merged mount exists only in the container's namespaces: not on the host.
assert_not_contains "$(cat /proc/self/mountinfo)" "$RL" "a mount on the host"
# mount says where it works; in `strata unshare` it does.
expect_fail rs mount keep
assert_one_line_error "$out"
assert_contains "$out" "strata unshare"
out=$(as_user "$STRATA_BIN" unshare sh -c "m=\$(\"$STRATA_BIN\" mount keep) && cat \"\$m/data/f\" && \"$STRATA_BIN\" umount keep")
assert_eq "$out" hello "mount inside strata unshare"
rs stop -t 1 keep >/dev/null
! kill -0 "$pid" 2>/dev/null || fail "the container's PID 1 survived stop"
img=$(rs commit keep snap)
rs export snap | tar -tvf - >"$RL/listing"
grep -q ' 0/0 .* data/f$' "$RL/listing" || fail "data/f not in the export as 0/0: $(grep data "$RL/listing")"
assert_eq "$(rs run --rm snap cat /data/f)" hello "the committed image runs"
rs rm keep >/dev/null
assert_not_exists "$STORE/containers/$id"

# A build: RUN steps in rootless containers, a whiteout and an opaque dir, COPY.
printf 'FROM busybox\nRUN mkdir /od && echo a > /od/a && echo x > /gone\nRUN rm -rf /od /gone && mkdir /od && echo b > /od/b\nCOPY f /copied\n' \
	>"$RL/ctx/Containerfile"
echo copied >"$RL/ctx/f"
[ -z "$wrap" ] || chown -R "$RUID:$RGID" "$RL/ctx"
rs build -q -t built "$RL/ctx" >/dev/null || fail "rootless build"
assert_eq "$(rs run --rm built sh -c 'ls /od; cat /copied; test -e /gone || echo no-gone')" \
	"b
copied
no-gone" "the built image: opaque dir, copy, whiteout"

# vfs works too.
assert_eq "$(rs --backend vfs run --rm busybox id -u)" 0 "vfs"

# Nothing is left: no container, no mount, no process, no staging.
assert_eq "$(rs ps -aq | wc -l)" 0 "containers left"
assert_not_contains "$(cat /proc/self/mountinfo)" "$RL" "a mount left on the host"
# No strata process (monitor, supervisor) of ours: they all have our HOME.
left=$(grep -lsaF "HOME=$RL/home" /proc/[0-9]*/environ || true)
[ -z "$left" ] || fail "strata processes left: $left"
# As root, no new process of nobody's either (a container's PID 1 or its children).
if [ -n "$wrap" ]; then
	live_pids >"$RL/pids.after"
	left=$(comm -13 "$RL/pids.before" "$RL/pids.after" | tr '\n' ' ')
	[ -z "$left" ] || fail "processes of uid $RUID left: $left"
fi
