# build --pull=always|missing|never|newer (bare --pull and "true": always)
# against a registry on loopback, for FROM and COPY --from; --squash (the
# build's layers as one), --squash-all (every layer as one) and
# --annotation (on the manifest).
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds run containers and mount overlays"
require_cmd skopeo "puts the base images into the registry"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
require_cmd umoci "unpacks the built images"
. "${0%/*}/registry.inc"

start_registry reg
import_busybox

# push_base N: base:1 in the registry becomes busybox with /marker = N.
push_base() {
	printf 'FROM busybox\nRUN echo %s >/marker\n' "$1" >"$TEST_TMP/Base"
	strata build -q -t "base-$1" -f "$TEST_TMP/Base" "$TEST_TMP" >/dev/null
	skopeo copy -q --dest-tls-verify=false "oci:$ROOT:base-$1:latest" "docker://$REG/base:1" ||
		fail "skopeo copy base-$1"
}
push_base 1
skopeo copy -q --dest-tls-verify=false "oci:$ROOT:busybox:latest" "docker://$REG/tools:1" ||
	fail "skopeo copy tools"

OTHER=$TEST_TMP/other
so() { "$STRATA_BIN" --root "$OTHER" "$@"; }
on_cleanup "umount -R '$OTHER/mounts' 2>/dev/null; true"
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
cat >"$ctx/Containerfile" <<X
FROM $REG/base:1
COPY --from=$REG/tools:1 /bin/busybox /tools-busybox
RUN cat /marker >/seen
X
seen() { so run --rm "$1" cat /seen; }

# never: nothing there, nothing pulled; the error names the image.
expect_fail so build --pull=never "$ctx"
assert_one_line_error "$out"
assert_contains "$out" "image '$REG/base:1' not found"
# missing (the default): pulled once, FROM and COPY --from both.
so build -q --tls-verify=false -t m1 "$ctx" >/dev/null
assert_eq "$(seen m1)" 1
assert_contains "$(so images)" "$REG/tools"
# A pull that fails says why, in one line (http without --tls-verify=false).
so rmi "$REG/tools:1" >/dev/null
expect_fail so build "$ctx"
assert_one_line_error "$out"
assert_contains "$out" "image '$REG/tools:1' not found, and pulling it failed"
assert_contains "$out" "tls-verify=false"
so build -q --tls-verify=false -t m1 "$ctx" >/dev/null

# The registry's base:1 moves on.
push_base 2
for p in missing never false; do
	so build -q --pull=$p --tls-verify=false -t p "$ctx" >/dev/null
	assert_eq "$(seen p)" 1 "--pull=$p pulls what the store has"
done
so build -q --pull=newer --tls-verify=false -t p "$ctx" >/dev/null
assert_eq "$(seen p)" 2 "--pull=newer"
push_base 3
so build -q --pull --tls-verify=false -t p "$ctx" >/dev/null
assert_eq "$(seen p)" 3 "bare --pull"
push_base 4
so build -q --pull=always --tls-verify=false -t p "$ctx" >/dev/null
assert_eq "$(seen p)" 4 "--pull=always"
push_base 5
so build -q --pull=true --tls-verify=false -t p "$ctx" >/dev/null
assert_eq "$(seen p)" 5 "--pull=true"

# The registry is gone: newer and missing use the store, always fails.
kill "$REG_PID"
wait "$REG_PID" 2>/dev/null || true
so build -q --pull=newer --tls-verify=false -t p "$ctx" >/dev/null 2>"$TEST_TMP/newer.err" ||
	fail "--pull=newer without the registry: $(cat "$TEST_TMP/newer.err")"
assert_contains "$(cat "$TEST_TMP/newer.err")" "the stored image is used"
so build -q --tls-verify=false -t p "$ctx" >/dev/null
expect_fail so build --pull=always --tls-verify=false "$ctx"
assert_one_line_error "$out"
assert_contains "$out" "pull '$REG/base:1' (--pull=always)"
expect_fail so build --pull=sometimes "$ctx"
assert_one_line_error "$out"
assert_contains "$out" "invalid --pull 'sometimes'"
ROOT=$OTHER assert_fsck_clean

# --squash: the layers the build made are one; --squash-all: all are one.
# The files are those of the image built without it.
sq=$TEST_TMP/sq
mkdir -p "$sq"
echo f >"$sq/f"
cat >"$sq/Containerfile" <<'X'
FROM busybox
RUN echo a >/a && mkdir -p /d/e && echo x >/d/e/x
RUN echo b >/b && rm /bin/ls && rm -r /d/e
COPY f /f
CMD ["/bin/sh"]
X
base_layers=$(IMG=busybox:latest layer_count)
strata build -q -t sq0 "$sq" >/dev/null
strata build -q --squash -t sq1 --annotation org.example.k=v --annotation x=y=z "$sq" >/dev/null
strata build -q --squash-all -t sq2 "$sq" >/dev/null
assert_eq "$(IMG=sq0:latest layer_count)" $((base_layers + 3))
assert_eq "$(IMG=sq1:latest layer_count)" $((base_layers + 1)) "--squash"
assert_eq "$(IMG=sq2:latest layer_count)" 1 "--squash-all"
for i in sq0 sq1 sq2; do
	img_unpack "$i:latest"
	python3 "$TOP/tests/integration/fstree.py" "$ROOTFS" >"$TEST_TMP/$i.tree"
	IMG=$i:latest
	cfg 'json.dumps(c, sort_keys=True)' >"$TEST_TMP/$i.cfg"
	# as many history entries for layers as layers
	assert_eq "$(cfgtop 'sum(1 for h in d["History"] if not h.get("empty_layer"))')" \
		"$(layer_count)" "$i: history entries with a layer"
done
diff -u "$TEST_TMP/sq0.tree" "$TEST_TMP/sq1.tree" || fail "--squash changed the files"
diff -u "$TEST_TMP/sq0.tree" "$TEST_TMP/sq2.tree" || fail "--squash-all changed the files"
diff -u "$TEST_TMP/sq0.cfg" "$TEST_TMP/sq1.cfg" || fail "--squash changed the config"
assert_eq "$(strata run --rm sq1 sh -c 'ls /bin/ls /d/e 2>&1 >/dev/null | wc -l; cat /a /b /f')" \
	"$(printf '2\na\nb\nf')"
# The squashed layer hides the base's /bin/ls with a whiteout.
skopeo inspect --raw "oci:$ROOT:sq1:latest" >"$TEST_TMP/sq1.manifest" || fail "skopeo inspect sq1"
python3 - "$TEST_TMP/sq1.manifest" <<'PY' || fail "annotations: $(cat "$TEST_TMP/sq1.manifest")"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["annotations"] == {"org.example.k": "v", "x": "y=z"}, m.get("annotations")
PY
last=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["layers"][-1]["digest"][7:])' "$TEST_TMP/sq1.manifest")
assert_contains "$(tar -tzf "$ROOT/blobs/sha256/$last")" "bin/.wh.ls"
# Without --annotation the manifest has none; a bad one is one line.
assert_eq "$(skopeo inspect --raw "oci:$ROOT:sq0:latest" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("annotations"))')" None
expect_fail strata build --annotation novalue "$sq"
assert_one_line_error "$out"
assert_contains "$out" "invalid --annotation 'novalue' (KEY=VALUE)"
expect_fail strata build --squash --squash-all "$sq"
assert_one_line_error "$out"
assert_contains "$out" "cannot go together"
assert_fsck_clean
