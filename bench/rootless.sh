#!/bin/sh
# Without root, as a user of its own with subordinate ids (made here with
# useradd and ranges in /etc/subuid and /etc/subgid, removed at the end):
#   strata run --rm busybox true  vs  rootless crun run of a bundle of the
#     same rootfs (crun 1.8 refuses hybrid cgroups: it runs under a wrapper
#     that maps the user to root and hides the cgroup2 mount with a tmpfs;
#     the wrapper alone is timed and subtracted), and vs rootless podman run
#     --rm (runc, cgroupfs, vfs);
#   strata run --rm --userns=keep-id busybox true, first (the id-mapped
#     copy made) and next runs (reused)  vs  rootless podman --userns=keep-id;
#   strata pull of Debian  vs  skopeo copy + umoci unpack --rootless, each
#     into a fresh filesystem, beside the same pair as root.
# Every side runs as that user through setpriv (the same wrapper each side).
. "$(dirname "$0")/lib.sh"

ruser=strbench$$
home=$BENCH_TMP/home
bench_on_cleanup "for p in \$(ps -u $ruser -o pid= 2>/dev/null); do kill -9 \$p; done; sleep 0.2; \
	userdel $ruser 2>/dev/null; sed -i '/^$ruser:/d' /etc/subuid /etc/subgid"
useradd -M -d "$home" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$ruser"
base=$((5000000 + ($$ % 1000) * 70000))
usermod --add-subuids "$base-$((base + 65535))" --add-subgids "$base-$((base + 65535))" "$ruser"
ruid=$(id -u "$ruser")
rgid=$(id -g "$ruser")
chmod 0755 "$BENCH_TMP"
mkdir -p "$home/run" "$home/bundle/rootfs"
as="setpriv --reuid=$ruid --regid=$rgid --init-groups --inh-caps=-all env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=$home XDG_RUNTIME_DIR=$home/run"
"$BENCH_TOP/fixtures/busybox/make-rootfs.sh" "$home/busybox.tar" >/dev/null 2>&1
tar -C "$home/bundle/rootfs" -xf "$home/busybox.tar"
chown -R "$ruid:$rgid" "$home"
rs="$as $STRATA_BIN"
$rs import --change 'CMD ["sh"]' "$home/busybox.tar" busybox >/dev/null
$rs run --rm --proc-view=false busybox true # warm: layer dirs made

echo "median of $BENCH_RUNS runs, as an unprivileged user with subordinate ids"
bench_header "operation" "strata (s)" "peer (s)" "ratio" "target"

# crun's rootless bundle (its own user namespace of the user alone), as crun spec --rootless makes it.
(cd "$home/bundle" && crun spec --rootless && python3 -c '
import json
c = json.load(open("config.json"))
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
json.dump(c, open("config.json", "w"))')
chown -R "$ruid:$rgid" "$home/bundle"
hide="mount -t tmpfs none /sys/fs/cgroup/unified"
crun_cmd="$as sh -c \"cd $home/bundle && unshare -r -m sh -c '$hide && exec crun --root $home/run/crun run b1'\""
empty_cmd="$as sh -c \"cd $home/bundle && unshare -r -m sh -c '$hide && true'\""
set -- $(bench_pair --settle 0.1 "$rs run --rm --proc-view=false busybox true" "$crun_cmd")
ours=$1 crun_t=$2
set -- $(bench_pair --settle 0.1 "$as true" "$empty_cmd")
empty=$(echo "$2 $1" | awk '{ d = $1 - $2; printf "%.3f\n", (d > 0 ? d : 0) }')
crun_net=$(echo "$crun_t $empty" | awk '{ d = $1 - $2; printf "%.3f\n", (d > 0 ? d : $1) }')
bench_row "rootless run --rm busybox true vs rootless crun run (bundle; wrapper ${empty}s subtracted)" \
	"$ours" "$crun_net" "$(bench_ratio "$ours" "$crun_net")" "<= 1.5"

pod="podman --runtime runc --cgroup-manager=cgroupfs --events-backend=file --storage-driver vfs"
if $as $pod import -q "$home/busybox.tar" localhost/busybox >/dev/null 2>&1 &&
	$as $pod run --rm --network=none localhost/busybox true >/dev/null 2>&1; then
	bench_on_cleanup "$as $pod rm -af >/dev/null 2>&1; $as $pod system migrate >/dev/null 2>&1; true"
	set -- $(bench_pair --settle 0.1 "$rs run --rm --proc-view=false busybox true" \
		"$as $pod run --rm --network=none localhost/busybox true")
	bench_row "rootless run --rm busybox true vs rootless podman run --rm" "$1" "$2" \
		"$(bench_ratio "$1" "$2")" "<= 0.25"
	# --userns=keep-id: the first run makes the id-mapped copy of the layer
	# (gc, untimed, removes it before each run), the next ones reuse it;
	# podman's keep-id run (its vfs copy per container) beside both
	keep="$rs run --rm --proc-view=false --userns=keep-id busybox true"
	pkeep="$as $pod run --rm --network=none --userns=keep-id localhost/busybox true"
	if $pkeep >/dev/null 2>&1 && $keep >/dev/null 2>&1; then
		set -- $(bench_pair --setup "$rs gc" --settle 0.1 "$keep" "$pkeep")
		bench_row "rootless run --rm --userns=keep-id busybox true, copy made, vs podman's keep-id" \
			"$1" "$2" "$(bench_ratio "$1" "$2")" "<= 0.5"
		$keep >/dev/null 2>&1
		set -- $(bench_pair --settle 0.1 "$keep" "$pkeep")
		bench_row "rootless run --rm --userns=keep-id busybox true, copy reused, vs podman's keep-id" \
			"$1" "$2" "$(bench_ratio "$1" "$2")" "<= 0.25"
	else
		echo "keep-id: podman or strata cannot run it here; skipped"
	fi
else
	echo "podman: cannot run rootless here; skipped"
fi

# BENCH_ROOTLESS_RUN_ONLY=1: the runs above only (the pulls take minutes).
[ -z "${BENCH_ROOTLESS_RUN_ONLY:-}" ] || exit 0

# Pull of Debian from a registry on 127.0.0.1, into a fresh filesystem each run.
layout=$(bench_debian_layout)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
reg=127.0.0.1:$port
printf 'version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
	"$BENCH_TMP/registry" "$reg" >"$BENCH_TMP/registry.yml"
/usr/bin/docker-registry serve "$BENCH_TMP/registry.yml" >"$BENCH_TMP/registry.log" 2>&1 &
regpid=$!
bench_on_cleanup "kill $regpid 2>/dev/null; wait $regpid 2>/dev/null"
until curl -s -o /dev/null "http://$reg/v2/"; do sleep 0.1; done
skopeo copy -q --dest-tls-verify=false "oci:$layout:debian" "docker://$reg/debian:latest"
fs=$BENCH_TMP/fs
fresh="bench_fresh_fs '$fs' && chown $ruid:$rgid '$fs'"
set -- $(bench_pair --setup "bench_fresh_fs '$fs'" \
	"'$STRATA_BIN' --root '$fs/root' pull -q --tls-verify=false '$reg/debian:latest'" \
	"skopeo copy -q --src-tls-verify=false 'docker://$reg/debian:latest' 'oci:$fs/oci:debian' && umoci unpack --image '$fs/oci:debian' '$fs/bundle'")
bench_row "root: pull, ready to mount, vs skopeo copy + umoci unpack" "$1" "$2" \
	"$(bench_ratio "$1" "$2")" "<= 0.5"
set -- $(bench_pair --setup "$fresh" \
	"$rs --root '$fs/root' pull -q --tls-verify=false '$reg/debian:latest'" \
	"$as sh -c \"skopeo copy -q --src-tls-verify=false 'docker://$reg/debian:latest' 'oci:$fs/oci:debian' && umoci unpack --rootless --image '$fs/oci:debian' '$fs/bundle'\"")
bench_row "rootless: pull, ready to mount, vs skopeo copy + umoci unpack --rootless" "$1" "$2" \
	"$(bench_ratio "$1" "$2")" "<= 0.5"
# the last store holds files of the subordinate ids: the fs goes whole
umount "$fs"
