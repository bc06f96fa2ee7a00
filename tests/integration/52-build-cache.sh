# The build cache: a rebuild runs no RUN step (seen in the step output) and
# gives the same image; only a changed input (a COPY source, a build arg)
# re-runs its step and the ones after; mtimes and ignored files do not
# count; --no-cache runs everything; gc keeps what the cache reaches;
# --target builds only the stages the target needs.
. "${0%/*}/../lib.sh"
. "$TOP/fixtures/recipes/lib.sh"
require_root "builds run containers and mount overlays"

import_busybox
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
echo a >"$ctx/a.txt"
echo b >"$ctx/b.txt"
echo ignored >"$ctx/ignored.txt"
printf 'ignored.txt\n' >"$ctx/.dockerignore"
cat >"$ctx/Containerfile" <<'X'
FROM busybox
COPY a.txt /a.txt
RUN echo RAN-AFTER-A && cat /a.txt >/copy
ARG X=default
RUN echo "RAN-WITH-X=$X"
COPY . /ctx/
RUN echo RAN-AFTER-CTX
HEALTHCHECK CMD true
X

# What RUN printed: the output without the STEP lines, which quote the RUN text.
ran() { printf '%s\n' "$1" | grep -v 'STEP [0-9]' || true; }

out1=$(strata build -t cached "$ctx")
id1=$(printf '%s\n' "$out1" | tail -n1)
for m in RAN-AFTER-A RAN-WITH-X=default RAN-AFTER-CTX; do assert_contains "$out1" "$m"; done
assert_not_contains "$out1" "Using cache"

# Nothing changed: no RUN runs, every step is a hit, same image.
out2=$(strata build -t cached "$ctx")
assert_not_contains "$(ran "$out2")" "RAN-"
assert_eq "$(printf '%s\n' "$out2" | grep -c -- '--> Using cache')" 7 "cache hits"
assert_eq "$(printf '%s\n' "$out2" | tail -n1)" "$id1" "cached image ID"

# An mtime and an ignored file are not inputs.
touch -d '2001-01-01' "$ctx/a.txt"
echo changed >"$ctx/ignored.txt"
out=$(strata build "$ctx")
assert_not_contains "$(ran "$out")" "RAN-"
assert_eq "$(printf '%s\n' "$out" | tail -n1)" "$id1"

# A changed COPY source re-runs from its step on, and only from there.
echo b2 >"$ctx/b.txt"
out=$(strata build "$ctx")
assert_not_contains "$(ran "$out")" "RAN-AFTER-A"
assert_not_contains "$(ran "$out")" "RAN-WITH-X"
assert_contains "$(ran "$out")" "RAN-AFTER-CTX"

# A changed build arg re-runs the RUN that sees it.
out=$(strata build --build-arg X=other "$ctx")
assert_not_contains "$(ran "$out")" "RAN-AFTER-A"
assert_contains "$(ran "$out")" "RAN-WITH-X=other"

# --no-cache runs everything.
out=$(strata build --no-cache "$ctx")
for m in RAN-AFTER-A RAN-WITH-X=default RAN-AFTER-CTX; do assert_contains "$out" "$m"; done

# The cache entries keep their images from gc; the entries hold "Blobs".
strata rmi cached >/dev/null
strata gc >/dev/null
out=$(strata build "$ctx")
assert_not_contains "$(ran "$out")" "RAN-"
for e in "$ROOT"/cache/*.json; do
	python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))["Blobs"]' "$e" ||
		fail "cache entry without Blobs: $e"
done
assert_fsck_clean

# -q prints the ID alone.
assert_eq "$(strata build -q "$ctx")" "$(printf '%s\n' "$out" | tail -n1)"

# --layers=false: one layer for the stage's changes, and no cache.
out=$(strata build --layers=false -t flat "$ctx")
assert_contains "$(ran "$out")" "RAN-AFTER-A"
n=$(strata inspect flat | python3 -c 'import json,sys; print(len(json.load(sys.stdin)[0]["RootFS"]["DiffIDs"]))')
assert_eq "$n" 2 "layers of --layers=false (busybox + 1)"

# Multi-stage: --target builds what the target needs, nothing else.
cat >"$ctx/Multi" <<'X'
FROM busybox AS one
RUN echo RAN-ONE >/one
FROM busybox AS two
RUN echo RAN-TWO
FROM one AS three
RUN echo RAN-THREE
FROM busybox
COPY --from=three /one /final
RUN echo RAN-FINAL
X
# Here the STEP lines tell which stages were built at all.
out=$(strata build -f "$ctx/Multi" --target three "$ctx")
assert_contains "$out" "RAN-ONE"
assert_contains "$out" "RAN-THREE"
assert_not_contains "$out" "RAN-TWO"
assert_not_contains "$out" "RAN-FINAL"
out=$(strata build -f "$ctx/Multi" "$ctx")
assert_not_contains "$out" "RAN-TWO"
assert_contains "$(printf '%s\n' "$out" | grep -A1 'RUN echo RAN-ONE')" "Using cache" "stage one cached"
assert_contains "$out" "RAN-FINAL"
assert_contains "$out" "[3/3] STEP 3/3: RUN echo RAN-FINAL"
