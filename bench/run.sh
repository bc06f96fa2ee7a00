#!/bin/sh
# Container start-up end to end: `strata run --rm busybox true` (create,
# mount, namespaces, cgroup, exec, wait, teardown, remove) against
#   crun run of a prepared bundle of the same rootfs (made by `strata
#   bundle`); crun 1.8 refuses hybrid cgroups, so it runs in a private mount
#   namespace without the cgroup2 mount, and the cost of that wrapper alone
#   is measured and subtracted;
#   podman run --rm (runc, cgroupfs; PEERS.md's settings) of the same image.
. "$(dirname "$0")/lib.sh"

root=$BENCH_TMP/root
s() { "$STRATA_BIN" --root "$root" "$@"; }
tar=$BENCH_TMP/busybox.tar
"$BENCH_TOP/fixtures/busybox/make-rootfs.sh" "$tar" >/dev/null 2>&1
s import --change 'CMD ["sh"]' "$tar" busybox >/dev/null
s run --rm busybox true # warm: layer dirs made

echo "median of $BENCH_RUNS runs"
bench_header "operation" "strata (s)" "peer (s)" "ratio" "target"

b=$BENCH_TMP/bundle
s bundle busybox "$b" true >/dev/null
if [ -d /sys/fs/cgroup/unified ]; then
	hide="mount --make-rprivate / && umount /sys/fs/cgroup/unified"
	crun_cmd="cd '$b' && unshare -m sh -c '$hide && exec crun run bench-$$'"
	empty_cmd="unshare -m sh -c '$hide && true'"
else
	crun_cmd="cd '$b' && crun run bench-$$"
	empty_cmd="true"
fi
# The wrapper's own cost, timed in turns with strata too, then subtracted.
set -- $(bench_pair "'$STRATA_BIN' --root '$root' run --rm busybox true" "($crun_cmd)")
ours=$1 crun_t=$2
set -- $(bench_pair "true" "$empty_cmd")
empty=$2
crun_net=$(echo "$crun_t $empty" | awk '{ d = $1 - $2; printf "%.3f\n", (d > 0 ? d : $1) }')
bench_row "run --rm busybox true vs crun run (bundle; wrapper ${empty}s subtracted)" "$ours" \
	"$crun_net" "$(bench_ratio "$ours" "$crun_net")" "<= 1.5"

if command -v podman >/dev/null 2>&1; then
	pr=$BENCH_TMP/podman
	p() { podman --root "$pr/root" --runroot "$pr/run" --runtime runc --cgroup-manager=cgroupfs \
		--events-backend=file --storage-driver vfs "$@"; }
	bench_on_cleanup "podman --root '$pr/root' --runroot '$pr/run' --storage-driver vfs rm -af >/dev/null 2>&1; umount -R '$pr' 2>/dev/null; true"
	if skopeo copy -q "oci:$root:busybox:latest" \
		"containers-storage:[vfs@$pr/root+$pr/run]localhost/busybox:latest" >/dev/null 2>&1; then
		p run --rm --network=none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
			localhost/busybox true >/dev/null 2>&1
		set -- $(bench_pair "'$STRATA_BIN' --root '$root' run --rm busybox true" \
			"podman --root '$pr/root' --runroot '$pr/run' --runtime runc --cgroup-manager=cgroupfs --events-backend=file --storage-driver vfs run --rm --network=none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 localhost/busybox true")
		ours=$1 pod=$2
		bench_row "run --rm busybox true vs podman run --rm" "$ours" "$pod" \
			"$(bench_ratio "$ours" "$pod")" "<= 0.25"
	else
		echo "podman: cannot copy the image into its storage here; skipped"
	fi
fi
