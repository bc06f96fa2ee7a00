# Builds every recipe of fixtures/recipes (one per instruction and per
# parser rule) and checks each image by its files (unpacked with umoci),
# its config (inspect) and by running it.
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds run containers and mount overlays"
require_cmd umoci "unpacks the built images"

import_busybox
BUSYBOX_DIGEST=$(img_digest busybox)
export BUSYBOX_DIGEST
n=0
for dir in "$RECIPES"/*/; do
	name=$(basename "$dir")
	[ "$name" = errors ] && continue
	[ -n "${RECIPE:-}" ] && [ "$name" != "$RECIPE" ] && continue
	ctx=$(recipe_context "$name")
	IMG=r50-$name:latest
	# shellcheck disable=SC2046
	build_out=$(strata build -t "$IMG" $(recipe_flags "$name") "$ctx" 2>&1) ||
		fail "build '$name': $build_out"
	id=$(printf '%s\n' "$build_out" | tail -n1)
	[ ${#id} = 64 ] || fail "build '$name' did not end with the image ID: $id"
	img_unpack "$IMG"
	. "$dir/check"
	n=$((n + 1))
done
[ "$n" -gt 25 ] || [ -n "${RECIPE:-}" ] || fail "only $n recipes ran"
assert_fsck_clean
