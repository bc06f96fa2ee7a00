# Lies against the newer registry paths, through the lying proxy
# (tests/integration/lying-registry.py) in front of Debian's
# docker-registry: pull --all-tags with a tag list in pages (followed), a
# list whose pages loop, name another repository, carry an invalid or a
# duplicated tag, or never end; each lie ends in one line, exit 125, nothing
# tagged that the list did not name, fsck clean, and the same pull through
# the honest registry then succeeds.
. "${0%/*}/../lib.sh"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
UP=$REG
import_busybox
for t in v1 v2 v3; do
	strata push -q --tls-verify=false busybox "$UP/multi:$t" >/dev/null || fail "push multi:$t"
done

RULES=$TEST_TMP/rules.json
LOG=$TEST_TMP/liar.log
echo '[]' >"$RULES"
python3 "${0%/*}/lying-registry.py" "$TEST_TMP/liar.port" "$UP" "$RULES" "$LOG" \
	2>"$TEST_TMP/liar.err" &
track_pid $!
i=0
until [ -s "$TEST_TMP/liar.port" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "the lying registry did not start: $(cat "$TEST_TMP/liar.err")"
	sleep 0.1
done
LIAR=127.0.0.1:$(cat "$TEST_TMP/liar.port")
set_rules() {
	printf '%s\n' "$1" >"$RULES.tmp"
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$RULES.tmp" || fail "rules: $1"
	mv "$RULES.tmp" "$RULES"
	: >"$LOG"
}

# Each pull goes to a new store P.
n=0
sp() { "$STRATA_BIN" --root "$P" "$@"; }
new_store() {
	n=$((n + 1))
	P=$TEST_TMP/p$n
}
tags_of() { sp images --format '{{.Tag}}' | sort | tr '\n' ' '; }
# refused WHAT PATTERN...: the last pull failed as it must, and the store is whole.
refused() {
	what=$1
	shift
	[ "$rc" = 125 ] || fail "$what: exit $rc, want 125: $out"
	assert_one_line_error "$out"
	for p in "$@"; do assert_contains "$out" "$p" "$what"; done
	o=$(sp fsck 2>&1) || fail "$what: fsck: $o"
}
all_tags() {
	new_store
	set +e
	out=$(timeout 60 "$STRATA_BIN" --root "$P" pull -q --tls-verify=false --all-tags "$LIAR/multi" 2>&1 >/dev/null)
	rc=$?
	set -e
}

# ---- tag lists ----
# In two pages, the second named by a Link header: every tag is pulled.
L='</v2/multi/tags/list?n=2&last=v2>; rel=\"next\"'
set_rules "[{\"path\": \"/v2/multi/tags/list?n=2&last=v2\", \"mode\": \"answer\", \"arg\": {\"name\": \"multi\", \"tags\": [\"v3\"]}},
 {\"path\": \"/v2/multi/tags/list\", \"mode\": \"answer\", \"arg\": {\"name\": \"multi\", \"tags\": [\"v1\", \"v2\"]}, \"headers\": {\"Link\": \"$L\"}}]"
all_tags
[ "$rc" = 0 ] || fail "pull --all-tags of a list in two pages: $out"
assert_eq "$(tags_of)" "v1 v2 v3 " "the tags of both pages"
# The same as an absolute URL on the registry, with another link before it.
L="<http://$LIAR/v2/multi/tags/list?n=2&last=v2>; rel=\\\"next\\\""
set_rules "[{\"path\": \"/v2/multi/tags/list?n=2&last=v2\", \"mode\": \"answer\", \"arg\": {\"tags\": [\"v3\"]}},
 {\"path\": \"/v2/multi/tags/list\", \"mode\": \"answer\", \"arg\": {\"tags\": [\"v1\", \"v2\"]}, \"headers\": {\"Link\": \"</docs>; rel=\\\"help\\\", $L\"}}]"
all_tags
[ "$rc" = 0 ] || fail "pull --all-tags of a list in two pages (absolute link): $out"
assert_eq "$(tags_of)" "v1 v2 v3 " "the tags of both pages (absolute link)"
# A tag twice (on one page and across pages) is pulled once.
L='</v2/multi/tags/list?last=v2>; rel=next'
set_rules "[{\"path\": \"/v2/multi/tags/list?last=v2\", \"mode\": \"answer\", \"arg\": {\"tags\": [\"v2\", \"v1\"]}},
 {\"path\": \"/v2/multi/tags/list\", \"mode\": \"answer\", \"arg\": {\"tags\": [\"v1\", \"v2\", \"v1\"]}, \"headers\": {\"Link\": \"$L\"}}]"
all_tags
[ "$rc" = 0 ] || fail "pull --all-tags of a list with duplicates: $out"
assert_eq "$(tags_of)" "v1 v2 " "duplicated tags"
assert_eq "$(grep -c 'GET /v2/multi/manifests/v1 ' "$LOG")" 1 "v1 fetched once"
# Pages that loop (the second names the first again).
set_rules "[{\"path\": \"/v2/multi/tags/list?last=v1\", \"mode\": \"answer\", \"arg\": {\"tags\": [\"v2\"]}, \"headers\": {\"Link\": \"</v2/multi/tags/list>; rel=next\"}},
 {\"path\": \"/v2/multi/tags/list\", \"mode\": \"answer\", \"arg\": {\"tags\": [\"v1\"]}, \"headers\": {\"Link\": \"</v2/multi/tags/list?last=v1>; rel=next\"}}]"
all_tags
refused "pages that loop" "strata: pull: " "tag list" "loop"
assert_eq "$(tags_of)" "" "tags pulled from a list that loops"
# Pages that never end (each names a new one): bounded.
set_rules '[{"path": "/v2/multi/tags/list", "mode": "answer", "arg": {"tags": []}, "headers": {"Link": "</v2/multi/tags/list?last=x>; rel=\"next\""}},
 {"path": "/v2/multi/tags/list", "mode": "answer", "arg": {"tags": []}}]'
# (the proxy answers every page with the same link: a loop after one page)
all_tags
refused "a page naming itself" "loop"
# A next page in another repository, or on another host.
set_rules '[{"path": "/v2/multi/tags/list", "mode": "answer", "arg": {"tags": ["v1"]}, "headers": {"Link": "</v2/other/tags/list?last=v1>; rel=\"next\""}}]'
all_tags
refused "a next page of another repository" "tag list" "/v2/other/tags/list"
assert_eq "$(tags_of)" "" "tags pulled from a list that left the repository"
set_rules '[{"path": "/v2/multi/tags/list", "mode": "answer", "arg": {"tags": ["v1"]}, "headers": {"Link": "<http://elsewhere.invalid/v2/multi/tags/list?last=v1>; rel=\"next\""}}]'
all_tags
refused "a next page on another host" "tag list" "elsewhere.invalid"
# Tags that are not tags: another repository, a digest, a path, a newline, not a string.
for bad in '"other/img:v1"' '"v1@sha256:0000000000000000000000000000000000000000000000000000000000000000"' \
	'"../../x"' '"v1\nv2"' '""' '7' '".hidden"'; do
	set_rules "[{\"path\": \"/v2/multi/tags/list\", \"mode\": \"answer\", \"arg\": {\"tags\": [\"v1\", $bad]}}]"
	all_tags
	refused "tag $bad" "tag list" "not a valid tag"
	assert_eq "$(tags_of)" "" "tags pulled from a list with $bad"
done
# Not a list at all.
for bad in '{"tags": "v1"}' '"tags"' '[]' 'not json'; do
	set_rules "[{\"path\": \"/v2/multi/tags/list\", \"mode\": \"answer\", \"arg\": $(printf '%s' "$bad" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')}]"
	all_tags
	refused "tag list $bad" "strata: pull: "
done
# A huge list: 200,001 distinct tags are refused before any pull.
python3 -c '
import json, sys
print(json.dumps([{"path": "/v2/multi/tags/list", "mode": "answer",
                   "arg": {"tags": ["t%d" % i for i in range(200001)]}}]))' >"$RULES.tmp"
mv "$RULES.tmp" "$RULES"
all_tags
refused "200,001 tags" "more than 100000 tags"
assert_not_contains "$(cat "$LOG")" "/manifests/" "a manifest fetched for a huge list"
# The honest registry: every tag.
set_rules '[]'
all_tags
[ "$rc" = 0 ] || fail "pull --all-tags through the honest proxy: $out"
assert_eq "$(tags_of)" "v1 v2 v3 " "the honest list"

# ---- a token server that lies ----
# The registry asks for a Bearer token from a realm on the proxy; the token
# carries a CR LF and a header of the server's choice: refused, never sent.
pull_one() {
	new_store
	set +e
	out=$(timeout 60 "$STRATA_BIN" --root "$P" pull -q --tls-verify=false "$LIAR/multi:v1" 2>&1 >/dev/null)
	rc=$?
	set -e
}
CH="Bearer realm=\\\"http://$LIAR/token\\\",service=\\\"liar\\\""
for tok in '"abc\r\nX-Injected: yes"' '"abc def"' '"t\u00e9"'; do
	set_rules "[{\"path\": \"/token\", \"mode\": \"answer\", \"arg\": {\"token\": $tok}},
 {\"path\": \"/v2/\", \"mode\": \"answer\", \"code\": 401, \"arg\": {\"errors\": []}, \"headers\": {\"WWW-Authenticate\": \"$CH\"}}]"
	pull_one
	refused "token $tok" "token server" "cannot be sent"
	assert_eq "$(grep -c 'GET /v2/multi/' "$LOG" || true)" 0 "a request with token $tok"
done
# No token, a token that is not a string, a realm that is not http: refused.
for ans in '{"token": ""}' '{"token": 5}' '"<html>"'; do
	set_rules "[{\"path\": \"/token\", \"mode\": \"answer\", \"arg\": $ans},
 {\"path\": \"/v2/\", \"mode\": \"answer\", \"code\": 401, \"arg\": {\"errors\": []}, \"headers\": {\"WWW-Authenticate\": \"$CH\"}}]"
	pull_one
	refused "token answer $ans" "gave no token"
done
set_rules "[{\"path\": \"/v2/\", \"mode\": \"answer\", \"code\": 401, \"arg\": {\"errors\": []}, \"headers\": {\"WWW-Authenticate\": \"Bearer realm=\\\"file:///etc/shadow\\\"\"}}]"
pull_one
refused "a file realm" "is not an http(s) URL"
# The proxy honest again: the same pull works.
set_rules '[]'
pull_one
[ "$rc" = 0 ] || fail "pull through the honest proxy: $out"

# ---- a mirror that lies ----
# registries.conf names the proxy as the mirror of the registry itself: a
# mirror whose manifest fails, does not parse or does not match the digest
# asked for is passed over for the registry (as podman passes over a mirror
# whose manifest fails); a mirror that lies about a layer after its manifest
# was taken fails the pull in one line with nothing tagged; the store is
# whole after each.
export HOME=$TEST_TMP/home STRATA_SYSCONFDIR=$TEST_TMP/etc CONTAINERS_REGISTRIES_CONF=$TEST_TMP/registries.conf
mkdir -p "$HOME" "$STRATA_SYSCONFDIR"
cat >"$CONTAINERS_REGISTRIES_CONF" <<EOC
[[registry]]
location = "$UP"
insecure = true
[[registry.mirror]]
location = "$LIAR"
insecure = true
EOC
LAYER=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$UP/v2/multi/manifests/v1" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
DG=$(curl -sI -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$UP/v2/multi/manifests/v1" |
	tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}')
case $DG in sha256:*) ;; *) fail "no manifest digest: '$DG'" ;; esac
export STRATA_RETRIES=2 STRATA_RETRY_TIME=3 STRATA_STALL_TIME=2 STRATA_STALL_FLOOR=1k
mirror_pull() {
	new_store
	set +e
	out=$(timeout 60 "$STRATA_BIN" --root "$P" pull ${2:-} --tls-verify=false "$1" 2>&1 >/dev/null)
	rc=$?
	set -e
}
# passed_over WHAT: the mirror was asked, and the registry gave the image.
passed_over() {
	[ "$rc" = 0 ] || fail "$1: $out"
	assert_contains "$out" "(mirror)" "$1: the mirror was not tried"
	assert_contains "$(cat "$LOG")" "/v2/multi/manifests/" "$1: the mirror was not asked"
	assert_eq "$(sp images --format '{{.Repository}}' | sort -u)" "$UP/multi" "$1: the image"
	o=$(sp fsck 2>&1) || fail "$1: fsck: $o"
}
for lie in '"status", "arg": 500' '"status", "arg": 404' '"bad-digest"' '"huge", "arg": -1' '"redirect"'; do
	set_rules "[{\"path\": \"/v2/multi/manifests/\", \"mode\": $lie}]"
	mirror_pull "$UP/multi:v1"
	passed_over "mirror manifest $lie"
done
# By digest, a mirror that serves other bytes for it.
set_rules '[{"path": "/v2/multi/manifests/", "mode": "long"}]'
mirror_pull "$UP/multi@$DG"
passed_over "mirror manifest with other bytes for $DG"
# A mirror that lies about a layer: refused, nothing tagged, the store whole.
for lie in long short; do
	set_rules "[{\"path\": \"$LAYER\", \"mode\": \"$lie\"}]"
	mirror_pull "$UP/multi:v1" -q
	refused "mirror layer $lie" "strata: pull: " "blob $LAYER"
	assert_eq "$(tags_of)" "" "tags after a mirror's $lie layer"
done
set_rules '[]'
mirror_pull "$UP/multi:v1"
[ "$rc" = 0 ] || fail "pull through an honest mirror: $out"
assert_contains "$(cat "$LOG")" "GET /v2/multi/blobs/$LAYER pass" "the layer from the honest mirror"
