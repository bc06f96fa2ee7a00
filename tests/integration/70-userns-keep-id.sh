# Containers with an id map of their own, without root: a user of its own
# with subordinate ranges (as 66-rootless-subids makes it) runs
# --userns=keep-id (its own uid and gid inside, the other ids on its
# ranges around them, as podman lays them out), keep-id:uid=N,gid=N, and
# --uidmap/--gidmap whose HOST ids are those of the user's namespace; each
# compared with rootless podman on the same image: uid_map and gid_map, id,
# HOME, the passwd and group lines added, the owners of the image's files
# and of files the container makes. On the host the user's files are the
# user's; commit packs them as the container saw them; exec joins the map;
# the layer copies are made once, reused (after run --rm too), and gc
# removes them once no container uses them.
. "${0%/*}/../lib.sh"
require_root "makes a user with useradd and gives it subordinate ids"
require_cmd setpriv "switching to the unprivileged user"
require_cmd newuidmap "maps the subordinate ids (Debian's uidmap)"
require_cmd podman "compares with rootless podman"

RUSER=strkid$$
RL=$(mktemp -d /tmp/skid.XXXXXX)
chmod 0755 "$RL"
H=$RL/home
RUID=none
on_cleanup "for p in \$(ps -u $RUSER -o pid= 2>/dev/null); do kill -9 \$p; done; sleep 0.2; \
	for m in \$(awk '\$5 ~ \"^$RL\" {print \$5}' /proc/self/mountinfo | sort -r); do umount -l \$m; done; \
	userdel $RUSER 2>/dev/null; sed -i \"/^$RUSER:/d; /^\$RUID:/d\" /etc/subuid /etc/subgid; rm -rf '$RL'"
useradd -M -d "$H" -s /bin/sh -c "Keep Id" -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$RUSER" ||
	fail "useradd $RUSER"
RUID=$(id -u "$RUSER")
RGID=$(id -g "$RUSER")
base=$((4000000 + ($$ % 1000) * 70000))
usermod --add-subuids "$base-$((base + 65535))" --add-subgids "$base-$((base + 65535))" "$RUSER"
mkdir -p "$H" "$RL/run"
python3 "$TOP/tests/integration/mkidimage.py" "$(busybox_tar)" "$RL/id.tar" || fail "make the image"
chown -R "$RUID:$RGID" "$RL"
STORE=$H/.local/share/strata

as_user() {
	setpriv --reuid="$RUID" --regid="$RGID" --init-groups --inh-caps=-all \
		env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$H" XDG_RUNTIME_DIR="$RL/run" "$@"
}
rs() { as_user "$STRATA_BIN" "$@"; }
P() {
	as_user podman --runtime runc --cgroup-manager=cgroupfs --events-backend=file "$@"
}
on_cleanup "setpriv --reuid=$RUID --regid=$RGID --init-groups env HOME='$H' XDG_RUNTIME_DIR='$RL/run' \
	podman --runtime runc rm -af >/dev/null 2>&1; for c in \$(setpriv --reuid=$RUID --regid=$RGID \
	--init-groups env HOME='$H' '$STRATA_BIN' ps -aq 2>/dev/null); do setpriv --reuid=$RUID \
	--regid=$RGID --init-groups env HOME='$H' '$STRATA_BIN' rm -f \$c >/dev/null 2>&1; done"
norm() { sed 's/^ *//; s/  */ /g; s/[0-9a-f]\{12\}$/HOSTNAME/'; }

rs import "$RL/id.tar" idimg >/dev/null 2>&1 || fail "import"
P import -q "$RL/id.tar" localhost/idimg >/dev/null 2>&1 || fail "podman import"

probe='cat /proc/self/uid_map /proc/self/gid_map; id; echo "HOME=$HOME"; pwd
tail -n 1 /etc/passwd; tail -n 1 /etc/group; stat -c "%n %u:%g %a" /etc/passwd /etc/group
stat -c "%n %u:%g %a %h %F" /etc/shadow /home/app /usr/bin/suid /usr/bin/two /run/fifo /etc/shadow.link
touch /tmp/made && mkdir /tmp/dir && stat -c "%n %u:%g" /tmp/made /tmp/dir'
compare() {
	theirs=$(P run --rm --network=none "$@" idimg sh -c "$probe" 2>&1 | norm)
	ours=$(rs run --rm --proc-view=false "$@" idimg sh -c "$probe" 2>&1 | norm)
	assert_eq "$ours" "$theirs" "as podman: $*"
}
compare --userns=keep-id
assert_contains "$ours" "uid=$RUID($RUSER) gid=$RGID($RUSER)" "id"
assert_contains "$ours" "0 1 $RUID
$RUID 0 1
$((RUID + 1)) $((RUID + 1)) $((65536 - RUID))" "the keep-id map"
assert_contains "$ours" "$RUSER:*:$RUID:$RGID:Keep Id:/:/bin/sh" "the passwd line"
assert_contains "$ours" "/etc/shadow 0:42 640 1 regular file" "/etc/shadow"
compare --userns=keep-id -w /tmp
compare --userns=keep-id:uid=5,gid=6
compare --userns=keep-id:uid=1000,gid=1000
compare --uidmap 0:1:500 --gidmap 0:1:500
compare --uidmap 0:1:1000 --uidmap 1000:0:1 --uidmap 1001:1001:64536

# On the host: the user's files are the user's, the copies are on the ranges.
# gc first: the runs above left copies of other maps (keep-id:uid=5,gid=6
# puts the shadow group elsewhere), and only this container's may be found.
rs gc >/dev/null || fail "gc"
c=$(rs create --userns=keep-id idimg sh -c 'echo x >/tmp/mine; cp /etc/shadow.link /tmp/ 2>/dev/null; true')
rs start -a "$c" >/dev/null 2>&1 || fail "start"
assert_eq "$(stat -c %u:%g "$STORE/containers/$c/upper/tmp/mine")" "$RUID:$RGID" \
	"a file of the keep-id user, on the host"
shadow=$(find "$STORE/idmap" -path '*/etc/shadow' | head -1)
[ -n "$shadow" ] || fail "no id-mapped copy in $STORE/idmap"
top=${shadow%/etc/shadow}
assert_eq "$(stat -c %u:%g "$shadow" "$top/home/app" "$top/usr/bin/suid")" "$base:$((base + 42))
$((base + 1000)):$((base + 1000))
$base:$base" "owners of the copy: container root is the first subordinate id"
assert_eq "$(stat -c %a "$top/usr/bin/suid")" 4755 "setuid kept"
assert_eq "$(stat -c %i "$top/usr/bin/one")" "$(stat -c %i "$top/usr/bin/two")" "hard link kept"
python3 -c 'import os, sys; os.getxattr(sys.argv[1], "security.capability")' "$top/usr/bin/ping" ||
	fail "security.capability lost"
# the second run reuses the copy
ino=$(stat -c %i "$top")
out=$(rs --log-level info run --rm --proc-view=false --userns=keep-id idimg true 2>&1)
assert_not_contains "$out" "making a copy" "a second run makes no copy"
assert_eq "$(stat -c %i "$top")" "$ino" "the copy is reused"
assert_eq "$(rs inspect --format '{{.HostConfig.UsernsMode}} {{json .HostConfig.IDMappings.UidMap}}' "$c")" \
	"private [\"0:1:$RUID\",\"$RUID:0:1\",\"$((RUID + 1)):$((RUID + 1)):$((65536 - RUID))\"]" "inspect"

# exec joins the map (as the keep-id user)
rs run -d --proc-view=false --name live --userns=keep-id idimg sleep 60 >/dev/null
assert_eq "$(rs exec live sh -c 'id -u; cat /proc/self/uid_map' | norm)" "$RUID
0 1 $RUID
$RUID 0 1
$((RUID + 1)) $((RUID + 1)) $((65536 - RUID))" "exec"
rs rm -f live >/dev/null

# commit: the keep-id user's file is the user's in the tar; a --uidmap container's are its own
rs commit "$c" kept >/dev/null 2>&1 || fail "commit keep-id"
assert_eq "$(rs export kept | tar --warning=no-unknown-keyword --numeric-owner -tvf - |
	awk '$NF=="tmp/mine" {print $2}')" "$RUID/$RGID" "keep-id: the user's file in the tar"
m=$(rs create --uidmap 0:1:65536 idimg sh -c 'touch /r && touch /u && chown 1000:1000 /u')
rs start -a "$m" >/dev/null 2>&1 || fail "start --uidmap"
assert_eq "$(stat -c %u "$STORE/containers/$m/upper/r")" "$base" "container root on the host"
rs commit "$m" mapped >/dev/null 2>&1 || fail "commit --uidmap"
assert_eq "$(rs export mapped | tar --warning=no-unknown-keyword --numeric-owner -tvf - |
	awk '$NF=="r" || $NF=="u" {print $NF, $2}')" "r 0/0
u 1000/1000" "--uidmap: owners as the container saw them"

# HOST ids past the user's namespace are refused in one line
expect_fail rs run --rm --uidmap 0:1:70000 idimg true
assert_one_line_error "$out"
assert_contains "$out" "strata: run: --uidmap: 0:1:70000: without root the HOST ids are those of the user's namespace, 0 to 65536" "too many ids"
expect_fail rs run --rm --userns=auto idimg true
assert_eq "$out" "strata: run: --userns: 'auto' is not supported (host, keep-id[:uid=N,gid=N], or --uidmap/--gidmap)" "auto"

# rm keeps the copies for the next container; gc removes them once unused; fsck clean
rs rm "$c" "$m" >/dev/null
rs rmi kept mapped >/dev/null
assert_exists "$top"
out=$(rs gc) || fail "gc"
assert_contains "$out" "id-mapped copy" "gc names the copies"
assert_eq "$(ls "$STORE/idmap" | wc -l)" 0 "copies left after gc"
out=$(rs fsck 2>&1) || fail "fsck: $out"
left=$(find "$STORE/tmp" -mindepth 1 | head -3)
[ -z "$left" ] || fail "staging left: $left"
