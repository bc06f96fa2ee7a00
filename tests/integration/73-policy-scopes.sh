# policy.json scopes per transport, judged as containers/image judges them:
# a scope that a transport refuses (anything but "" for docker-archive and
# tarball, a relative or unclean path for oci, oci-archive, dir and sif, a
# digest for docker-daemon, a containers-storage scope without its store)
# makes the whole file an error. Each row is one policy file; strata (a
# load judged by it) and skopeo (a copy judged by it) must agree on it,
# and strata's refusal is one line naming the file and the scope.
. "${0%/*}/../lib.sh"
require_cmd skopeo "compares the policy verdicts"
require_cmd umoci "makes the image skopeo copies"
import_busybox
strata save -o "$TEST_TMP/saved.tar" busybox
umoci init --layout "$TEST_TMP/l" >/dev/null
umoci new --image "$TEST_TMP/l:t" >/dev/null

H64=$(printf '%064d' 0)
# transport|scope|verdict (ok: the file is accepted; no: refused)
rows="docker||ok
docker|rel|ok
docker|/|ok
docker|host.io/ns/repo:tag|ok
docker|*.example.com|ok
docker-archive||ok
docker-archive|/a|no
docker-archive|rel|no
docker-archive|$TEST_TMP/saved.tar|no
tarball||ok
tarball|/a|no
oci||ok
oci|/a|ok
oci|/a:tag|ok
oci|rel|no
oci|/|no
oci|/a/|no
oci|/a/../b|no
oci|/a//b|no
oci|/a/./b|no
oci-archive|/a|ok
oci-archive|a/b|no
oci-archive|/a/..|no
dir|/a/b|ok
dir|/a/b/|no
sif|/a|ok
sif|x|no
docker-daemon|host/ns|ok
docker-daemon|sha256:$H64|no
docker-daemon|sha256:abc|ok
containers-storage||ok
containers-storage|[overlay@/a]x|ok
containers-storage|[/a]|ok
containers-storage|[/a]busybox@$H64|ok
containers-storage|[/a]busybox@sha256:$H64|ok
containers-storage|[/a]busybox@sha256:$H64@$H64|ok
containers-storage|[/a]busybox@nope|no
containers-storage|[rel]x|no
containers-storage|[]x|no
containers-storage|/a|no
containers-storage|x|no
ostree|anything|ok
unknown-transport|anything at all|ok"

n=0
printf '%s\n' "$rows" | while IFS='|' read -r transport scope want; do
	n=$((n + 1))
	f=$TEST_TMP/p$n.json
	printf '{"default": [{"type": "insecureAcceptAnything"}], "transports": {"%s": {"%s": [{"type": "insecureAcceptAnything"}]}}}\n' \
		"$transport" "$scope" >"$f"
	if skopeo --policy "$f" copy -q "oci:$TEST_TMP/l:t" "oci:$TEST_TMP/dst:t" >/dev/null 2>&1; then
		sk=ok
	else
		sk=no
	fi
	assert_eq "$sk" "$want" "skopeo's verdict on $transport scope '$scope'"
	set +e
	out=$(strata load -q --signature-policy "$f" -i "$TEST_TMP/saved.tar" 2>&1 >/dev/null)
	rc=$?
	set -e
	if [ $rc -eq 0 ]; then
		st=ok
	else
		st=no
		assert_eq "$rc" 125 "exit status of a refused policy"
		assert_one_line_error "$out"
		assert_contains "$out" "signature policy $f: $transport scope '$scope'" "the refusal names the scope"
	fi
	assert_eq "$st" "$sk" "strata's verdict on $transport scope '$scope' (skopeo: $sk; strata said '$out')"
done
echo "policy scopes: $(printf '%s\n' "$rows" | wc -l) rows, strata and skopeo agree"
