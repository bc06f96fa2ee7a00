# The container's own cgroup at /sys/fs/cgroup on cgroup v2, for real: where
# /sys/fs/cgroup is a cgroup2 hierarchy, and on a hybrid host (v1 plus an
# empty cgroup2 at /sys/fs/cgroup/unified) in a private mount namespace
# where that cgroup2 is /sys/fs/cgroup. strata then makes the container's
# cgroup in it, starts PID 1 there (clone3 CLONE_INTO_CGROUP), confines its
# devices with a BPF program and shows it its own cgroup, read-only, in its
# cgroup namespace.
. "${0%/*}/../lib.sh"
require_root "cgroups and mount namespaces"
import_busybox

fstype() { stat -f -c %T "$1" 2>/dev/null || true; }
if [ "$(fstype /sys/fs/cgroup)" = cgroup2fs ]; then
	v2() { "$STRATA_BIN" --root "$ROOT" "$@"; }
	tree=/sys/fs/cgroup
elif [ "$(fstype /sys/fs/cgroup/unified)" = cgroup2fs ]; then
	v2() {
		unshare -m sh -c 'mount --make-rprivate / && mount --bind /sys/fs/cgroup/unified /sys/fs/cgroup &&
			exec "$@"' sh "$STRATA_BIN" --root "$ROOT" "$@"
	}
	tree=/sys/fs/cgroup/unified
else
	skip "no cgroup2 hierarchy on this host"
fi
left() { find "$tree" -maxdepth 6 -type d -path '*/strata/*' -name "$1" 2>/dev/null; }

out=$(v2 run --rm --name v2view busybox sh -c '
	grep "^0::" /proc/self/cgroup
	grep " /sys/fs/cgroup " /proc/self/mountinfo
	echo procs: $(cat /sys/fs/cgroup/cgroup.procs)
	echo dirs: $(find /sys/fs/cgroup -mindepth 1 -type d | wc -l)
	mkdir /sys/fs/cgroup/x 2>&1 || true
	{ echo x > /sys/fs/cgroup/cgroup.procs; } 2>&1 || true
	mknod /tmp/kvm c 10 232 && { (: <>/tmp/kvm) && echo opened-kvm; } 2>&1
	(: <>/dev/null) && echo null-ok
	cat /proc/1/cgroup | grep "^0::"')
# Rooted at its own cgroup (cgroup namespace), which is a cgroup2 mount, read-only.
assert_contains "$out" "0::/
" "the cgroup namespace's root is the container's cgroup"
line=$(printf '%s\n' "$out" | grep ' /sys/fs/cgroup ' | tail -n 1)
assert_contains "$line" " - cgroup2 " "/sys/fs/cgroup is a cgroup2 mount"
assert_contains "$line" " ro," "/sys/fs/cgroup read-only"
assert_eq "$(printf '%s\n' "$out" | grep -c ' /sys/fs/cgroup ')" 1 "one mount at /sys/fs/cgroup"
# Its own processes, nothing of the host's tree.
assert_contains "$out" "procs: 1 " "PID 1 in the cgroup shown"
assert_contains "$out" "dirs: 0" "no other cgroup reachable"
assert_contains "$out" "Read-only file system"
# The device program is attached: a node made inside cannot be opened.
assert_not_contains "$out" "opened-kvm"
assert_contains "$out" "Operation not permitted"
assert_contains "$out" "null-ok"
# Gone with the container.
assert_eq "$(left '[0-9a-f]*' | wc -l)" 0 "cgroup dirs left in $tree"

# The same view in a container started detached, and in exec.
id=$(v2 run -d busybox sleep 30)
on_cleanup "'$STRATA_BIN' --root '$ROOT' rm -f $id >/dev/null 2>&1"
assert_eq "$(left "$id" | wc -l)" 1 "the container's cgroup in $tree"
procs=$(v2 exec "$id" cat /sys/fs/cgroup/cgroup.procs | tr '\n' ' ')
assert_contains "$procs" "1 " "exec sees the container's cgroup"
assert_eq "$(v2 exec "$id" grep '^0::' /proc/self/cgroup)" "0::/" "exec joins the cgroup namespace"
v2 rm -f "$id" >/dev/null
assert_eq "$(left "$id" | wc -l)" 0 "rm -f removed the cgroup"
assert_fsck_clean
