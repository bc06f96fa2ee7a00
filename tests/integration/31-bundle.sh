# OCI runtime bundles: `strata bundle` writes config.json and rootfs/ that
# Debian's crun (and runc) run unchanged, with the settings strata applies.
. "${0%/*}/../lib.sh"
require_root "runs crun"
require_cmd crun "runs the bundle"
import_busybox
b=$TEST_TMP/bundle
strata bundle --memory 64m --pids-limit 50 --hostname bundled busybox "$b" \
	sh -c 'echo pid=$$ host=$(hostname); ls /sys/class/net; grep CapEff /proc/self/status' >/dev/null
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
PY
# crun 1.8 refuses hybrid cgroups: run it where the cgroup2 mount is hidden.
id=strata-bundle-$$
on_cleanup "crun delete -f $id >/dev/null 2>&1"
if [ -d /sys/fs/cgroup/unified ]; then
	out=$(cd "$b" && unshare -m sh -c "mount --make-rprivate / && umount /sys/fs/cgroup/unified && exec crun run $id")
else
	out=$(cd "$b" && crun run "$id")
fi
assert_contains "$out" "pid=1 host=bundled"
assert_contains "$out" "CapEff:	00000000a80425fb"
assert_eq "$(echo "$out" | sed -n 2p)" lo "network none in the bundle"
# An existing rootfs is not overwritten.
expect_fail strata bundle busybox "$b"
assert_one_line_error "$out"
