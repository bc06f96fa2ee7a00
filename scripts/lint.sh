#!/bin/sh
# Project rules a compiler does not check:
# - a module's internal header (<mod>/<mod>-int.h) is included only inside its folder;
# - calls go only down the module table of DESIGN.md.
set -u
fail=0

allowed() {
	case "$1" in
	util) echo "" ;;
	store) echo "util" ;;
	layers) echo "util store" ;;
	overlay) echo "util store layers" ;;
	launch) echo "util store overlay" ;;
	registry) echo "util store layers" ;;
	recipe) echo "util store layers overlay launch registry" ;;
	*) echo "ANY" ;;
	esac
}

files=$(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files -o --exclude-standard '*.c' '*.h' 2>/dev/null)
for f in $files; do
	[ -f "$f" ] || continue
	dir=${f%%/*}
	ok=$(allowed "$dir")
	for inc in $(sed -n 's/^#include "\([a-z]*\)\/\([a-z-]*\)\.h".*/\1:\2/p' "$f"); do
		m=${inc%%:*}
		h=${inc#*:}
		case "$h" in
		*-int)
			if [ "$m" != "$dir" ]; then
				echo "lint: $f: includes the internal header '$m/$h.h' of another module"
				fail=1
			fi
			;;
		esac
		[ "$m" = "$dir" ] && continue
		[ "$ok" = ANY ] && continue
		case " $ok " in
		*" $m "*) ;;
		*)
			echo "lint: $f: module '$dir' may not use '$m' (DESIGN.md)"
			fail=1
			;;
		esac
	done
done
[ $fail = 0 ] && echo "lint: ok"
exit $fail
