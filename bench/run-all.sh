#!/bin/sh
# Runs every benchmark (import, layers, overlay, run, build; or those whose
# name contains $B).
set -u
cd "$(dirname "$0")"
status=0
for b in *.sh; do
	case "$b" in run-all.sh | lib.sh) continue ;; esac
	if [ -n "${B:-}" ]; then
		case "$b" in *"$B"*) ;; *) continue ;; esac
	fi
	echo "== $b"
	sh "./$b" || status=1
done
exit $status
