# Conformance with buildah: every recipe of fixtures/recipes that buildah
# 1.28 supports is built by both, from the same busybox base, and the images
# are compared: file trees (paths, types, modes, owners, contents, link
# targets) and the config fields Env, Cmd, Entrypoint, WorkingDir, User,
# Labels, ExposedPorts, Volumes, StopSignal.
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

# The tree of an unpacked rootfs as sorted lines; buildah's mount points
# for RUN (/etc/hosts, /etc/resolv.conf, /run/.containerenv, ...) aside.
tree() {
	python3 - "$1" <<'PY'
import hashlib, os, stat, sys
top = sys.argv[1]
skip = {"etc/hosts", "etc/resolv.conf", "etc/hostname", "run/.containerenv", "run/secrets",
        "proc", "sys", "dev"}
for d, dirs, files in os.walk(top):
    dirs.sort()
    for n in sorted(dirs + files):
        p = os.path.join(d, n)
        rel = os.path.relpath(p, top)
        if rel in skip or rel.split("/")[0] in ("proc", "sys", "dev"):
            continue
        st = os.lstat(p)
        kind = stat.S_IFMT(st.st_mode)
        extra = ""
        if stat.S_ISREG(st.st_mode):
            extra = hashlib.sha256(open(p, "rb").read()).hexdigest()[:16]
        elif stat.S_ISLNK(st.st_mode):
            extra = os.readlink(p)
        print(f"{rel} {kind:o} {stat.S_IMODE(st.st_mode):o} {st.st_uid}:{st.st_gid} {extra}")
PY
}

config_of() {
	python3 -c '
import json, sys
c = json.load(sys.stdin)
c = c[0].get("Config") if isinstance(c, list) else c["OCIv1"]["config"]
out = {}
for k in ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal"):
    v = c.get(k)
    if k == "Labels" and v:
        v = {a: b for a, b in v.items() if not a.startswith("io.buildah.")}
    if v in (None, "", {}, []):
        v = None
    out[k] = v
print(json.dumps(out, sort_keys=True, indent=1))'
}

n=0
for dir in "$RECIPES"/*/; do
	name=$(basename "$dir")
	[ "$name" = errors ] && continue
	[ -f "$dir/no-conformance" ] && continue
	[ -n "${RECIPE:-}" ] && [ "$name" != "$RECIPE" ] && continue
	ctx=$(recipe_context "$name")
	flags=$(recipe_flags "$name")
	# shellcheck disable=SC2086
	strata build -q -t "c-$name" $flags "$ctx" >/dev/null || fail "strata build '$name'"
	# shellcheck disable=SC2086
	bh bud --isolation chroot --runtime runc --layers --format oci -q -t "c-$name" $flags \
		"$ctx" >"$TEST_TMP/bh.log" 2>&1 || fail "buildah bud '$name': $(tail -3 "$TEST_TMP/bh.log")"
	rm -rf "$TEST_TMP/bh-oci" "$TEST_TMP/bh-unpack"
	bh push -q "c-$name" "oci:$TEST_TMP/bh-oci:img" >/dev/null 2>&1 || fail "buildah push '$name'"
	umoci unpack --image "$TEST_TMP/bh-oci:img" "$TEST_TMP/bh-unpack" >/dev/null ||
		fail "umoci unpack buildah's '$name'"
	img_unpack "c-$name:latest"
	tree "$ROOTFS" >"$TEST_TMP/ours.tree"
	tree "$TEST_TMP/bh-unpack/rootfs" >"$TEST_TMP/theirs.tree"
	diff -u "$TEST_TMP/theirs.tree" "$TEST_TMP/ours.tree" >"$TEST_TMP/tree.diff" ||
		fail "'$name': file trees differ from buildah's: $(head -20 "$TEST_TMP/tree.diff")"
	strata inspect "c-$name" | config_of >"$TEST_TMP/ours.cfg"
	bh inspect --type image "c-$name" | config_of >"$TEST_TMP/theirs.cfg"
	diff -u "$TEST_TMP/theirs.cfg" "$TEST_TMP/ours.cfg" >"$TEST_TMP/cfg.diff" ||
		fail "'$name': config differs from buildah's: $(cat "$TEST_TMP/cfg.diff")"
	n=$((n + 1))
done
[ "$n" -ge 15 ] || [ -n "${RECIPE:-}" ] || fail "only $n recipes compared"
echo "compared $n recipes with buildah"
