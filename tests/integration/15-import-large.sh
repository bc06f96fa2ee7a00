# Import of a large file. strata does what the pipeline
#   openssl dgst -sha256 < tar; zstd -T0 -3 < tar | openssl dgst -sha256
# does (both digests and the compression, with the same SHA-256 code),
# plus reading the tar and writing the blob to the disk:
# - with gzip its CPU time stays under 1.1x the pipeline's (least of 3):
#   a thread made per 512 KiB block, the kernel flushing the TLB of every
#   CPU at each unmap, put it at 1.4x;
# - a layer blob bypasses the page cache past its first 16 MiB (O_DIRECT
#   from a thread): through the page cache it cost 1.8 s of kernel CPU
#   per GiB and half the disk's speed, and filled the page cache.
# The layer is the input, whole past the direct writes' unaligned tail.
. "${0%/*}/../lib.sh"
require_cmd python3 "measures CPU time"
require_cmd zstd "the peer pipeline"
require_cmd openssl "the peer pipeline"
require_cmd fincore "counts the blob's pages in the page cache"

cpu() { python3 "$TOP/tests/integration/cputime.py" "$@"; }
mkdir -p "$TEST_TMP/src"
# Random bytes and an odd tail: nothing to compress, nothing aligned.
head -c $((96 << 20)) /dev/urandom >"$TEST_TMP/src/big"
head -c 12345 /dev/urandom >"$TEST_TMP/src/tail"
tar -cf "$TEST_TMP/big.tar" -C "$TEST_TMP/src" big tail
rm -rf "$TEST_TMP/src"
tar=$TEST_TMP/big.tar

peer=$(cpu 3 sh -c "openssl dgst -sha256 <'$tar' >/dev/null; zstd -T0 -3 -q -c <'$tar' | openssl dgst -sha256 >/dev/null") ||
	fail "the peer pipeline"
t=$(cpu 3 --setup "rm -rf '$ROOT'" -- "$STRATA_BIN" --root "$ROOT" import --compression gzip "$tar" big:gzip) ||
	fail "import --compression gzip"
echo "import of 96 MiB --compression gzip: $t s of CPU, the pipeline $peer s (limit 1.1x)"
awk -v a="$t" -v b="$peer" 'BEGIN { exit !(a <= 1.1 * b) }' ||
	fail "import --compression gzip took $t s of CPU, over 1.1x the pipeline's $peer s"

# layer_of REF: the path of the one layer blob of REF.
layer_of() {
	python3 - "$ROOT" "$1" <<'PY'
import json, sys
root, ref = sys.argv[1], sys.argv[2]
idx = json.load(open(root + "/index.json"))
e = next(e for e in idx["manifests"]
         if e.get("annotations", {}).get("org.opencontainers.image.ref.name") == ref)
m = json.load(open(root + "/blobs/sha256/" + e["digest"][7:]))
print(root + "/blobs/sha256/" + m["layers"][0]["digest"][7:])
PY
}

for c in zstd gzip; do
	rm -rf "$ROOT"
	strata import --compression $c "$tar" big:$c >/dev/null
	blob=$(layer_of big:$c)
	cached=$(fincore -b -n -o RES "$blob")
	echo "$c blob: $(stat -c %s "$blob") bytes, $cached of them in the page cache"
	[ "$cached" -le $((24 << 20)) ] || fail "the $c layer blob went through the page cache ($cached bytes of it)"
	$c -dc "$blob" | cmp - "$tar" || fail "the $c layer is not the tar"
	assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "staging entries left in tmp/"
	assert_fsck_clean
done
