#!/bin/sh
# The lint's own test: in a copy of the tree (sources and objects), plant one
# violation of each rule of scripts/lint.sh and expect the lint to fail with
# the message of that rule; the copy as it is must pass.
# Usage: tests/lint/test-lint.sh [BUILD_DIR]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
case "$build" in
/*) objdir=$build ;;
*) objdir=$top/$build ;;
esac
modules="util store layers overlay procview launch registry recipe cmd"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
cc=${CC:-cc}
failed=0

# The sources once; a fresh copy of them, with links to the objects, in $tmp/t.
mkdir -p "$tmp/src"
(cd "$top" && find $modules scripts -type f \( -name '*.[ch]' -o -name '*.sh' \) |
	tar -cf - -T -) | tar -xf - -C "$tmp/src"
fresh() {
	rm -rf "$tmp/t"
	cp -R "$tmp/src" "$tmp/t"
	for m in $modules; do
		mkdir -p "$tmp/t/build/$m"
		ln -s "$objdir/$m"/*.o "$tmp/t/build/$m/"
	done
}

lint() {
	(cd "$tmp/t" && sh scripts/lint.sh build) >"$tmp/out" 2>&1
}

# expect_fail WHAT MESSAGE: the lint fails and says MESSAGE.
expect_fail() {
	if lint; then
		echo "FAIL: lint passed with $1"
		failed=1
	elif ! grep -qF "$2" "$tmp/out"; then
		echo "FAIL: $1: lint failed without '$2':"
		cat "$tmp/out"
		failed=1
	else
		echo "ok: $1"
	fi
}

# plant_object MODULE NAME SOURCE: compiles SOURCE into build/MODULE/NAME.o of the copy.
plant_object() {
	printf '%s\n' "$3" >"$tmp/$2.c"
	$cc -c -o "$tmp/t/build/$1/$2.o" "$tmp/$2.c"
}

fresh
if lint; then
	echo "ok: the tree as it is"
else
	echo "FAIL: the lint fails on the tree as it is:"
	cat "$tmp/out"
	failed=1
fi

fresh
printf '#include "overlay/overlay-int.h"\n' >>"$tmp/t/store/blob.c"
expect_fail "an internal header included from another module" \
	"store/blob.c: includes the internal header 'overlay/overlay-int.h'"

fresh
printf '#include "overlay/overlay.h"\n' >>"$tmp/t/store/blob.c"
expect_fail "a header of a higher module included" "store/blob.c: module 'store' may not use 'overlay'"

# A call upwards that no #include shows: a hand-written declaration.
fresh
plant_object store planted 'extern int overlay_mount(void); int store_planted(void); int store_planted(void) { return overlay_mount(); }'
expect_fail "an undefined symbol of a higher module" \
	"build/store/planted.o: uses 'overlay_mount' of module 'overlay'"

fresh
plant_object registry planted 'extern void launch_spec_free(void *); void registry_planted(void *p); void registry_planted(void *p) { launch_spec_free(p); }'
expect_fail "an undefined symbol of a sibling module" \
	"build/registry/planted.o: uses 'launch_spec_free' of module 'launch'"

fresh
plant_object layers planted 'int helper_count; void helper(void); void helper(void) { helper_count++; }'
expect_fail "a symbol without the module's prefix" \
	"build/layers/planted.o: defines 'helper' without the prefix of module 'layers'"

# No name is exempt: launch's helpers once kept their bare names (tty_take).
fresh
plant_object launch planted 'int tty_take(int fd); int tty_take(int fd) { return fd; }'
expect_fail "a launch helper without the module's prefix" \
	"build/launch/planted.o: defines 'tty_take' without the prefix of module 'launch'"

# libarchive's names are allowed in layers/libarchive-load.c only.
fresh
plant_object layers planted 'int archive_frob(void); int archive_frob(void) { return 0; }'
expect_fail "a library's name outside its loader" \
	"build/layers/planted.o: defines 'archive_frob' without the prefix of module 'layers'"

fresh
plant_object util planted 'int json_frob(void); int json_frob(void) { return 0; }'
expect_fail "a util symbol in a dependency's namespace" \
	"build/util/planted.o: defines 'json_frob' in a dependency's namespace"

fresh
printf 'int overlay_planted_fd(struct store *s);\nint overlay_planted_fd(struct store *s)\n{\n\treturn s->layers_fd;\n}\n' \
	>>"$tmp/t/overlay/stack.c"
expect_fail "a field of struct store used outside store/" \
	"overlay/stack.c:"
grep -qF "uses a field of struct store outside store/" "$tmp/out" ||
	{ echo "FAIL: the store field rule is not the one that failed: $(cat "$tmp/out")"; failed=1; }

# plant_function FILE LINES OPEN: appends to FILE of the copy a function of
# LINES body lines, its brace on a line of its own (OPEN=own) or at the end of
# the signature (OPEN=end).
plant_function() {
	{
		if [ "$3" = own ]; then
			printf 'int planted_long(int x);\nint planted_long(int x)\n{\n'
		else
			printf 'int planted_long(int x);\nint planted_long(int x) {\n'
		fi
		i=1
		while [ $i -lt "$2" ]; do
			printf '\tx += %d;\n' $i
			i=$((i + 1))
		done
		printf '\treturn x;\n}\n'
	} >>"$tmp/t/$1"
}

fresh
plant_function layers/dir.c 121 own
expect_fail "a function of 121 lines in layers/" \
	"layers/dir.c:"
grep -qF "function planted_long is 121 lines long" "$tmp/out" ||
	{ echo "FAIL: the long function is not named: $(cat "$tmp/out")"; failed=1; }

fresh
plant_function util/path.c 125 end
expect_fail "a function of 125 lines in util/, its brace on the signature line" \
	"function planted_long is 125 lines long"

fresh
plant_function launch/spawn.c 120 own
plant_function store/blob.c 200 own
if lint; then
	echo "ok: a function of 120 lines in launch/, a longer one in store/"
else
	echo "FAIL: the lint refuses a function of 120 lines in launch/ or one outside the security paths:"
	cat "$tmp/out"
	failed=1
fi

# A prefixed symbol, and a use of a lower module, are fine.
fresh
plant_object layers planted 'extern void store_free(void *); void layers_planted(void *p); void layers_planted(void *p) { store_free(p); }'
if lint; then
	echo "ok: a prefixed symbol using a lower module"
else
	echo "FAIL: the lint refuses a prefixed symbol that uses a lower module:"
	cat "$tmp/out"
	failed=1
fi

exit $failed
