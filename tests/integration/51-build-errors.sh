# Every broken recipe of fixtures/recipes/errors fails with exit status 125
# and one line "strata: build: FILE:LINE: message".
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"

import_busybox
ctx=$TEST_TMP/errctx
mkdir -p "$ctx"
n=0
for f in "$RECIPES"/errors/*.Containerfile; do
	name=$(basename "$f" .Containerfile)
	want=$(cat "${f%.Containerfile}.expect")
	cp "$f" "$ctx/Containerfile"
	set +e
	out=$(strata build -q -f "$ctx/Containerfile" "$ctx" 2>&1 >/dev/null)
	rc=$?
	set -e
	[ "$rc" = 125 ] || fail "$name: exit status $rc, want 125 ($out)"
	assert_one_line_error "$out"
	assert_contains "$out" "strata: build: $ctx/Containerfile$want" "$name"
	n=$((n + 1))
done
[ "$n" -ge 20 ] || fail "only $n error recipes"

# Errors outside the recipe are one line too.
expect_fail strata build --target nope "$RECIPES/run"
assert_one_line_error "$out"
assert_contains "$out" "target stage 'nope' could not be found"
expect_fail strata build "$TEST_TMP/no-such-dir"
assert_contains "$out" "build context '$TEST_TMP/no-such-dir'"
mkdir -p "$TEST_TMP/empty"
expect_fail strata build "$TEST_TMP/empty"
assert_contains "$out" "no Containerfile or Dockerfile in '$TEST_TMP/empty'"
expect_fail strata build --network bridge "$ctx"
assert_contains "$out" "invalid --network 'bridge'"
# -f - reads stdin; its errors name '-'.
set +e
out=$(printf 'FROM busybox\nBOGUS\n' | strata build -f - "$ctx" 2>&1 >/dev/null)
set -e
assert_contains "$out" "strata: build: -:2: unknown instruction 'BOGUS'"
