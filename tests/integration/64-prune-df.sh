#!/bin/sh
# Cleaning up as podman users do: image prune [-a] [--filter], container
# prune, system prune [-a], system df [-v] [--format], rmi -a, images
# --digests, and pull --all-tags from the loopback registry.
. "${0%/*}/../lib.sh"
require_cmd docker-registry "is the registry for pull --all-tags"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

tar=$(busybox_tar)
SOURCE_DATE_EPOCH=1000000000 strata import -c 'LABEL keep=yes' "$tar" old:1 >/dev/null
SOURCE_DATE_EPOCH=1100000000 strata import -c 'LABEL keep=no' "$tar" mid:1 >/dev/null
strata import -c 'CMD ["sh"]' "$tar" busybox >/dev/null
# a dangling image: a loaded archive with no name
strata save -f oci-archive -o "$TEST_TMP/noname.tar" mid:1
python3 - "$TEST_TMP/noname.tar" "$TEST_TMP/anon.tar" <<'PY'
import json, sys, tarfile, io
src = tarfile.open(sys.argv[1]); dst = tarfile.open(sys.argv[2], "w")
for m in src.getmembers():
    data = src.extractfile(m).read() if m.isfile() else None
    if m.name == "index.json":
        idx = json.loads(data)
        for d in idx["manifests"]:
            d.pop("annotations", None)
        # another config: change nothing but drop the name, the image stays the same ID
        data = json.dumps(idx).encode()
        m.size = len(data)
    dst.addfile(m, io.BytesIO(data) if data is not None else None)
dst.close()
PY
strata rmi mid:1 >/dev/null
strata load -i "$TEST_TMP/anon.tar" >/dev/null
assert_eq "$(strata images --filter dangling=true --format '{{.Repository}}:{{.Tag}}')" \
	"<none>:<none>" "a dangling image"
dangling=$(strata images -q --filter dangling=true)

# ---- system df before anything goes ----
cid=$(strata create busybox true)
df=$(strata system df --format '{{.Type}}={{.Total}}/{{.Active}}')
assert_eq "$(echo "$df" | tr '\n' ' ')" \
	"Images=3/1 Containers=1/0 Local Volumes=0/0 Build Cache=0/0 " "system df counts"
strata system df | head -1 | grep -q '^TYPE           TOTAL       ACTIVE      SIZE        RECLAIMABLE$' ||
	fail "system df header: $(strata system df | head -1)"
strata system df --format json | python3 -c '
import json, sys
rows = {r["Type"]: r for r in json.load(sys.stdin)}
i = rows["Images"]
assert i["RawSize"] > 0 and 0 < i["RawReclaimable"] < i["RawSize"], i
assert i["Reclaimable"].endswith("%)"), i' || fail "system df json"
strata system df -v | grep -q "^Images space usage:" || fail "system df -v"
strata system df -v | grep -q "^${cid%"${cid#????????????}"}" || fail "system df -v lists the container"

# ---- image prune: only what has no name and no container ----
expect_fail sh -c "echo n | '$STRATA_BIN' --root '$ROOT' image prune"
assert_contains "$out" "not confirmed"
assert_eq "$(strata images -q --filter dangling=true)" "$dangling" "prune refused keeps it"
pruned=$(echo y | "$STRATA_BIN" --root "$ROOT" image prune 2>/dev/null)
assert_contains "$pruned" "${dangling}" "image prune prints the IDs"
assert_eq "$(strata images -q --filter dangling=true)" "" "dangling image pruned"
assert_eq "$(strata images --format '{{.Repository}}' | sort | tr '\n' ' ')" "busybox old " \
	"named images kept"
# -a with filters: label and until; the image a container uses stays
strata image prune -a -f --filter label=keep=no >/dev/null
assert_eq "$(strata images --format '{{.Repository}}' | sort | tr '\n' ' ')" "busybox old " \
	"label filter"
strata image prune -a -f --filter until=2002-01-01 >/dev/null
assert_eq "$(strata images --format '{{.Repository}}' | sort | tr '\n' ' ')" "busybox " \
	"until filter"
# a bad until= is refused in one line (its value was read after the filters were freed)
for c in "image prune" "container prune" "system prune"; do
	expect_fail strata $c -f --filter until=bogus
	[ "$rc" -eq 125 ] || fail "$c: a bad until= exits $rc, not 125"
	assert_one_line_error "$out"
	assert_contains "$out" "$c: invalid filter 'until=bogus'"
done
strata image prune -a -f >/dev/null
assert_eq "$(strata images --format '{{.Repository}}')" "busybox" "in use: kept"
expect_fail strata image prune -f --filter color=red
assert_one_line_error "$out"

# ---- container prune, rmi -a ----
expect_fail strata rmi -a
assert_contains "$out" "in use by container"
assert_eq "$(strata container prune -f)" "$cid" "container prune prints the IDs"
assert_eq "$(strata ps -aq)" "" "container pruned"
strata import "$tar" two:1 >/dev/null
strata rmi -a >/dev/null
assert_eq "$(strata images -q)" "" "rmi -a"
expect_fail strata rmi -a busybox
assert_one_line_error "$out"

# ---- system prune -a: everything unused, and the data ----
strata import "$tar" busybox >/dev/null
strata create busybox true >/dev/null
out=$(strata system prune -a -f)
assert_contains "$out" "Deleted Containers"
assert_contains "$out" "Deleted Images"
assert_contains "$out" "Total reclaimed space: "
assert_eq "$(strata images -q)$(strata ps -aq)" "" "system prune -a"
assert_eq "$(strata system df --format '{{.Total}}' | tr '\n' ' ')" "0 0 0 0 " "nothing left"
assert_fsck_clean
ls "$ROOT/blobs/sha256" | grep -q . && fail "system prune left blobs: $(ls "$ROOT/blobs/sha256")"

# ---- pull --all-tags, images --digests ----
start_registry reg
strata import "$tar" busybox >/dev/null
for t in v1 v2 v3; do
	strata tag busybox "$REG/multi:$t"
	strata push -q --tls-verify=false "$REG/multi:$t" >/dev/null
done
strata rmi -a >/dev/null
strata pull -q --tls-verify=false --all-tags "$REG/multi" >/dev/null
assert_eq "$(strata images --format '{{.Tag}}' | sort | tr '\n' ' ')" "v1 v2 v3 " "pull --all-tags"
expect_fail strata pull --tls-verify=false --all-tags "$REG/multi:v1"
assert_one_line_error "$out"
dg=$(strata images --digests | awk 'NR==2 {print $3}')
case $dg in sha256:*) ;; *) fail "images --digests: '$dg'" ;; esac
assert_eq "$(strata images --format '{{.Digest}}' | sort -u)" "$dg" "the Digest field"
assert_fsck_clean
echo PASS
