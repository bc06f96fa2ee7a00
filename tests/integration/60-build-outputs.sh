# build -o: the result's files in a directory (type=local, equal to what
# `strata export` gives), its rootfs as a tar (to a file or stdout, the
# progress then on stderr), the image as a docker or OCI archive that
# `load` takes back; --iidfile holds the image ID.
. "${0%/*}/../lib.sh"
require_root "builds run containers and mount overlays"

import_busybox
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
echo hello >"$ctx/f"
cat >"$ctx/Dockerfile" <<'X'
FROM busybox AS build
RUN mkdir -p /out && echo built >/out/app && chmod 0750 /out/app && ln -s app /out/link
FROM busybox
COPY --from=build /out /opt/
COPY f /f
RUN rm /bin/vi
X
id=$(strata build -q -t out1 --iidfile "$TEST_TMP/iid" -o type=local,dest="$TEST_TMP/local" "$ctx")
assert_eq "$(cat "$TEST_TMP/iid")" "sha256:$id" "--iidfile"
# The directory is the image's rootfs, as export gives it.
mkdir -p "$TEST_TMP/exp"
strata export out1 | tar -C "$TEST_TMP/exp" --numeric-owner -xpf -
tree() { (cd "$1" && find . -printf '%p %m %U:%G %y %l\n' | sort && find . -type f -exec sha256sum {} + | sort); }
assert_eq "$(tree "$TEST_TMP/local")" "$(tree "$TEST_TMP/exp")" "-o type=local equals export"
assert_eq "$(cat "$TEST_TMP/local/opt/app")" built
assert_not_exists "$TEST_TMP/local/bin/vi"
# -o DIR is type=local.
strata build -q -o "$TEST_TMP/local2" "$ctx" >/dev/null
assert_eq "$(tree "$TEST_TMP/local2")" "$(tree "$TEST_TMP/exp")"

# type=tar to a file equals export; "-o -" writes it to stdout, progress to stderr.
strata build -q -o type=tar,dest="$TEST_TMP/r.tar" "$ctx" >/dev/null
strata export out1 >"$TEST_TMP/e.tar"
cmp "$TEST_TMP/r.tar" "$TEST_TMP/e.tar" || fail "type=tar differs from export"
strata build -o - "$ctx" >"$TEST_TMP/s.tar" 2>"$TEST_TMP/s.err"
cmp "$TEST_TMP/s.tar" "$TEST_TMP/e.tar" || fail "-o - differs from export"
assert_contains "$(cat "$TEST_TMP/s.err")" "STEP 1/"

# type=docker and type=oci: archives that load gives back as the same image.
strata build -q -t out1 -o type=docker,dest="$TEST_TMP/d.tar" "$ctx" >/dev/null
strata build -q -t out1 -o type=oci,dest="$TEST_TMP/o.tar" "$ctx" >/dev/null
tar -tf "$TEST_TMP/d.tar" | grep -q manifest.json || fail "no manifest.json in type=docker"
tar -tf "$TEST_TMP/o.tar" | grep -q oci-layout || fail "no oci-layout in type=oci"
ROOT=$TEST_TMP/root2
strata load -i "$TEST_TMP/d.tar" >/dev/null
assert_eq "$(strata images -q --no-trunc | sed 's/^sha256://')" "$id" "loaded image ID"

# Bad values: one line, exit 125.
for bad in type=nope,dest=x type=local dest=x type=local,dest=x,foo=1 type=oci,dest=-; do
	set +e
	e=$(strata build -o "$bad" "$ctx" 2>&1 >/dev/null)
	rc=$?
	set -e
	assert_eq "$rc" 125 "-o $bad"
	assert_one_line_error "$e"
	assert_contains "$e" "--output"
done
