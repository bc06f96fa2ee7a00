#!/bin/sh
# The command-line glue of podman users: Go templates in --format (images,
# ps, inspect, history, info), with podman's field names, compared with
# podman itself on the same image; --filter on images and ps.
. "$(dirname "$0")/../lib.sh"

require_root "podman compares as root with a store of its own"
require_cmd podman "the templates are compared with podman's"

tar=$(busybox_tar)
SOURCE_DATE_EPOCH=1000000000 strata import -c 'CMD ["sh"]' -c 'LABEL a=b' -c 'LABEL z=last' \
	-c 'ENV X=1' "$tar" busybox >/dev/null
SOURCE_DATE_EPOCH=1100000000 strata import -c 'LABEL v=2' "$tar" newer:2 >/dev/null
strata save -o "$TEST_TMP/bb.tar" busybox:latest

# podman, on a store of its own in the test's directory
P_ROOT=$TEST_TMP/podman
# podman wants a run root of at most 50 characters
P_RUN=$(mktemp -d /tmp/sp.XXXXXX)
podman_() {
	podman --root "$P_ROOT/root" --runroot "$P_RUN" --storage-driver vfs \
		--runtime runc --cgroup-manager=cgroupfs --events-backend=file "$@"
}
on_cleanup "podman_ rm -af >/dev/null 2>&1; rm -rf '$P_ROOT' '$P_RUN'"
o=$(podman_ load -i "$TEST_TMP/bb.tar" 2>&1) || fail "podman cannot load strata's archive: $o"

# ---- the same template, the same output ----
same_image() {
	a=$(strata "$@" busybox) || fail "strata $* failed"
	b=$(podman_ "$@" busybox) || fail "podman $* failed"
	assert_eq "$a" "$b" "strata $* and podman differ"
}
same_image inspect --format '{{.Config.Cmd}}'
same_image inspect --format '{{.Config.Entrypoint}}|{{.Config.WorkingDir}}|{{.Config.Env}}'
same_image inspect --format '{{json .Config.Labels}} {{index .Config.Labels "z"}}'
same_image inspect --format '{{.Id}} {{.Os}}/{{.Architecture}} {{len .RootFS.Layers}}'
same_image inspect --format '{{range $k, $v := .Config.Labels}}{{$k}}={{$v | upper}};{{end}}'
same_image inspect --format '{{if .Config.Labels.a}}has a{{else}}no a{{end}} {{.Labels.nope}}'
same_image inspect --format '{{range .Config.Env}}{{printf "%-6s|" .}}{{end}} {{title "a b"}}'
same_image images --format '{{truncate .ID 7}} {{lower .Tag}} {{upper .Tag}} {{title .Tag}}'

# sizes unpacked, as podman shows them: the layer's tar, not its gzip blob
same_image images --format '{{.Size}}'
same_image history --format '{{.Size}}'
tarsize=$(stat -c %s "$tar")
isize=$(strata inspect --format '{{.Size}}' busybox)
[ "$isize" -ge "$tarsize" ] && [ "$isize" -lt $((tarsize + 4096)) ] ||
	fail "inspect Size $isize is not the tar's $tarsize and the config"
assert_eq "$(strata images --format json | python3 -c 'import json,sys; print([i["Size"] for i in json.load(sys.stdin) if "busybox:latest" in i["RepoTags"]][0])')" \
	"$isize" "images json Size"

# images: podman's names for the fields (its repository has localhost/ in front)
a=$(strata images --format '{{.ID}}|{{.Tag}}|{{.Labels}}|{{.Dangling}}|{{.ReadOnly}}|{{.CreatedAt}}' \
	busybox)
b=$(podman_ images --format '{{.ID}}|{{.Tag}}|{{.Labels}}|{{.Dangling}}|{{.ReadOnly}}|{{.CreatedAt}}' \
	busybox)
assert_eq "$a" "$b" "images template"
# the table prefix: podman's headers and column widths
a=$(strata images --format 'table {{.ID}}\t{{.Tag}}\t{{.ReadOnly}}\t{{.Dangling}}' busybox)
b=$(podman_ images --format 'table {{.ID}}\t{{.Tag}}\t{{.ReadOnly}}\t{{.Dangling}}' busybox)
assert_eq "$a" "$b" "images table template"
strata tag busybox other:1
assert_eq "$(strata images --format 'table {{.Repository}}:{{.Tag}}' --noheading other)" \
	"busybox:latest
other:1" "--noheading"
assert_eq "$(strata images --format '{{.Repository}}:{{.Tag}}' | sort | tr '\n' ' ')" \
	"busybox:latest newer:2 other:1 " "repository:tag"
# history
a=$(strata history --format '{{.ID}} {{.CreatedBy}} {{.Comment}}|' busybox)
b=$(podman_ history --format '{{.ID}} {{.CreatedBy}} {{.Comment}}|' busybox)
assert_eq "$a" "$b" "history template"
assert_eq "$(strata history --format 'table {{.ID}}\t{{.CreatedSince}}' busybox | head -1)" \
	"ID            CREATED" "history header"

# ps and container inspect
strata create --name c1 busybox sleep 100 >/dev/null
podman_ create --name c1 busybox sleep 100 >/dev/null 2>&1 || fail "podman create"
for f in '{{.Names}} {{.Status}} {{.Command}} {{.Labels}} {{.Ports}}|{{.Pod}}|{{.ExitCode}}' \
	'table {{.Names}}\t{{.Status}}\t{{.Command}}\t{{.Exited}}'; do
	a=$(strata ps -a --format "$f")
	b=$(podman_ ps -a --format "$f")
	assert_eq "$a" "$b" "ps --format '$f'"
done
a=$(strata inspect --format '{{.State.Status}} {{.Config.Cmd}} {{.Name}} {{.Path}} {{.Args}}' c1)
b=$(podman_ inspect --format '{{.State.Status}} {{.Config.Cmd}} {{.Name}} {{.Path}} {{.Args}}' c1)
assert_eq "$a" "$b" "container inspect template"

# info
assert_eq "$(strata info --format '{{.Store.GraphRoot}} {{.Store.ImageStore.Number}}')" "$ROOT 2"
assert_eq "$(strata info --format '{{.Host.Arch}}')" "$(podman_ info --format '{{.Host.Arch}}')"

# version, help
assert_eq "$(strata version --format '{{.Client.Version}}')" "$(strata version | awk '{print $3}')"
assert_eq "$(strata version --format '{{.Client.OsArch}}')" "$(podman_ version --format '{{.Client.OsArch}}')"
strata version --format json | python3 -c 'import json,sys; assert json.load(sys.stdin)["Client"]["Version"]'
strata -h | grep -q "^Usage: strata" || fail "strata -h"
strata help images | grep -q -- "--filter KEY=VALUE" || fail "help images lists --filter"
strata help image prune | grep -q -- "--all" || fail "help image prune"
assert_eq "$(strata help ps)" "$(strata ps --help)" "help CMD is CMD --help"

# ---- a bad template: one line, 125, for every command ----
for c in "images --format {{.Nope}}" "images --format {{.ID" "ps --format {{.Nope}}" \
	"inspect --format {{.Config.Cmd busybox" "history --format {{nofunc}} busybox" \
	"info --format {{if}}" "images --format {{join .ID}}" "version --format {{.Nope}}"; do
	# shellcheck disable=SC2086
	expect_fail strata $c
	assert_one_line_error "$out"
	assert_eq "$rc" 125 "status of $c"
done
expect_fail strata images --format '{{.Nope}}'
assert_contains "$out" "can't evaluate field Nope"
expect_fail strata images --format '{{.ID}'
assert_contains "$out" "unclosed action"
# json stays the listing
strata images --format json | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 2'
strata images --format '{{json .}}' | python3 -c 'import json,sys; assert len(json.load(sys.stdin)) == 2'
assert_eq "$(strata images --format '{{json .Labels}}' busybox | sort -u)" '{"a":"b","z":"last"}'

# ---- filters: one key's values any, keys all ----
ids() { strata images -q "$@" | sort | tr '\n' ' '; }
bb=$(strata images -q busybox)
nw=$(strata images -q newer)
assert_eq "$(ids --filter reference=busybox)" "$bb " "reference"
assert_eq "$(ids other)" "$bb " "images REF"
assert_eq "$(ids 'nope*')" "" "images REF that matches nothing"
strata tag newer:2 127.0.0.1:5000/ns/newer:2
assert_eq "$(ids 127.0.0.1:5000/ns/newer:2)" "$nw " "a name with a registry port"
assert_eq "$(ids ns/newer)" "$nw " "the tail of a repository"
strata rmi 127.0.0.1:5000/ns/newer:2 >/dev/null
assert_eq "$(ids --filter reference='*er*')" "$(printf '%s\n' "$bb" "$nw" | sort | tr '\n' ' ')" \
	"reference glob"
assert_eq "$(ids --filter reference=newer:2 --filter reference=busybox:latest)" \
	"$(printf '%s\n' "$bb" "$nw" | sort | tr '\n' ' ')" "one key twice: any"
assert_eq "$(ids --filter label=a=b)" "$bb " "label=K=V"
assert_eq "$(ids --filter label=v)" "$nw " "label=K"
assert_eq "$(ids --filter label=a=b --filter reference=newer)" "" "two keys: all"
assert_eq "$(ids --filter since=busybox)" "$nw " "since"
assert_eq "$(ids --filter before=newer:2)" "$bb " "before"
assert_eq "$(ids --filter until=2003-01-01)" "$bb " "until"
assert_eq "$(ids --filter id="$nw")" "$nw " "id"
assert_eq "$(ids --filter dangling=true)" "" "dangling"
assert_eq "$(ids --filter dangling=false | wc -w)" 2 "not dangling"
expect_fail strata images --filter color=red
assert_one_line_error "$out"
assert_contains "$out" "unknown key 'color'"
expect_fail strata images --filter dangling=maybe
assert_one_line_error "$out"
expect_fail strata images --filter before=nosuch
assert_one_line_error "$out"
# podman's answers for the filters it shares on the same image
assert_eq "$(strata images -q --filter label=a=b --filter label=z)" \
	"$(podman_ images -q --filter label=a=b --filter label=z)" "label filters as podman's"

c1=$(strata ps -aq --filter name=c1)
strata create --name c2 newer:2 true >/dev/null
c2=$(strata ps -aq --filter name='^c2$')
assert_eq "$(strata ps -q --filter status=created | sort | tr '\n' ' ')" \
	"$(printf '%s\n' "$c1" "$c2" | sort | tr '\n' ' ')" "status=created (without -a)"
assert_eq "$(strata ps -aq --filter ancestor=busybox)" "$c1" "ancestor by name"
assert_eq "$(strata ps -aq --filter ancestor=other:1)" "$c1" "ancestor by another name"
assert_eq "$(strata ps -aq --filter ancestor="$nw")" "$c2" "ancestor by ID"
assert_eq "$(strata ps -aq --filter label=v=2)" "$c2" "label"
assert_eq "$(strata ps -aq --filter id="$c2")" "$c2" "id"
assert_eq "$(strata ps -aq --filter since=c1)" "$c2" "since"
assert_eq "$(strata ps -aq --filter before=c2)" "$c1" "before"
assert_eq "$(strata ps -aq --filter status=exited)" "" "status=exited"
assert_eq "$(strata ps -aq --filter name=c1 --filter name=c2 | wc -l)" 2 "name twice: any"
assert_eq "$(strata ps -aq --filter name=c1 --filter label=v=2)" "" "two keys: all"
expect_fail strata ps --filter status=sleepy
assert_one_line_error "$out"
expect_fail strata ps --filter exited=x
assert_one_line_error "$out"
echo "PASS"
