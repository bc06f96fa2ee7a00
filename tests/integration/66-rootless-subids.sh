# Rootless with subordinate ids: a user of its own (useradd, with ranges in
# /etc/subuid and /etc/subgid) runs strata, whose commands run in a user
# namespace mapped by newuidmap/newgidmap. As that user: Debian pulled from
# a loopback registry keeps its owners (/etc/shadow 0:42), `su` may set
# groups, a build chowns and adds a user and runs as it (the tree equal to
# rootless buildah's, owners included), a commit of files of three users
# keeps them in the layer's tar headers, exec joins the same mapping, rm,
# gc and fsck are clean; a store made with only the user mapped has its
# layers made again with their owners, and one whose ranges went away says
# how to get them back. The user, its ranges and its files go at the end.
. "${0%/*}/../lib.sh"
require_root "makes a user with useradd and gives it subordinate ids"
require_cmd setpriv "switching to the unprivileged user"
require_cmd newuidmap "maps the subordinate ids (Debian's uidmap)"
require_cmd skopeo "puts Debian into the registry"
require_cmd buildah "builds the same Containerfile rootless, to compare"
require_cmd umoci "unpacks buildah's image"
. "$TOP/tests/integration/registry.inc"

# A name of our own (32-rootless uses nobody; parallel runs differ by pid).
RUSER=strsub$$
RL=$(mktemp -d "${TMPDIR:-/tmp}/strata-subids.XXXXXX")
chmod 0755 "$RL"
H=$RL/home
# The user, its lines in /etc/subuid and /etc/subgid, and all its files go whatever happens.
RUID=none
on_cleanup "for p in \$(ps -u $RUSER -o pid= 2>/dev/null); do kill -9 \$p; done; sleep 0.2; userdel $RUSER 2>/dev/null; \
	sed -i \"/^$RUSER:/d; /^\$RUID:/d\" /etc/subuid /etc/subgid; rm -rf '$RL'"
useradd -M -d "$H" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$RUSER" ||
	fail "useradd $RUSER"
RUID=$(id -u "$RUSER")
RGID=$(id -g "$RUSER")
# Two ranges each (the second one small), far from what useradd hands out.
base=$((3000000 + ($$ % 1000) * 70000))
usermod --add-subuids "$base-$((base + 65535))" --add-subgids "$base-$((base + 65535))" "$RUSER"
echo "$RUID:$((base + 65536)):1000" >>/etc/subuid
echo "$RUSER:$((base + 65536)):1000" >>/etc/subgid
mkdir -p "$H" "$RL/ctx" "$RL/empty" "$RL/run"
cp "$(busybox_tar)" "$RL/busybox.tar"
chown -R "$RUID:$RGID" "$RL"
STORE=$H/.local/share/strata

as_user() {
	setpriv --reuid="$RUID" --regid="$RGID" --init-groups --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$H" XDG_RUNTIME_DIR="$RL/run" "$@"
}
rs() { as_user "$STRATA_BIN" "$@"; }
on_cleanup 'for c in $(rs ps -aq 2>/dev/null); do rs rm -f "$c" >/dev/null 2>&1; done'

# The mapping: the user is root, its ranges are 1.. in file order; setgroups allowed.
want_map="0 $RUID 1
1 $base 65536
65537 $((base + 65536)) 1000"
maps=$(rs unshare sh -c 'cat /proc/self/uid_map; echo; cat /proc/self/setgroups' |
	sed 's/^ *//; s/  */ /g')
assert_eq "$(echo "$maps" | sed -n 1,3p)" "$want_map" "uid_map of strata unshare"
assert_eq "$(echo "$maps" | tail -1)" allow "setgroups with newgidmap"

assert_contains "$(rs info)" "uidmap: 0:$RUID:1,1:$base:65536,65537:$((base + 65536)):1000" "info"

# Ranges the helpers refuse (not this user's in /etc/subuid): one line, nothing made.
mkdir -p "$RL/fake"
echo "$RUSER:$((base + 200000)):65536" | tee "$RL/fake/subuid" >"$RL/fake/subgid"
chmod -R a+rX "$RL/fake"
expect_fail as_user env STRATA_SUBID_DIR="$RL/fake" "$STRATA_BIN" run --rm busybox true
assert_one_line_error "$out"
assert_contains "$out" "strata: run: map the subordinate ids: new" "the helpers' refusal"
assert_eq "$rc" 125 "exit status"

# Debian through a loopback registry; its owners are kept.
layout=${BENCH_CACHE:-/var/cache/strata-bench}/debian-layout
if [ ! -f "$layout/index.json" ]; then
	layout=$(BENCH_RESULTS=$TEST_TMP/bench sh -c '. "$1/bench/lib.sh" && bench_debian_layout' \
		"$TOP/bench/debian" "$TOP")
fi
start_registry reg
skopeo copy -q --dest-tls-verify=false "oci:$layout:debian" "docker://$REG/debian:12" ||
	fail "skopeo copy Debian to the registry"
rs pull -q --tls-verify=false "$REG/debian:12" >/dev/null || fail "rootless pull of Debian"
rs tag "$REG/debian:12" debian
run() { rs run --rm --proc-view=false "$@"; }
assert_eq "$(run debian stat -c %u:%g /etc/shadow)" 0:42 "/etc/shadow in a container"
assert_eq "$(run debian stat -c %u:%g /var/mail)" 0:8 "/var/mail in a container"
assert_eq "$(stat -c %u:%g "$(find "$STORE/layers" -path '*/diff/etc/shadow' | head -1)")" \
	"$RUID:$((base + 41))" "/etc/shadow on the host: the user and its subordinate gid 42"
assert_eq "$(run debian su -s /bin/sh nobody -c 'id -u; id -G')" "65534
65534" "su sets groups"
assert_eq "$(run debian sh -c 'id -u; cat /proc/self/setgroups')" "0
allow" "in a container"
# run -u by number and by name from the image; USER=UID:GID.
assert_eq "$(run -u 1000:1000 debian id -u)" 1000 "run -u 1000:1000"
assert_eq "$(run -u mail debian id)" "uid=8(mail) gid=8(mail) groups=8(mail)" "run -u NAME"
assert_eq "$(run -u 65600 debian id -u)" 65600 "an id of the second range"

# A build that chowns, adds a user and runs as it.
printf 'FROM debian\nRUN touch /x && chown 1000:1000 /x && useradd -m app\nUSER app\nRUN id -u\n' \
	>"$RL/ctx/Containerfile"
chown -R "$RUID:$RGID" "$RL/ctx"
T_START=$(date +%s)
out=$(rs build -t built "$RL/ctx" 2>&1) || fail "rootless build: $out"
assert_contains "$out" "STEP 4/4: RUN id -u
1000" "RUN id -u prints the app's uid"
assert_eq "$(run built sh -c 'id -un; stat -c %u:%g /x /home/app')" "app
1000:1000
1000:1000" "the built image"

# The same Containerfile built by rootless buildah: the same tree, owners included.
bh() {
	as_user buildah --root "$H/bs" --runroot "$RL/run/bs" --storage-driver vfs "$@"
}
on_cleanup "setpriv --reuid=$RUID --regid=$RGID --init-groups env HOME='$H' XDG_RUNTIME_DIR='$RL/run' buildah --root '$H/bs' --runroot '$RL/run/bs' --storage-driver vfs rm -a >/dev/null 2>&1"
bh pull -q --tls-verify=false "docker://$REG/debian:12" >/dev/null || fail "buildah pull"
bh tag "$REG/debian:12" debian
bh bud --isolation chroot --layers --format oci -q -t cbuilt "$RL/ctx" >"$RL/bh.log" 2>&1 ||
	fail "rootless buildah bud: $(tail -3 "$RL/bh.log")"
T_END=$(date +%s)
bh push -q cbuilt "oci:$RL/theirs:img" || fail "buildah push"
umoci unpack --image "$RL/theirs:img" "$TEST_TMP/theirs" >/dev/null || fail "umoci unpack buildah's"
mkdir "$TEST_TMP/ours"
rs export built | tar --numeric-owner --same-owner -xpf - -C "$TEST_TMP/ours"
tree() { python3 "$TOP/tests/integration/fstree.py" "$1" "$T_START" "$T_END"; }
tree "$TEST_TMP/theirs/rootfs" >"$TEST_TMP/theirs.tree"
tree "$TEST_TMP/ours" >"$TEST_TMP/ours.tree"
diff -u "$TEST_TMP/theirs.tree" "$TEST_TMP/ours.tree" >"$TEST_TMP/tree.diff" ||
	fail "the tree differs from rootless buildah's: $(head -30 "$TEST_TMP/tree.diff")"
grep -q '^x .* 1000:1000 ' "$TEST_TMP/ours.tree" || fail "/x is not 1000:1000: $(grep '^x ' "$TEST_TMP/ours.tree")"

# A container that writes files as three users; exec joins its mapping.
c=$(rs run -d --proc-view=false --name three built sleep 60)
rs exec -u 0 three sh -c 'mkdir -m 1777 /data && touch /data/root && useradd -u 2000 carl &&
	su carl -s /bin/sh -c "touch /data/carl"' || fail "exec as root and su"
rs exec three touch /data/app || fail "exec as the image's user"
assert_eq "$(rs exec three sh -c 'id -u; cat /proc/self/uid_map | wc -l')" "1000
3" "exec joins the container's mapping"
rs stop -t 1 three >/dev/null
rs commit three snap >/dev/null || fail "commit"
layer=$(python3 - "$STORE" <<'EOF'
import json, sys
root = sys.argv[1]
for m in json.load(open(root + "/index.json"))["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == "snap:latest":
        man = json.load(open(root + "/blobs/sha256/" + m["digest"][7:]))
        print(root + "/blobs/sha256/" + man["layers"][-1]["digest"][7:])
EOF
)
owners=$(tar --numeric-owner -tvzf "$layer" | awk '$NF ~ /^data\/./ {print $NF, $2}' | sort)
assert_eq "$owners" "data/app 1000/1000
data/carl 2000/2000
data/root 0/0" "owners in the committed layer's tar headers"

# rm -f of two running containers whose PID 1 is not root (killed from outside, then removed).
rs run -d --proc-view=false --name k1 -u 1000 built sleep 60 >/dev/null
rs run -d --proc-view=false --name k2 -u 2000:2000 built sh -c 'mkdir /tmp/d && sleep 60' >/dev/null
assert_eq "$(rs rm -f k1 k2)" "k1
k2" "rm -f of containers running as other users"

# rm, gc, fsck clean, every file of other owners removed.
rs rm three >/dev/null
rs rmi snap built >/dev/null
rs builder prune >/dev/null 2>&1 || true
rs gc >/dev/null || fail "gc"
out=$(rs fsck 2>&1) || fail "fsck: $out"
assert_eq "$(ls "$STORE/containers" | wc -l)" 0 "containers left"
left=$(find "$STORE/tmp" -mindepth 1 | head -3)
[ -z "$left" ] || fail "staging left: $left"

# A store made with only the user mapped (as before the map was recorded):
# its layer dirs lost their owners and are made again from their blobs.
# busybox with one file of 1000:42
python3 - "$RL/busybox.tar" "$RL/owned.tar" <<'EOF'
import io, sys, tarfile
with tarfile.open(sys.argv[1]) as src, tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as t:
    for m in src.getmembers():
        t.addfile(m, src.extractfile(m) if m.isfile() else None)
    i = tarfile.TarInfo("etc/owned")
    i.uid, i.gid, i.mtime, i.mode, i.size = 1000, 42, 0, 0o640, 2
    t.addfile(i, io.BytesIO(b"x\n"))
EOF
chown "$RUID:$RGID" "$RL/owned.tar"
OLD=$H/old
single() { as_user env STRATA_SUBID_DIR="$RL/empty" "$STRATA_BIN" --root "$OLD" "$@"; }
out=$(single import "$RL/owned.tar" owned 2>&1 >/dev/null)
assert_contains "$out" "no subordinate ids for '$RUSER'" "the warning without ranges"
assert_contains "$out" "usermod --add-subuids" "says how to get ranges"
out=$(single run --rm --proc-view=false owned true 2>&1 >/dev/null)
assert_eq "$out" "" "the warning is said once per store"
assert_eq "$(stat -c %u "$(find "$OLD/layers" -path '*/diff/etc/owned')")" "$RUID" \
	"single mapping: the user's file"
assert_eq "$(rs --root "$OLD" run --rm --proc-view=false owned stat -c %u:%g /etc/owned)" 1000:42 \
	"the layer made again with its owners"
out=$(single images 2>&1 >/dev/null; single run --rm owned true 2>&1 >/dev/null || true)
assert_contains "$out" "this store was written with the subordinate ids" "ranges gone"
assert_contains "$out" "usermod --add-subuids" "says how to restore them"
