#!/bin/sh
# make demo: the main job on the bundled busybox base image. Imports busybox
# (made from Debian's busybox-static) when it is missing, builds
# examples/hello from its Containerfile, runs it, commits a change made in a
# running container, and shows the images. STRATA_DEMO_ROOT picks the store
# (default: a demo store in /tmp).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${STRATA_BIN:-$top/strata}
root=${STRATA_DEMO_ROOT:-/tmp/strata-demo}
s() { "$bin" --root "$root" "$@"; }
say() { printf '\n$ strata %s\n' "$*"; }

if ! s inspect busybox >/dev/null 2>&1; then
	tar=$(mktemp /tmp/strata-busybox.XXXXXX)
	trap 'rm -f "$tar"' EXIT
	"$top/fixtures/busybox/make-rootfs.sh" "$tar"
	say import busybox
	s import --change 'CMD ["sh"]' "$tar" busybox
fi
say build -t hello examples/hello
s build -t hello "$top/examples/hello"
say run --rm hello
s run --rm hello
say run -d --name demo-counter busybox ...
s rm -f demo-counter >/dev/null 2>&1 || true
s run -d --name demo-counter --memory 32m busybox \
	sh -c 'i=0; while true; do i=$((i+1)); echo $i >/count; sleep 0.1; done'
sleep 1
say commit demo-counter counted "(while it runs: frozen for the read)"
s commit demo-counter counted
say run --rm counted cat /count
s run --rm counted cat /count
s rm -f demo-counter >/dev/null
say images
s images
say history hello
s history hello
