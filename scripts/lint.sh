#!/bin/sh
# Project rules a compiler does not check (docs/STYLE.md):
# - a module's internal header (<mod>/<mod>-int.h) is included only inside its
#   folder (and by the tests);
# - calls go only down the module table of docs/DESIGN.md: in the #include
#   lines, and in the objects: each module's undefined symbols resolve only to
#   its own or lower modules' definitions, or to libraries (nm);
# - struct store is opaque outside store/: no access to its fields there;
# - every symbol a module's objects define carries the module's prefix (util:
#   its topics, never a dependency's namespace);
# - no function in the security paths (layers/, launch/, util/) is longer than
#   $max_function_lines lines between its braces.
# Usage: scripts/lint.sh [--sources-only | BUILD_DIR] (the objects, default
# build), from the tree's top; --sources-only checks the files without objects.
# A handful of processes in all: the machine it runs on may be busy.
set -u
fail=0
objects=1
if [ "${1:-}" = --sources-only ]; then
	objects=0
	shift
fi
build=${1:-build}
modules="util store layers overlay procview launch registry recipe cmd"
max_function_lines=120

# The module table: who may use whom ("ANY": every module).
allow="util=;store=util;layers=util store;overlay=util store layers;"
allow="${allow}procview=util;launch=util store overlay procview;registry=util store layers;"
allow="${allow}recipe=util store layers overlay procview launch registry;cmd=ANY"

# Loads the module table into may[] (" util store ") in awk.
awk_table='
	function load_table(allow,   n, i, rows, kv) {
		n = split(allow, rows, ";")
		for (i = 1; i <= n; i++) {
			split(rows[i], kv, "=")
			may[kv[1]] = " " kv[2] " "
		}
	}'

# ---- includes, from the sources ----
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	files=$(git ls-files '*.c' '*.h'; git ls-files -o --exclude-standard '*.c' '*.h')
else
	files=$(find . -path ./build -prune -o -type f \( -name '*.c' -o -name '*.h' \) -print |
		sed 's|^\./||')
fi
existing=
for f in $files; do
	[ -f "$f" ] && existing="$existing $f"
done
# shellcheck disable=SC2086
grep -H '^#include "[a-z]*/[a-z-]*\.h"' $existing /dev/null | awk -v allow="$allow" "$awk_table"'
	BEGIN { load_table(allow); q = "\047"; bad = 0 }
	{
		f = $0; sub(/:.*/, "", f)
		dir = f; sub(/\/.*/, "", dir)
		inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
		m = inc; sub(/\/.*/, "", m)
		h = inc; sub(/^[^\/]*\//, "", h); sub(/\.h$/, "", h)
		# Tests (tests/unit, tests/fuzz) may reach the internals of a module.
		if (h ~ /-int$/ && m != dir && dir != "tests") {
			printf "lint: %s: includes the internal header %s%s%s of another module\n", f, q, inc, q
			bad = 1
		}
		if (m == dir || !(dir in may) || may[dir] ~ / ANY /)
			next
		if (index(may[dir], " " m " ") == 0) {
			printf "lint: %s: module %s%s%s may not use %s%s%s (docs/DESIGN.md)\n", f, q, dir, q, q, m, q
			bad = 1
		}
	}
	END { exit bad }' || fail=1

# ---- struct store is opaque outside store/ ----
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

# ---- function length in the security paths ----
# A function's body runs from its opening brace at the start of a line (or at
# the end of a signature line that starts there) to the next closing brace
# at the start of a line: the kernel style that clang-format keeps.
for f in $files; do
	[ -f "$f" ] || continue
	case "$f" in layers/*.c | launch/*.c | util/*.c) ;; *) continue ;; esac
	echo "$f"
done | xargs -r awk -v max="$max_function_lines" '
	FNR == 1 { sig = ""; inside = 0 }
	!inside && /^[A-Za-z_].*\(/ { sig = $0 }
	!inside && (/^\{/ || (/^[A-Za-z_].*\)[^;=]*\{[ \t]*$/)) {
		inside = 1; start = FNR
		name = sig; sub(/\(.*/, "", name); sub(/.*[ *]/, "", name)
		next
	}
	inside && /^\}/ {
		inside = 0
		if (FNR - start - 1 > max) {
			printf "lint: %s:%d: function %s is %d lines long (at most %d in layers/, " \
				"launch/, util/: split it by stage or by case)\n", \
				FILENAME, start, name, FNR - start - 1, max
			bad = 1
		}
	}
	END { exit bad }' || fail=1

# ---- symbols, from the objects ----
if [ $objects = 0 ]; then
	[ $fail = 0 ] && echo "lint: ok"
	exit $fail
fi
syms=$(mktemp)
trap 'rm -f "$syms"' EXIT
for m in $modules; do
	set -- "$build/$m"/*.o
	if [ ! -f "$1" ]; then
		echo "lint: no objects in $build/$m (build first)"
		fail=1
		continue
	fi
	# "D module object symbol" for definitions, "U ..." for uses.
	nm -P -g -A "$@" | awk -v m="$m" '
		{ o = $1; sub(/:$/, "", o) }
		$2 ~ /^__/ || $2 ~ /\./ { next }
		$3 == "U" || $3 == "w" { print "U", m, o, $2; next }
		$3 ~ /^[TDBRVWCGS]$/ { print "D", m, o, $2 }'
done >"$syms"

awk -v allow="$allow" -v curl="$build/registry/curl-load.o" \
	-v libarchive="$build/layers/libarchive-load.o" \
	"$awk_table"'
	BEGIN {
		load_table(allow)
		deps = "^(json|archive|mnt|curl|ck|seccomp|ZSTD|EVP|deflate|inflate)_"
		q = "\047"
		bad = 0
	}
	FNR == NR { if ($1 == "D") def[$4] = $2; next }
	# A use that resolves to a module the user may not call.
	$1 == "U" {
		m = $2; d = def[$4]
		if (d == "" || d == m || may[m] ~ / ANY /)
			next
		if (index(may[m], " " d " ") == 0) {
			list = may[m]; gsub(/^ +| +$/, "", list)
			printf "lint: %s: uses %s%s%s of module %s%s%s (module %s%s%s may use: %s)\n", \
				$3, q, $4, q, q, d, q, q, m, q, list == "" ? "libraries only" : list
			bad = 1
		}
		next
	}
	# A definition without the module prefix.
	$1 == "D" {
		m = $2; o = $3; s = $4
		if (m == "util") {
			if (s ~ deps) {
				printf "lint: %s: defines %s%s%s in a dependency%ss namespace " \
					"(util names symbols by topic)\n", o, q, s, q, q
				bad = 1
			}
			next
		}
		# curl-load.c defines libcurl functions on purpose (dlopen on first use).
		if (o == curl && s ~ /^curl_/)
			next
		# libarchive-load.c defines libarchive functions likewise.
		if (o == libarchive && s ~ /^archive_/)
			next
		if (m == "cmd" && s == "main")
			next
		p = m "_"
		if (index(s, p) == 1 || (m == "registry" && index(s, "reg_") == 1))
			next
		printf "lint: %s: defines %s%s%s without the prefix of module %s%s%s (%s)\n", \
			o, q, s, q, q, m, q, m == "registry" ? "registry_ or reg_" : p
		bad = 1
	}
	END { exit bad }' "$syms" "$syms" || fail=1

[ $fail = 0 ] && echo "lint: ok"
exit $fail
