#!/bin/sh
# Project rules a compiler does not check:
# - a module's internal header (<mod>/<mod>-int.h) is included only inside its folder;
# - calls go only down the module table of DESIGN.md;
# - struct store is opaque outside store/: no access to its fields there.
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

# struct store's fields, as store/store-int.h declares them; outside store/
# neither the struct is defined again nor a field reached through '->'.
store_fields=$(sed -n '/^struct store {/,/^};/s/^[[:space:]]*[a-z][a-z ]*[ *]\([a-z_]*\);.*/\1/p' \
	store/store-int.h 2>/dev/null | grep -v '^root$' | tr '\n' '|')
store_fields=${store_fields%|}
for f in $files; do
	[ -f "$f" ] || continue
	case "$f" in store/*) continue ;; esac
	if grep -n '^struct store {' "$f" >/dev/null; then
		echo "lint: $f: defines struct store, which is opaque outside store/"
		fail=1
	fi
	[ -n "$store_fields" ] || continue
	grep -nE -- "->($store_fields)\b|\b(s|st|store)->root\b" "$f" | while IFS= read -r hit; do
		echo "lint: $f:${hit%%:*}: uses a field of struct store outside store/ (use a store_ function)"
	done | grep . && fail=1
done
[ $fail = 0 ] && echo "lint: ok"
exit $fail
