#!/bin/sh
# make demo: imports the bundled busybox base image when it is missing and
# shows it. STRATA_DEMO_ROOT picks the store (default: a demo store in /tmp).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${STRATA_BIN:-$top/strata}
root=${STRATA_DEMO_ROOT:-/tmp/strata-demo}
s() { "$bin" --root "$root" "$@"; }

if ! s inspect busybox >/dev/null 2>&1; then
	tar=$(mktemp /tmp/strata-busybox.XXXXXX)
	trap 'rm -f "$tar"' EXIT
	"$top/fixtures/busybox/make-rootfs.sh" "$tar"
	echo "importing the busybox base image into $root"
	s import --change 'CMD ["sh"]' "$tar" busybox >/dev/null
fi
s images
s history busybox
