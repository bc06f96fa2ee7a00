# OCI runtime bundles: `strata bundle` writes config.json and rootfs/ that
# Debian's crun (and runc) run unchanged, with the settings strata applies.
. "${0%/*}/../lib.sh"
require_root "runs crun"
require_cmd crun "runs the bundle"
import_busybox
b=$TEST_TMP/bundle
# The same walls as run: no_new_privs, capabilities, seccomp, the device
# policy (a node made inside does not open, --device's does), masked paths,
# the container's cgroup read-only at /sys/fs/cgroup.
strata bundle --memory 64m --pids-limit 50 --hostname bundled --device /dev/fuse busybox "$b" \
	sh -c 'echo pid=$$ host=$(hostname); ls /sys/class/net; grep -E "CapEff|NoNewPrivs" /proc/self/status
rm -f /tmp/k; mknod /tmp/k c 10 232 && { (exec 5<>/tmp/k) 2>/dev/null && echo kvm-open || echo kvm-denied; }
(exec 3<>/dev/fuse) && echo fuse-open
mkdir -p /mnt; mount -t tmpfs x /mnt 2>/dev/null && echo mounted || echo mount-denied
cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max' >/dev/null
assert_exists "$b/config.json"
assert_exists "$b/rootfs/bin/busybox"
python3 - "$b/config.json" <<'PY' || fail "config.json lacks what strata applies"
import json, sys
c = json.load(open(sys.argv[1]))
l = c["linux"]
assert c["ociVersion"].startswith("1.")
assert {n["type"] for n in l["namespaces"]} >= {"pid", "mount", "ipc", "uts", "network"}
assert l["resources"]["memory"]["limit"] == 64 << 20
assert l["resources"]["pids"]["limit"] == 50
assert "/proc/kcore" in l["maskedPaths"] and "/proc/sys" in l["readonlyPaths"]
assert "CAP_SYS_ADMIN" not in c["process"]["capabilities"]["bounding"]
assert "mount" in l["seccomp"]["syscalls"][0]["names"]
assert "ptrace" in l["seccomp"]["syscalls"][0]["names"]
assert c["process"]["noNewPrivileges"] is True
d = l["resources"]["devices"]
assert d[0] == {"allow": False, "access": "rwm"}, d[0]
assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in d
assert {"allow": True, "type": "c", "major": 10, "minor": 229, "access": "rwm"} in d
assert not any(r["allow"] and "r" in r["access"] and "major" not in r for r in d), d
assert l["devices"] == [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                         "fileMode": 0o666, "uid": 0, "gid": 0}], l["devices"]
assert any(m["destination"] == "/sys/fs/cgroup" and "ro" in m["options"] for m in c["mounts"])
PY
# --cap-add SYS_ADMIN opens mount in the bundle's filter too.
b2=$TEST_TMP/bundle-admin
strata bundle --cap-add SYS_ADMIN busybox "$b2" true >/dev/null
python3 - "$b2/config.json" <<'PY' || fail "the bundle's seccomp ignores --cap-add"
import json, sys
c = json.load(open(sys.argv[1]))
names = c["linux"]["seccomp"]["syscalls"][0]["names"]
assert "mount" not in names and "unshare" not in names and "ptrace" in names
assert "CAP_SYS_ADMIN" in c["process"]["capabilities"]["bounding"]
PY
# crun 1.8 refuses hybrid cgroups: run it where the cgroup2 mount is hidden.
id=strata-bundle-$$
on_cleanup "crun delete -f $id >/dev/null 2>&1"
if [ -d /sys/fs/cgroup/unified ]; then
	out=$(cd "$b" && unshare -m sh -c "mount --make-rprivate / && umount /sys/fs/cgroup/unified && exec crun run $id")
else
	out=$(cd "$b" && crun run "$id")
fi
check_run() { # RUNTIME OUTPUT
	assert_contains "$2" "pid=1 host=bundled" "$1"
	assert_contains "$2" "CapEff:	00000000a80425fb" "$1"
	assert_contains "$2" "NoNewPrivs:	1" "$1: no_new_privs"
	assert_eq "$(echo "$2" | sed -n 2p)" lo "$1: network none in the bundle"
	assert_contains "$2" "kvm-denied" "$1: the device policy"
	assert_contains "$2" "fuse-open" "$1: --device"
	assert_contains "$2" "mount-denied" "$1: seccomp"
	assert_contains "$2" "$((64 << 20))" "$1: the cgroup at /sys/fs/cgroup"
}
check_run crun "$out"
if command -v runc >/dev/null; then
	on_cleanup "runc delete -f $id-runc >/dev/null 2>&1"
	out=$(cd "$b" && runc run "$id-runc")
	check_run runc "$out"
fi
# An existing rootfs is not overwritten.
expect_fail strata bundle busybox "$b"
assert_one_line_error "$out"
