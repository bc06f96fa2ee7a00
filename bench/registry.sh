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

# Eight pulls of the image at once into one store, against one pull: the
# others wait for the one fetching each blob (per-digest locks), so the
# eight take little more than one and download each blob once.
pull8() {
	_pids=""
	for _i in 1 2 3 4 5 6 7 8; do
		"$STRATA_BIN" --root "$root" pull -q --tls-verify=false "$reg/debian:latest" >/dev/null &
		_pids="$_pids $!"
	done
	_st=0
	for _p in $_pids; do wait "$_p" || _st=1; done
	return $_st
}
start_registry
skopeo copy -q --dest-tls-verify=false "oci:$layout:debian" "docker://$reg/debian:latest"
set -- $(bench_pair --setup "bench_fresh_fs '$fs'" "pull8" \
	"'$STRATA_BIN' --root '$root' pull -q --tls-verify=false '$reg/debian:latest'")
bench_row "8 concurrent pulls into one store vs one pull" "$1" "$2" "$(bench_ratio "$1" "$2")" "<= 1.5" "-"

