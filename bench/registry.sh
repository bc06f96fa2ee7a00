#!/bin/sh
# Pull of the Debian minbase image from a local docker-registry (started
# here on 127.0.0.1, plain http) into a fresh store, against skopeo copying
# the same image to an OCI dir:
#   strata pull --tls-verify=false REG/debian  vs  skopeo copy docker://REG/debian oci:DIR
#   strata push to an empty registry           vs  skopeo copy oci:DIR docker://REG/debian
# and strata's peak RSS.
. "$(dirname "$0")/lib.sh"

layout=$(bench_debian_layout)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
reg=127.0.0.1:$port
cat >"$BENCH_TMP/registry.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $BENCH_TMP/registry
http:
  addr: $reg
YML
# The pid is kept in a file: bench_time runs the setup in a subshell.
stop_registry() {
	if [ -s "$BENCH_TMP/registry.pid" ]; then
		_p=$(cat "$BENCH_TMP/registry.pid")
		kill "$_p" 2>/dev/null || true
		wait "$_p" 2>/dev/null || true
		# Gone, or a zombie whose parent (a finished subshell) no longer reaps it.
		while [ -r "/proc/$_p/stat" ] && [ "$(cut -d' ' -f3 "/proc/$_p/stat" 2>/dev/null)" != Z ]; do
			sleep 0.05
		done
		: >"$BENCH_TMP/registry.pid"
	fi
}
# (Re)starts the registry; with "empty", on empty storage.
start_registry() {
	stop_registry
	[ "${1:-}" = empty ] && rm -rf "$BENCH_TMP/registry"
	/usr/bin/docker-registry serve "$BENCH_TMP/registry.yml" >"$BENCH_TMP/registry.log" 2>&1 &
	echo $! >"$BENCH_TMP/registry.pid"
	_n=0
	until curl -s -o /dev/null "http://$reg/v2/"; do
		_n=$((_n + 1))
		[ $_n -lt 100 ] || { echo "bench: registry did not start" >&2; exit 1; }
		sleep 0.1
	done
}
bench_on_cleanup "stop_registry"
start_registry
skopeo copy -q --dest-tls-verify=false "oci:$layout:debian" "docker://$reg/debian:latest"
size=$(du -sm "$BENCH_TMP/registry" | cut -f1)

# The store and the peer's layout and bundle are on a new filesystem each
# pull (bench_fresh_fs says why).
fs=$BENCH_TMP/fs
root=$fs/root
oci=$fs/oci
echo "image: Debian 12 minbase, one gzip layer, ${size} MB in the registry; median of $BENCH_RUNS runs"
bench_header "operation" "strata (s)" "peer (s)" "ratio" "target" "strata peak RSS (MB)"

# strata pull leaves the layers unpacked (ready to mount); the peer's
# equivalent is skopeo copy to an OCI dir, then umoci unpack, as one command.
set -- $(bench_pair --setup "bench_fresh_fs '$fs'" \
	"'$STRATA_BIN' --root '$root' pull -q --tls-verify=false '$reg/debian:latest'" \
	"skopeo copy -q --src-tls-verify=false 'docker://$reg/debian:latest' 'oci:$oci:debian' && umoci unpack --image '$oci:debian' '$fs/bundle'")
ours=$1 both=$2
bench_fresh_fs "$fs"
rss=$(bench_rss "$STRATA_BIN" --root "$root" pull -q --tls-verify=false "$reg/debian:latest")
skopeo copy -q --src-tls-verify=false "docker://$reg/debian:latest" "oci:$oci:debian" # pushed below
bench_row "pull, ready to mount, vs skopeo copy + umoci unpack" "$ours" "$both" "$(bench_ratio "$ours" "$both")" "<= 0.5" "$rss"

# Push: each run into an empty registry, so every blob is uploaded; skopeo's
# blob-info cache would turn its uploads into mounts, so it goes too.
set -- $(bench_pair --setup "start_registry empty; rm -f /var/lib/containers/cache/blob-info-cache-v1.boltdb" \
	"'$STRATA_BIN' --root '$root' push -q --tls-verify=false '$reg/debian:latest'" \
	"skopeo copy -q --dest-tls-verify=false 'oci:$oci:debian' 'docker://$reg/debian:latest'")
ours=$1 peer=$2
start_registry empty
rss=$(bench_rss "$STRATA_BIN" --root "$root" push -q --tls-verify=false "$reg/debian:latest")
bench_row "push vs skopeo copy oci: docker://" "$ours" "$peer" "$(bench_ratio "$ours" "$peer")" "<= 1.0" "$rss"

# Eight pulls of one image at once into one store, against one pull, for
# strata and podman: an image of many layers (the Debian rootfs dealt into
# 8 layers of about equal size, directories in the first), so that the
# pulls meet on every blob. strata's others wait for the one fetching each
# blob (per-digest locks), so the eight take little more than one and
# download each blob once (counted in the registry's access log), with at
# most one copy of each in ROOT/tmp (its peak sampled every 20 ms).
layers_layout() {
	_l=$BENCH_CACHE/debian-layers-layout
	if [ ! -f "$_l/.complete" ]; then
		_d=$(bench_debian_rootfs)
		_s=$BENCH_TMP/split
		rm -rf "$_l" "$_s"
		mkdir -p "$_s"
		(cd "$_d" && find . -mindepth 1 -type d | sort >"$_s/dirs" &&
			find . -mindepth 1 ! -type d ! -name .complete -printf '%s\t%p\n' | sort -t "$(printf '\t')" -k2 |
			awk -F '\t' -v dir="$_s" -v n=8 '{ s[NR] = $1; f[NR] = $2; tot += $1 }
				END { c = 0; acc = 0
					for (i = 1; i <= NR; i++) {
						print f[i] > (dir "/" c ".files"); acc += s[i]
						if (acc > tot / n * (c + 1) && c < n - 1) c++
					} }')
		umoci init --layout "$_l" >/dev/null
		umoci new --image "$_l:layers" >/dev/null
		for _i in 0 1 2 3 4 5 6 7; do
			{ [ $_i = 0 ] && cat "$_s/dirs"; cat "$_s/$_i.files"; } |
				tar -C "$_d" --no-recursion --numeric-owner --verbatim-files-from -T - -cf "$_s/$_i.tar"
			umoci raw add-layer --image "$_l:layers" "$_s/$_i.tar" >/dev/null
		done
		umoci gc --layout "$_l" >/dev/null
		rm -rf "$_s"
		touch "$_l/.complete"
	fi
	echo "$_l"
}
pull8() {
	_pids=""
	for _i in 1 2 3 4 5 6 7 8; do
		"$STRATA_BIN" --root "$root" pull -q --tls-verify=false "$reg/layers:latest" >/dev/null &
		_pids="$_pids $!"
	done
	_st=0
	for _p in $_pids; do wait "$_p" || _st=1; done
	return $_st
}
podman_pull() {
	podman --root "$fs/podman" --runroot "$BENCH_TMP/podman-run" --storage-driver overlay \
		pull -q --tls-verify=false "$reg/layers:latest" >/dev/null
}
podman_pull8() {
	_pids=""
	for _i in 1 2 3 4 5 6 7 8; do
		podman_pull &
		_pids="$_pids $!"
	done
	_st=0
	for _p in $_pids; do wait "$_p" || _st=1; done
	return $_st
}
podman_reset() {
	podman --root "$fs/podman" --runroot "$BENCH_TMP/podman-run" --storage-driver overlay \
		system reset -f >/dev/null 2>&1 || true
	rm -rf "$BENCH_TMP/podman-run"
	bench_fresh_fs "$fs"
}
bench_on_cleanup "podman_reset"
llayout=$(layers_layout)
sed -i 's/disabled: true/disabled: false/' "$BENCH_TMP/registry.yml"
start_registry
skopeo copy -q --dest-tls-verify=false "oci:$llayout:layers" "docker://$reg/layers:latest"
# Its blobs (config and layers) and their size, from the layout's manifest.
set -- $(python3 -c '
import json, sys
l = sys.argv[1]
m = json.load(open(l + "/index.json"))["manifests"][0]["digest"][7:]
m = json.load(open(l + "/blobs/sha256/" + m))
b = [m["config"]] + m["layers"]
print(len(b), sum(d["size"] for d in b) // 1048576)' "$llayout")
nblobs=$1 lsize=$2
set -- $(bench_pair --setup "bench_fresh_fs '$fs'" "pull8" \
	"'$STRATA_BIN' --root '$root' pull -q --tls-verify=false '$reg/layers:latest'")
s8=$1 s1=$2
peer8=- peer1=- pratio=-
if podman_reset && podman_pull; then
	set -- $(bench_pair --setup "podman_reset" "podman_pull8" "podman_pull")
	peer8=$1 peer1=$2 pratio=$(bench_ratio "$1" "$2")
fi
echo "8-layer image: $nblobs blobs, ${lsize} MB compressed"
bench_row "8 concurrent pulls of an 8-layer image into one store vs one pull: strata (podman: $peer8 vs $peer1 s, $pratio)" \
	"$s8" "$s1" "$(bench_ratio "$s8" "$s1")" "<= 1.5" "-"
# One more run, not timed: downloads per blob and the peak of ROOT/tmp.
bench_fresh_fs "$fs"
mkdir -p "$root/tmp"
: >"$BENCH_TMP/registry.log"
( peak=0; while [ ! -f "$BENCH_TMP/pull8.done" ]; do
	k=$(du -sk "$root/tmp" 2>/dev/null | cut -f1); [ "${k:-0}" -gt $peak ] && peak=$k
	echo $peak >"$BENCH_TMP/tmp.peak"; sleep 0.02; done ) &
sampler=$!
pull8
touch "$BENCH_TMP/pull8.done"
wait $sampler
gets=$(grep -a -c '"GET /v2/layers/blobs/sha256:[0-9a-f]* HTTP[^"]*" 200' "$BENCH_TMP/registry.log" || true)
echo "8 concurrent pulls: $gets blob downloads for $nblobs blobs (config and layers); ROOT/tmp peaked at $(($(cat "$BENCH_TMP/tmp.peak") / 1024)) MB"
