# A registry that lies (tests/integration/lying-registry.py, a proxy in
# front of Debian's docker-registry): truncated bodies, a drip of one byte a
# second or more, connection resets, 429 with Retry-After (seconds and HTTP
# date), 5xx now and then or always, redirect loops, a malformed digest, a
# 100 MB manifest, wrong sizes. A fault that passes is retried and the pull
# or push succeeds; one that stays ends within the retry budget with one
# line naming the blob or manifest and what went wrong, exit 125, nothing
# tagged (nor pushed), fsck clean. Short budgets through the environment;
# one drip runs at the defaults (1 KiB/s over 30 s, 60 s of budget) in the
# background while the rest runs, and must end within about a minute.
. "${0%/*}/../lib.sh"
require_cmd docker-registry "is the registry"
require_cmd curl "checks that the registry is up"
. "${0%/*}/registry.inc"

start_registry reg
UP=$REG

mkdir -p "$TEST_TMP/tree"
head -c 300000 /dev/urandom >"$TEST_TMP/tree/random"
tar -C "$TEST_TMP/tree" --numeric-owner -cf "$TEST_TMP/lies.tar" .
strata import "$TEST_TMP/lies.tar" lies >/dev/null
for r in lies drip; do
	strata push -q --tls-verify=false lies "$UP/$r:v1" >/dev/null || fail "push to the registry"
done
LAYER=$(curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$UP/v2/lies/manifests/v1" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])')
case $LAYER in sha256:*) ;; *) fail "no layer digest: '$LAYER'" ;; esac
WANT=$(strata export lies | sha256sum)

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

# The default budget against a drip of the layer: started now, checked last.
DRIP_RULE="{\"method\": \"GET\", \"path\": \"/v2/drip/blobs/$LAYER\", \"mode\": \"drip\", \"arg\": 1.5}"
printf '[%s]\n' "$DRIP_RULE" >"$RULES"
D=$TEST_TMP/drip-default
drip_t0=$(date +%s)
env -u STRATA_RETRIES -u STRATA_RETRY_TIME -u STRATA_STALL_TIME -u STRATA_STALL_FLOOR \
	"$STRATA_BIN" --root "$D" pull -q --tls-verify=false "$LIAR/drip:v1" \
	>/dev/null 2>"$TEST_TMP/drip.err" &
drip_pid=$!
track_pid $drip_pid
sleep 0.5 # its manifest and config fetched before the rules change

# The rest with a short budget: 4 retries, 5 s lost at most, 2 s stall window.
export STRATA_RETRIES=4 STRATA_RETRY_TIME=5 STRATA_STALL_TIME=2 STRATA_STALL_FLOOR=1k

# set_rules JSON: what the registry spoils from now on (replaced whole,
# but for the drip of the default-budget pull).
set_rules() {
	printf '[%s, %s\n' "$DRIP_RULE" "${1#?}" >"$RULES.tmp"
	mv "$RULES.tmp" "$RULES"
	: >"$LOG"
}

n=0
# lie_pull [-q]: pulls $LIAR/lies:v1 into a new root $P; sets $out, $rc, $secs.
lie_pull() {
	n=$((n + 1))
	P=$TEST_TMP/p$n
	t0=$(date +%s%N)
	set +e
	out=$("$STRATA_BIN" --root "$P" pull "$@" --tls-verify=false "$LIAR/lies:v1" 2>&1 >/dev/null)
	rc=$?
	set -e
	secs=$((($(date +%s%N) - t0) / 1000000000))
}

# pulled WHAT: the pull succeeded and the image is the one pushed.
pulled() {
	[ "$rc" = 0 ] || fail "$1: the pull failed ($rc): $out"
	assert_eq "$("$STRATA_BIN" --root "$P" export "$LIAR/lies:v1" | sha256sum)" "$WANT" "$1: export"
	ROOT=$P assert_fsck_clean
}

# refused WHAT MAX_SECS PATTERN...: one line, exit 125, within MAX_SECS,
# each PATTERN in the message, nothing tagged, fsck clean.
refused() {
	what=$1 max=$2
	shift 2
	[ "$rc" = 125 ] || fail "$what: exit $rc, want 125: $out"
	assert_one_line_error "$out"
	assert_contains "$out" "strata: pull: " "$what"
	for p in "$@"; do assert_contains "$out" "$p" "$what"; done
	[ "$secs" -le "$max" ] || fail "$what: took ${secs}s, more than ${max}s: $out"
	if [ -d "$P" ]; then
		assert_eq "$("$STRATA_BIN" --root "$P" images -q)" "" "$what: something was tagged"
		ROOT=$P assert_fsck_clean
	fi
}

# ---- faults that pass: retried, then the pull succeeds ----
set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "status", "arg": 503, "times": 2}]'
lie_pull
pulled "503 twice"
assert_contains "$out" "HTTP 503, retrying"
assert_eq "$(grep -c 'manifests/v1 status' "$LOG")" 2 "503 answers"

set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "status", "arg": 500, "times": 1}]'
lie_pull
pulled "500 once"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"status\", \"arg\": 429, \"retry_after\": \"2\", \"times\": 1}]"
lie_pull
pulled "429 with Retry-After: 2"
[ "$secs" -ge 2 ] || fail "429: Retry-After 2 not honoured (${secs}s)"
assert_contains "$out" "HTTP 429, retrying in 2.0 s"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"status\", \"arg\": 429, \"retry_after\": \"+3\", \"times\": 1}]"
lie_pull
pulled "429 with Retry-After as an HTTP date"
[ "$secs" -ge 2 ] || fail "429: a Retry-After date 3 s ahead not honoured (${secs}s)"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"reset\", \"times\": 1}]"
lie_pull
pulled "a reset in the middle of the layer"
assert_contains "$out" "resuming"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"truncate\", \"times\": 1}]"
lie_pull
pulled "a truncated layer, resumed"
assert_contains "$(cat "$LOG")" "GET /v2/lies/blobs/$LAYER pass"

# ---- faults that stay: one line, exit 125, within the budget ----
set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "status", "arg": 503}]'
lie_pull -q
refused "503 for ever" 8 "manifest lies:v1: HTTP 503" "gave up after 4 retries"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"status\", \"arg\": 429, \"retry_after\": \"100\"}]"
lie_pull -q
refused "429 asking for 100 s" 8 "blob $LAYER: HTTP 429" "retry budget of 5 s is spent"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"status\", \"arg\": 403}]"
lie_pull -q
refused "403" 3 "blob $LAYER: HTTP 403"
assert_eq "$(grep -c "$LAYER status" "$LOG")" 1 "a 403 is not retried"

set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "status", "arg": 501}]'
lie_pull -q
refused "501" 3 "manifest lies:v1: HTTP 501"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"reset\"}]"
lie_pull -q
refused "resets for ever" 8 "blob $LAYER" "reset" "gave up after 4 retries"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"truncate\", \"on_range\": \"ignore\"}]"
lie_pull -q
refused "truncated, Range ignored" 8 "blob $LAYER" "truncated"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"truncate\", \"on_range\": \"refuse\"}]"
lie_pull -q
refused "truncated, Range refused" 8 "blob $LAYER: truncated" "refused the Range request to resume: HTTP 416"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"drip\", \"arg\": 1}]"
lie_pull -q
refused "drip, short budget" 10 "blob $LAYER" "too slow" "retry budget of 5 s is spent"

set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "redirect"}]'
lie_pull -q
refused "redirect loop" 3 "manifest lies:v1" "redirects"

set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "bad-digest"}]'
lie_pull -q
refused "malformed layer digest" 3 "manifest" "digest"

set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "huge", "arg": 104857600}]'
lie_pull -q
refused "100 MB manifest" 3 "manifest lies:v1" "larger than"
set_rules '[{"method": "GET", "path": "/v2/lies/manifests/", "mode": "huge", "arg": -1}]'
lie_pull -q
refused "endless manifest" 5 "manifest lies:v1" "larger than"

set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"short\"}]"
lie_pull -q
refused "short layer" 3 "blob $LAYER" "truncated"
set_rules "[{\"method\": \"GET\", \"path\": \"$LAYER\", \"mode\": \"long\"}]"
lie_pull -q
refused "long layer" 3 "blob $LAYER" "more than"

# ---- push through the liar ----
# lie_push REPO: pushes lies to $LIAR/REPO:v1; sets $out, $rc, $secs.
lie_push() {
	# Each push uploads: the blob-info cache would mount the blobs from the last repository.
	rm -f "$ROOT/blob-info.json"
	t0=$(date +%s%N)
	set +e
	out=$(strata push ${2:+"$2"} --tls-verify=false lies "$LIAR/$1:v1" 2>&1 >/dev/null)
	rc=$?
	set -e
	secs=$((($(date +%s%N) - t0) / 1000000000))
}
# pushed REPO: the registry has REPO:v1, and it pulls back equal.
pushed() {
	[ "$rc" = 0 ] || fail "push to $1: $out"
	Q=$TEST_TMP/q-$1
	"$STRATA_BIN" --root "$Q" pull -q --tls-verify=false "$UP/$1:v1" >/dev/null || fail "pull $1 back"
	assert_eq "$("$STRATA_BIN" --root "$Q" export "$UP/$1:v1" | sha256sum)" "$WANT" "push to $1: export"
}
# not_pushed WHAT REPO MAX PATTERN...: as refused, and the tag is not in the registry.
not_pushed() {
	what=$1 repo=$2 max=$3
	shift 3
	[ "$rc" = 125 ] || fail "$what: exit $rc, want 125: $out"
	assert_one_line_error "$out"
	assert_contains "$out" "strata: push: " "$what"
	for p in "$@"; do assert_contains "$out" "$p" "$what"; done
	[ "$secs" -le "$max" ] || fail "$what: took ${secs}s, more than ${max}s: $out"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$UP/v2/$repo/manifests/v1")
	assert_eq "$code" 404 "$what: the tag is in the registry"
	assert_fsck_clean
}

set_rules '[{"method": "POST", "path": "/blobs/uploads/", "mode": "status", "arg": 503, "times": 2}]'
lie_push pa
pushed pa
set_rules '[{"method": "PUT", "path": "/blobs/uploads/", "mode": "status", "arg": 429, "retry_after": "1", "times": 1}]'
lie_push pb
pushed pb
assert_contains "$out" "HTTP 429"
set_rules '[{"method": "PUT", "path": "/blobs/uploads/", "mode": "reset", "times": 1}]'
lie_push pc
pushed pc
set_rules '[{"method": "PUT", "path": "/manifests/", "mode": "status", "arg": 502, "times": 1}]'
lie_push pd
pushed pd

set_rules '[{"method": "PUT", "path": "/manifests/", "mode": "status", "arg": 503}]'
lie_push pe -q
not_pushed "manifest 503 for ever" pe 8 "manifest sha256:" "HTTP 503" "gave up after 4 retries"
set_rules '[{"method": "PUT", "path": "/blobs/uploads/", "mode": "reset"}]'
lie_push pf -q
not_pushed "upload resets for ever" pf 8 "blob sha256:" "gave up after 4 retries"
set_rules '[{"method": "*", "path": "/blobs/", "mode": "drip", "arg": 1}]'
lie_push pg -q
not_pushed "upload answer dripped" pg 10 "blob sha256:" "too slow" "retry budget of 5 s is spent"
set_rules '[{"method": "HEAD", "path": "/blobs/", "mode": "redirect"}]'
lie_push ph -q
not_pushed "redirect loop on HEAD" ph 3 "blob sha256:" "redirects"
set_rules '[{"method": "PUT", "path": "/manifests/", "mode": "status", "arg": 400}]'
lie_push pi -q
not_pushed "manifest 400" pi 3 "manifest sha256:" "HTTP 400"

# ---- the drip at the default budget ----
set +e
wait $drip_pid
rc=$?
set -e
# -q: its one write to stderr is the error, at its end.
secs=$(($(stat -c %Y "$TEST_TMP/drip.err") - drip_t0))
out=$(cat "$TEST_TMP/drip.err")
P=$D
refused "drip at the defaults" 75 "blob $LAYER" "too slow" "retry budget of 60 s is spent"
