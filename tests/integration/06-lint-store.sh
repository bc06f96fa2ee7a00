# make lint's rule that struct store is opaque outside store/: it fails on a
# planted field access and on a second definition, not on other '->root's.
. "${0%/*}/../lib.sh"
require_cmd git "lints the files git lists"

w=$TEST_TMP/repo
mkdir -p "$w/scripts" "$w/store" "$w/overlay" "$w/cmd"
cp "$TOP/scripts/lint.sh" "$w/scripts/"
cp "$TOP/store/store-int.h" "$TOP/store/store.h" "$w/store/"
git -C "$w" init -q
# the source rules only: the copy has no objects for the symbol rules
lint() { (cd "$w" && sh scripts/lint.sh --sources-only 2>&1); }

cat >"$w/cmd/ok.c" <<'C'
#include "store/store.h"
static const char *root_of(struct cmd_ctx *ctx, struct store *s) { return ctx->root ? ctx->root : store_root(s); }
C
out=$(lint) || fail "lint rejects clean code: $out"

echo 'static int fd_of(struct store *s) { return s->tmp_fd; }' >"$w/overlay/plant.c"
set +e
out=$(lint)
rc=$?
set -e
[ $rc -ne 0 ] || fail "lint accepted s->tmp_fd outside store/"
assert_contains "$out" "overlay/plant.c:1: uses a field of struct store outside store/"
rm "$w/overlay/plant.c"

echo 'static const char *r(struct store *s) { return s->root; }' >"$w/overlay/plant.c"
set +e
out=$(lint)
rc=$?
set -e
[ $rc -ne 0 ] || fail "lint accepted s->root outside store/"
rm "$w/overlay/plant.c"

printf 'struct store {\n\tint root_fd;\n};\n' >"$w/cmd/plant.c"
set +e
out=$(lint)
rc=$?
set -e
[ $rc -ne 0 ] || fail "lint accepted a definition of struct store outside store/"
assert_contains "$out" "defines struct store"
rm "$w/cmd/plant.c"

# Inside store/ the fields are the module's own.
echo 'static int fd_of(struct store *s) { return s->tmp_fd; }' >"$w/store/inside.c"
out=$(lint) || fail "lint rejects store/'s own use of its fields: $out"
