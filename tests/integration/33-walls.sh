# The walls of a container: the device policy (run and exec, character
# and block nodes, --device), seccomp opened by the capabilities the
# container keeps, its own cgroup read-only at /sys/fs/cgroup, the
# default swap limit.
. "${0%/*}/../lib.sh"
require_root "namespaces, cgroups and device nodes"
import_busybox
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'

# A node of any device may be made, but only the default set opens:
# the host's hardware RNG (10:183), a block device (253:0), /dev/kvm (10:232).
# (A failed redirection of exec ends sh: each open is in a subshell.)
probe='mknod /tmp/r c 10 183 && { head -c8 /tmp/r >/dev/null && echo r-open; }
mknod /tmp/z b 253 0 && { (exec 3</tmp/z) && echo z-open; }
mknod /tmp/k c 10 232 && { (exec 5<>/tmp/k) && echo k-open; }
mknod /tmp/n c 1 3 && echo x >/tmp/n && echo null-ok
head -c4 /dev/urandom | wc -c; echo >/dev/tty 2>/dev/null; echo end'
out=$(strata run --rm busybox sh -c "$probe" 2>&1)
assert_not_contains "$out" "-open" "a host device opened in run"
assert_eq "$(echo "$out" | grep -c 'Operation not permitted')" 3 "EPERM for each host device: $out"
assert_contains "$out" "null-ok"
assert_contains "$out" "end"
id=$(strata run -d busybox sleep 60)
out=$(strata exec "$id" sh -c "$probe" 2>&1)
assert_not_contains "$out" "-open" "a host device opened in exec"
assert_eq "$(echo "$out" | grep -c 'Operation not permitted')" 3 "EPERM in exec: $out"
strata rm -f "$id" >/dev/null

# --device gives one node, bound in and allowed: /dev/fuse and a loop device.
out=$(strata run --rm --device /dev/fuse busybox sh -c 'exec 3<>/dev/fuse && echo fuse-open' 2>&1)
assert_eq "$out" fuse-open "--device /dev/fuse"
out=$(strata run --rm busybox sh -c 'mknod /tmp/f c 10 229; (exec 3<>/tmp/f) && echo fuse-open' 2>&1 || true)
assert_contains "$out" "Operation not permitted" "/dev/fuse without --device"
loop=$(ls /dev/loop[0-9]* 2>/dev/null | head -n1)
[ -b "$loop" ] || fail "no loop device on this host"
out=$(strata run --rm --device "$loop:/dev/disk0:r" busybox sh -c \
	'(exec 3</dev/disk0) && echo read-ok; (exec 4<>/dev/disk0) && echo write-open' 2>&1 || true)
assert_contains "$out" "read-ok" "a loop device given read-only reads"
assert_not_contains "$out" "write-open" "a loop device given read-only does not write"
expect_fail strata run --rm --device /etc/passwd busybox true
assert_one_line_error "$out"
assert_contains "$out" "not a device node"
expect_fail strata run --rm --device /dev/fuse:rx busybox true
assert_contains "$out" "invalid device access"

# Seccomp follows the capabilities kept, as Docker's default profile:
# SYS_ADMIN opens mount, SYS_PTRACE opens ptrace and process_vm_readv.
out=$(strata run --rm --cap-add SYS_ADMIN busybox sh -c \
	'mkdir -p /mnt && mount -t tmpfs x /mnt && grep " /mnt " /proc/mounts && umount /mnt && echo umounted' 2>&1)
assert_contains "$out" "x /mnt tmpfs" "--cap-add SYS_ADMIN mounts a tmpfs"
assert_contains "$out" "umounted"
out=$(strata run --rm --cap-add SYS_ADMIN busybox unshare -m -u sh -c 'hostname inner && hostname' 2>&1)
assert_eq "$out" inner "--cap-add SYS_ADMIN unshares"
out=$(strata run --rm busybox sh -c 'mkdir -p /mnt; mount -t tmpfs x /mnt || echo denied' 2>&1)
assert_contains "$out" "denied" "mount without SYS_ADMIN"
probe=$STRATA_TEST_HELPERS/ptrace-probe
out=$(strata run --rm --cap-add SYS_PTRACE -v "$probe:/probe:ro" busybox /probe)
assert_eq "$out" "ptrace: ok
process_vm_readv: ok" "--cap-add SYS_PTRACE"
out=$(strata run --rm -v "$probe:/probe:ro" busybox /probe)
assert_eq "$out" "ptrace: Operation not permitted
process_vm_readv: Operation not permitted" "ptrace without SYS_PTRACE"
# --cap-drop takes what the filter opens away again
out=$(strata run --rm --cap-add ALL --cap-drop SYS_PTRACE -v "$probe:/probe:ro" busybox /probe)
assert_contains "$out" "ptrace: Operation not permitted" "--cap-add ALL --cap-drop SYS_PTRACE"

# /sys/fs/cgroup holds the container's own cgroup, read-only: its limits
# are what a runtime inside reads; nothing of the host's tree shows.
out=$(strata run --rm --memory 64m --pids-limit 77 busybox sh -c \
	'cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max 2>&1 || cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max')
assert_eq "$out" "$((64 << 20))
77" "the cgroup limit files inside"
out=$(strata run --rm --memory 64m busybox sh -c \
	'for f in /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max; do [ -e $f ] && { echo 1 >$f && echo wrote; }; done; ls /sys/fs/cgroup/memory/strata /sys/fs/cgroup/strata 2>&1; mkdir /sys/fs/cgroup/x && echo made' 2>&1 || true)
assert_not_contains "$out" "wrote" "the cgroup is read-only inside"
assert_not_contains "$out" "made" "/sys/fs/cgroup is read-only inside"
assert_contains "$out" "Read-only file system"
# Only --memory on v1: memory + swap is twice the memory (podman's default).
if [ -f /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes ]; then
	assert_eq "$(strata run --rm --memory 64m busybox cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes)" \
		$((128 << 20)) "memsw default"
	assert_eq "$(strata run --rm --memory 64m --memory-swap 96m busybox cat /sys/fs/cgroup/memory/memory.memsw.limit_in_bytes)" \
		$((96 << 20)) "--memory-swap"
fi

# A build's RUN steps have the same device policy.
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
printf '%s\n' 'FROM busybox' \
	'RUN mknod /tmp/l b 7 0 && { (exec 5</tmp/l) && echo opened-$((6*7)) || echo denied-$((6*7)); }' \
	>"$ctx/Containerfile"
out=$(strata build --no-cache -t walls "$ctx" 2>&1)
assert_contains "$out" "denied-42" "RUN opened a host block device"
assert_not_contains "$out" "opened-42" "RUN opened a host block device"
