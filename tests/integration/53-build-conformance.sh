# Conformance with buildah: every recipe of fixtures/recipes that buildah
# 1.28 supports is built by both, from the same busybox base, and the images
# are compared: file trees (paths, types, all mode bits, owners, mtimes,
# contents, link targets, user.* xattrs, hard links) and the whole config
# (every field of config.config, os, architecture). Where buildah is not
# what docker does, the recipe's "expected" file says what is (see
# expect_tree; with a whole expected tree, "expected-config" is the
# config). Prints "N recipes, M equal" and fails unless every recipe is
# equal.
# test-timeout: 1800
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds run containers and mount overlays"
require_cmd buildah "is the peer built against"
require_cmd runc "runs buildah's RUN steps"
require_cmd skopeo "moves the base image into buildah's storage"
require_cmd umoci "unpacks both images"

import_busybox
bs=$TEST_TMP/buildah
bh() {
	buildah --root "$bs/root" --runroot "$bs/runroot" --storage-driver vfs "$@"
}
on_cleanup "buildah --root '$bs/root' --runroot '$bs/runroot' --storage-driver vfs rm -a >/dev/null 2>&1; umount -R '$bs/root' 2>/dev/null; true"
mkdir -p "$bs"
skopeo copy -q "oci:$ROOT:busybox:latest" \
	"containers-storage:[vfs@$bs/root+$bs/runroot]localhost/busybox:latest" ||
	fail "copy busybox into buildah's storage"

# The tree of an unpacked rootfs as sorted lines (tests/integration/fstree.py):
# every entry's type, mode bits (setuid, setgid, sticky too), owner, mtime
# ("new" when made during this test), content digest or link target,
# user.* xattrs and hard-link group. buildah's mount points for RUN
# (/etc/hosts, /etc/resolv.conf, ...) are left aside unless the recipe has
# a keep-stubs file.
tree() {
	if [ -f "$2/keep-stubs" ]; then
		STUBS=keep python3 "$TOP/tests/integration/fstree.py" "$1" "$T_START" "$(date +%s)"
	else
		python3 "$TOP/tests/integration/fstree.py" "$1" "$T_START" "$(date +%s)"
	fi
}

# expect_tree DIR THEIRS: the tree strata must give. A recipe's "expected"
# file says where buildah 1.28 is not what docker does: "# whole" in its
# first line and it is the whole tree (buildah is not asked); otherwise each
# "PATH ..." line replaces buildah's line for PATH ("PATH absent" drops it).
expect_tree() {
	python3 - "$1/expected" "$2" <<'PY'
import sys
exp = [l.rstrip("\n") for l in open(sys.argv[1]) if l.strip() and not l.startswith("#")]
theirs = [l.rstrip("\n") for l in open(sys.argv[2])]
over = {l.split(" ", 1)[0]: l for l in exp}
out = []
for l in theirs:
    p = l.split(" ", 1)[0]
    if p in over:
        if not over[p].endswith(" absent"):
            out.append(over.pop(p))
        else:
            over.pop(p)
    else:
        out.append(l)
out += [l for l in over.values() if not l.endswith(" absent")]
print("\n".join(out))
PY
}

whole_expected() { [ -f "$1/expected" ] && head -1 "$1/expected" | grep -q '^# whole'; }

# The whole config (config.config, with the image's os and architecture),
# empty values left out: what buildah or strata add that the other does not
# is a difference too. buildah's own io.buildah.* labels are left aside.
config_of() {
	python3 -c '
import json, sys
d = json.load(sys.stdin)
if isinstance(d, list):
    c, top = d[0].get("Config") or {}, {"os": d[0].get("Os"), "architecture": d[0].get("Architecture")}
else:
    c, top = d["OCIv1"].get("config") or {}, {"os": d["OCIv1"].get("os"), "architecture": d["OCIv1"].get("architecture")}
out = {}
for k, v in list(c.items()) + list(top.items()):
    if k == "Labels" and v:
        v = {a: b for a, b in v.items() if not a.startswith("io.buildah.")}
    if v in (None, "", {}, [], False):
        continue
    out[k] = v
print(json.dumps(out, sort_keys=True, indent=1))'
}

# settle_ctx DIR: what the context's prepare script made during this test
# gets a fixed old mtime, so that a copy keeping it and a copy stamping the
# build's time (both "new" in the tree) tell apart.
settle_ctx() {
	find "$1" -newermt "@$((T_START - 1))" -exec touch -h -d @1500000000 {} +
}

# buildah's side of recipe $1 (context $2, flags $3) into $TEST_TMP/bh/$1/:
# theirs.tree and theirs.cfg, or failed with its log.
buildah_side() {
	_o=$TEST_TMP/bh/$1
	mkdir -p "$_o"
	# shellcheck disable=SC2086
	if ! bh bud --isolation chroot --runtime runc --layers --format oci -q -t "c-$1" $3 \
		"$2" >"$_o/log" 2>&1; then
		echo "buildah bud: $(tail -3 "$_o/log")" >"$_o/failed"
		return 0
	fi
	if ! bh push -q "c-$1" "oci:$_o/oci:img" >>"$_o/log" 2>&1 ||
		! umoci unpack --image "$_o/oci:img" "$_o/unpack" >>"$_o/log" 2>&1; then
		echo "buildah push or umoci unpack: $(tail -3 "$_o/log")" >"$_o/failed"
		return 0
	fi
	tree "$_o/unpack/rootfs" "$RECIPES/$1" >"$_o/theirs.tree"
	bh inspect --type image "c-$1" | config_of >"$_o/theirs.cfg"
	rm -rf "$_o/unpack" "$_o/oci"
	touch "$_o/done"
}

T_START=$(date +%s)
names=""
for dir in "$RECIPES"/*/; do
	dir=${dir%/}
	name=$(basename "$dir")
	[ "$name" = errors ] && continue
	[ -f "$dir/no-conformance" ] && continue
	[ -n "${RECIPE:-}" ] && [ "$name" != "$RECIPE" ] && continue
	names="$names $name"
done

# buildah's builds run in the background in four lanes (most of their time
# is spent waiting), while strata builds the same recipes in turn.
mkdir -p "$TEST_TMP/bh"
lanes=""
for lane in 0 1 2 3; do
	(
		i=0
		for name in $names; do
			i=$((i + 1))
			[ $((i % 4)) = "$lane" ] || continue
			whole_expected "$RECIPES/$name" && continue
			ctx=$(recipe_context "$name")
			settle_ctx "$ctx"
			buildah_side "$name" "$ctx" "$(recipe_flags "$name")"
		done
	) &
	track_pid $!
	lanes="$lanes $!"
done

for name in $names; do
	ctx=$(recipe_context "$name" "$TEST_TMP/ours-ctx")
	settle_ctx "$ctx"
	flags=$(recipe_flags "$name")
	# shellcheck disable=SC2086
	strata build -q -t "c-$name" $flags "$ctx" >/dev/null || fail "strata build '$name'"
	img_unpack "c-$name:latest"
	tree "$ROOTFS" "$RECIPES/$name" >"$TEST_TMP/bh/$name.ours"
	strata inspect "c-$name" | config_of >"$TEST_TMP/bh/$name.ours-cfg"
	rm -rf "$ROOTFS"
done
for p in $lanes; do wait "$p"; done

n=0
equal=0
diffs=""
for name in $names; do
	dir=$RECIPES/$name
	o=$TEST_TMP/bh/$name
	n=$((n + 1))
	if whole_expected "$dir"; then
		grep -v '^#' "$dir/expected" >"$TEST_TMP/want.tree"
		# buildah is not asked: the config docker gives is in expected-config
		[ -f "$dir/expected-config" ] || fail "'$name': a whole expected tree needs expected-config"
		if ! diff -u "$dir/expected-config" "$o.ours-cfg" >"$TEST_TMP/cfg.diff"; then
			diffs="$diffs
'$name': config differs from expected-config: $(cat "$TEST_TMP/cfg.diff")"
			continue
		fi
	else
		[ -f "$o/done" ] || fail "'$name': $(cat "$o/failed" 2>/dev/null || echo 'buildah did not finish')"
		if [ -f "$dir/expected" ]; then
			expect_tree "$dir" "$o/theirs.tree" >"$TEST_TMP/want.tree"
		else
			cp "$o/theirs.tree" "$TEST_TMP/want.tree"
		fi
		if ! diff -u "$o/theirs.cfg" "$o.ours-cfg" >"$TEST_TMP/cfg.diff"; then
			diffs="$diffs
'$name': config differs from buildah's: $(cat "$TEST_TMP/cfg.diff")"
			continue
		fi
	fi
	if ! diff -u "$TEST_TMP/want.tree" "$o.ours" >"$TEST_TMP/tree.diff"; then
		diffs="$diffs
'$name': file tree differs: $(head -30 "$TEST_TMP/tree.diff")"
		continue
	fi
	equal=$((equal + 1))
done
echo "$n recipes, $equal equal"
[ -z "$diffs" ] || fail "$diffs"
[ "$n" -ge 15 ] || [ -n "${RECIPE:-}" ] || fail "only $n recipes compared"
