#!/bin/sh
# Layers of many small files (10,000, 100,000 and 300,000 files of 0.5 to
# 1.5 KB, 1,000 to a directory; $BENCH_EXPORT_SIZES to choose):
#   strata export of the one-layer image   vs  tar -cf of the same tree
#   strata export of three layers (whiteouts of files and directories, an
#     opaque directory, files replaced)    vs  tar -cf of the merged tree
#   strata import DIR --compression zstd   vs  tar -c | zstd -T0 -3
# and strata's peak RSS for each. Trees are made once in $BENCH_CACHE.
. "$(dirname "$0")/lib.sh"

sizes=${BENCH_EXPORT_SIZES:-10000 100000 300000}
root=$BENCH_TMP/root

# A docker archive of three layers: the export of the one-layer image, then
# a layer whiting out a directory, making one opaque and deleting half of
# another's files (and adding 1,000 files), then one deleting a third of a
# directory, replacing a fifth of another and half of the files just added.
three_layers() {
	python3 - "$1" "$2" <<'PY'
import hashlib, io, json, os, sys, tarfile
base, out = sys.argv[1], sys.argv[2]
work = out + ".d"
os.makedirs(work, exist_ok=True)
def mk(name, entries):
    entries.sort(key=lambda e: e[0].split("/"))
    with tarfile.open(f"{work}/{name}", "w", format=tarfile.PAX_FORMAT) as t:
        for n, data in entries:
            ti = tarfile.TarInfo(n)
            ti.mtime = 1700000000
            if data is None:
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                t.addfile(ti)
            else:
                ti.size, ti.mode = len(data), 0o644
                t.addfile(ti, io.BytesIO(data))
e = [(".wh.d000", b"")]
e += [("d001", None), ("d001/.wh..wh..opq", b""), ("d001/new", b"n" * 100), ("d002", None)]
e += [(f"d002/.wh.f{f:04d}", b"") for f in range(0, 1000, 2)]
e += [("new1", None)] + [(f"new1/g{f:04d}", b"x" * 700) for f in range(1000)]
mk("l1.tar", e)
e = [("d003", None)] + [(f"d003/.wh.f{f:04d}", b"") for f in range(0, 1000, 3)]
e += [("d004", None)] + [(f"d004/f{f:04d}", b"replaced") for f in range(0, 1000, 5)]
e += [("new1", None)] + [(f"new1/.wh.g{f:04d}", b"") for f in range(0, 1000, 2)]
mk("l2.tar", e)
os.link(base, f"{work}/l0.tar")
def sha(p):
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return "sha256:" + h.hexdigest()
layers = ["l0.tar", "l1.tar", "l2.tar"]
cfg = {"architecture": "amd64", "os": "linux", "config": {},
       "rootfs": {"type": "layers", "diff_ids": [sha(f"{work}/{l}") for l in layers]}}
json.dump(cfg, open(f"{work}/config.json", "w"))
json.dump([{"Config": "config.json", "RepoTags": ["three:1"], "Layers": layers}],
          open(f"{work}/manifest.json", "w"))
PY
	tar -cf "$2" -C "$2.d" manifest.json config.json l0.tar l1.tar l2.tar
	rm -rf "$2.d"
}

echo "median of $BENCH_RUNS runs; tars written to $BENCH_TMP"
bench_header "operation" "strata (s)" "peer (s)" "ratio" "target" "strata peak RSS (MB)"
for n in $sizes; do
	tree=$(bench_small_tree "$n")
	rm -rf "$root"
	"$STRATA_BIN" --root "$root" import --compression zstd "$tree" small:1 >/dev/null
	set -- $(bench_pair --setup "rm -f '$BENCH_TMP/a.tar' '$BENCH_TMP/b.tar'" \
		"'$STRATA_BIN' --root '$root' export small:1 -o '$BENCH_TMP/a.tar'" \
		"tar -cf '$BENCH_TMP/b.tar' -C '$tree' .")
	rss=$(bench_rss "$STRATA_BIN" --root "$root" export small:1 -o "$BENCH_TMP/a.tar")
	bench_row "export, one layer of $n files, vs tar -cf" "$1" "$2" "$(bench_ratio "$1" "$2")" \
		"<= 1.2" "$rss"

	three_layers "$BENCH_TMP/a.tar" "$BENCH_TMP/three.tar"
	"$STRATA_BIN" --root "$root" load -i "$BENCH_TMP/three.tar" >/dev/null
	rm -f "$BENCH_TMP/three.tar"
	mkdir "$BENCH_TMP/merged"
	"$STRATA_BIN" --root "$root" export three:1 | tar -xf - -C "$BENCH_TMP/merged"
	set -- $(bench_pair --setup "rm -f '$BENCH_TMP/a.tar' '$BENCH_TMP/b.tar'" \
		"'$STRATA_BIN' --root '$root' export three:1 -o '$BENCH_TMP/a.tar'" \
		"tar -cf '$BENCH_TMP/b.tar' -C '$BENCH_TMP/merged' .")
	rss=$(bench_rss "$STRATA_BIN" --root "$root" export three:1 -o "$BENCH_TMP/a.tar")
	bench_row "export, three layers with whiteouts over $n files, vs tar -cf of the result" \
		"$1" "$2" "$(bench_ratio "$1" "$2")" "<= 1.5" "$rss"
	rm -rf "$BENCH_TMP/merged" "$BENCH_TMP/a.tar" "$BENCH_TMP/b.tar"

	set -- $(bench_pair --setup "rm -rf '$root/blobs/sha256/'* '$BENCH_TMP/p.out'" \
		"'$STRATA_BIN' --root '$root' import --compression zstd '$tree' small:2" \
		"tar -cf - -C '$tree' . | zstd -T0 -3 -q -c >'$BENCH_TMP/p.out'")
	rm -rf "$root/blobs/sha256/"*
	rss=$(bench_rss "$STRATA_BIN" --root "$root" import --compression zstd "$tree" small:2)
	bench_row "import DIR of $n files --compression zstd vs tar -c \\| zstd -T0 -3" "$1" "$2" \
		"$(bench_ratio "$1" "$2")" "<= 1.0" "$rss"
	rm -rf "$root"
done
