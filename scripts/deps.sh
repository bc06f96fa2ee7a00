#!/bin/sh
# Installs, with apt-get and only when missing, every Debian package that
# building, testing, the demo and the benchmarks need. Run as root on
# Debian 12; as another user it only reports what is missing.
set -eu

PKGS="build-essential pkg-config make gcc
libarchive-dev libssl-dev libzstd-dev libmount-dev libcurl4-openssl-dev
libjansson-dev libseccomp-dev zlib1g-dev libfuse3-dev check
busybox-static python3 tar gzip zstd openssl curl iproute2 procps util-linux strace
skopeo umoci crun runc buildah docker-registry apache2-utils valgrind tmux
fuse3 lxcfs openssh-client uidmap"

# The benchmarks also time podman and build a Debian rootfs.
if [ "${1:-}" = "bench" ]; then
	PKGS="$PKGS podman debootstrap hyperfine time bc"
fi

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "strata: deps: missing packages:$missing (run 'make deps' as root)" >&2
	exit 1
fi
echo "strata: deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq $missing >/dev/null
