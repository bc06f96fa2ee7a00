# Containers with an id map of their own, as root: --uidmap/--gidmap
# (HOST ids are the host's) and --subuidname/--subgidname, compared with podman on the same image, both
# ways strata shows the image's layers through the map: idmapped lower
# mounts (the fast path, where the kernel has them), and copies of its
# layer dirs with the owners moved (ROOT/idmap/<key>/<backend>/<chain>;
# STRATA_IDMAP_COPY=1 forces them, as a kernel without the fast path would): owners other
# than root, setuid bits, a file capability, hard links, a fifo and a
# symlink are kept; the copy is shared by the containers of one map, kept
# after them for the next (run --rm too) and removed by gc; fsck sees it. Files the container
# makes are the mapped ids on the host, and its commit packs them as the
# container saw them. keep-id is refused (rootless only, as podman), and
# so are the --userns modes not built. A copy killed half-made leaves
# only staging: fsck is clean and the next run makes it.
. "${0%/*}/../lib.sh"
require_root "maps a container's ids onto host ids"
require_cmd podman "compares the map, the owners and id with podman's"

python3 "$TOP/tests/integration/mkidimage.py" "$(busybox_tar)" "$TEST_TMP/id.tar" --device ||
	fail "make the image"
strata import "$TEST_TMP/id.tar" idimg >/dev/null
MAP="--uidmap 0:200000:65536 --gidmap 0:300000:65536"
probe='cat /proc/self/uid_map /proc/self/gid_map; id
stat -c "%n %u:%g %a %h %F" /etc/shadow /home/app /home/app/notes /usr/bin/suid /usr/bin/ping \
	/usr/bin/one /usr/bin/two /run/fifo /etc/shadow.link /etc/hosts /usr/share/cnode
stat -c "%n %t:%T" /usr/share/cnode
touch /made && chown 1000:42 /made && mkdir /rootdir && stat -c "%n %u:%g" /made /rootdir'
norm() { sed 's/^ *//; s/  */ /g'; }

# podman, root, on the same tar (runc, per PEERS.md), in a root of its own
# (podman wants a runroot of at most 50 characters)
PR=$(mktemp -d /tmp/pm71.XXXXXX)
P() {
	podman --root "$PR/root" --runroot "$PR/run" --runtime runc --cgroup-manager=cgroupfs \
		--events-backend=file "$@"
}
on_cleanup "podman --root '$PR/root' --runroot '$PR/run' --runtime runc rm -af >/dev/null 2>&1; \
	podman --root '$PR/root' --runroot '$PR/run' --runtime runc rmi -af >/dev/null 2>&1; \
	umount -R '$PR/root/overlay' 2>/dev/null; rm -rf '$PR'; true"
P import -q "$TEST_TMP/id.tar" localhost/idimg >/dev/null || fail "podman import"
theirs=$(P run --rm --network=none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
	$MAP idimg sh -c "$probe" | norm) || fail "podman run --uidmap"
small=$(P run --rm --network=none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768 \
	--uidmap 0:200000:100 idimg stat -c "%u:%g" /home/app /etc/shadow) || fail "podman small map"
for copy in 0 1; do
	export STRATA_IDMAP_COPY=$copy
	ours=$(strata run --rm --proc-view=false $MAP idimg sh -c "$probe" | norm) ||
		fail "run --uidmap (copies: $copy)"
	assert_eq "$ours" "$theirs" "map, id and owners as podman's (copies: $copy)"
	assert_contains "$ours" "/etc/shadow 0:42 640 1 regular file" "/etc/shadow inside"
	# a map that lacks some of the image's owners: they show as the overflow id, as podman's
	assert_eq "$(strata run --rm --proc-view=false --uidmap 0:200000:100 idimg \
		stat -c "%u:%g" /home/app /etc/shadow)" "$small" "ids outside the map (copies: $copy)"
done

# The fast path makes no copy and leaves no mount (overlayfs takes idmapped lowers from 5.19).
export STRATA_IDMAP_COPY=0
kv=$(uname -r | awk -F. '{print $1 * 100 + $2}')
strata gc >/dev/null
c=$(strata create --uidmap 0:500000:65536 idimg true)
strata start -a "$c" >/dev/null || fail "start (fast path)"
if [ "$kv" -ge 519 ]; then
	[ -z "$(ls "$ROOT/idmap" 2>/dev/null)" ] || fail "the fast path made copies: $(ls "$ROOT/idmap")"
fi
assert_not_exists "$ROOT/containers/$c/idmapped"
[ -z "$(awk -v r="$ROOT/" 'index($5, r) == 1' /proc/self/mountinfo)" ] || fail "mounts left"
strata rm "$c" >/dev/null

# The copies, forced from here on.
export STRATA_IDMAP_COPY=1

# The copy on the host: owners mapped, setuid, capability, hard links, fifo, symlink kept.
c=$(strata create --name keep $MAP idimg sh -c 'echo hi >/root-file; touch /tmp/u; chown 1000:1000 /tmp/u')
strata start -a keep >/dev/null || fail "start"
copy=$(find "$ROOT/idmap" -path '*/usr/bin/suid' | head -1)
[ -n "$copy" ] || fail "no id-mapped copy in $ROOT/idmap"
top=${copy%/usr/bin/suid}
assert_eq "$(stat -c '%u:%g %a' "$top/etc/shadow" "$top/usr/bin/suid" "$top/home/app")" \
	"200000:300042 640
200000:300000 4755
201000:301000 750" "owners and modes in the copy"
assert_eq "$(stat -c %i "$top/usr/bin/one")" "$(stat -c %i "$top/usr/bin/two")" "a hard link stays one"
assert_eq "$(stat -c '%F %u:%g' "$top/run/fifo" "$top/etc/shadow.link")" "fifo 200000:300042
symbolic link 200000:300042" "fifo and symlink (lchown)"
assert_eq "$(stat -c '%F %t:%T %u:%g %a' "$top/usr/share/cnode")" \
	"character special file 1:3 200000:300042 660" "device node"
python3 -c 'import os, sys; os.getxattr(sys.argv[1], "security.capability")' "$top/usr/bin/ping" ||
	fail "security.capability lost in the copy"
# the upper dir holds the container's files with the mapped ids
assert_eq "$(stat -c %u:%g "$ROOT/containers/$c/upper/root-file" "$ROOT/containers/$c/upper/tmp/u")" \
	"200000:300000
201000:301000" "files the container made, on the host"
assert_eq "$(strata inspect --format '{{.HostConfig.UsernsMode}} {{json .HostConfig.IDMappings}}' keep)" \
	'private {"UidMap":["0:200000:65536"],"GidMap":["0:300000:65536"]}' "inspect"
# a second container of the same map shares the copy (made once)
ino=$(stat -c %i "$top")
c2=$(strata create $MAP idimg true)
strata start -a "$c2" >/dev/null || fail "second container"
assert_eq "$(stat -c %i "$top")" "$ino" "the copy is shared"
assert_eq "$(ls "$ROOT/idmap" | wc -l)" 1 "one key dir"

# exec joins the container's map
strata run -d --name live $MAP idimg sleep 60 >/dev/null
assert_eq "$(strata exec live cat /proc/self/uid_map | norm)" "0 200000 65536" "exec joins the map"
strata rm -f live >/dev/null

# commit: owners as the container saw them
strata commit keep snap >/dev/null || fail "commit"
strata export snap | tar --warning=no-unknown-keyword --numeric-owner -tvf - | awk '$NF=="root-file" || $NF=="tmp/u" {print $NF, $2}' \
	>"$TEST_TMP/owners"
assert_eq "$(cat "$TEST_TMP/owners")" "root-file 0/0
tmp/u 1000/1000" "the committed layer's owners"
assert_eq "$(strata run --rm --proc-view=false snap stat -c %u:%g /root-file /tmp/u /etc/shadow)" \
	"0:0
1000:1000
0:42" "the committed image without a map"

# rm keeps the copy for the next container of the map (run --rm too); gc removes it once unused
strata rm keep >/dev/null
strata rm "$c2" >/dev/null
assert_exists "$top"
assert_eq "$(strata run --rm --proc-view=false $MAP idimg stat -c %u:%g /home/app)" 1000:1000 \
	"a run after rm"
assert_eq "$(stat -c %i "$top")" "$ino" "the copy outlives its containers"
c3=$(strata create $MAP idimg true)
key=$(ls "$ROOT/idmap")
out=$(strata gc)
assert_not_contains "$out" "id-mapped copy" "gc keeps a copy a container uses"
assert_exists "$top"
strata rm "$c3" >/dev/null
assert_contains "$(strata gc)" "id-mapped copy $key/" "gc names the copy"
assert_not_exists "$top"
assert_eq "$(ls "$ROOT/idmap" | wc -l)" 0 "gc removed it"
assert_fsck_clean

# fsck sees what does not belong there, and --repair removes it
mkdir -p "$ROOT/idmap/bogus" "$ROOT/idmap/$key/overlay/notachain"
out=$(strata fsck 2>&1) && fail "fsck is clean with a bogus copy"
assert_contains "$out" "'bogus' is not a map key" "fsck: a bad key"
assert_contains "$out" "notachain: not a chain ID" "fsck: a bad copy"
strata fsck --repair >/dev/null 2>&1 || true
assert_fsck_clean

# --userns=host is the default; the modes not built are refused in one line
assert_eq "$(strata run --rm --proc-view=false --userns=host idimg cat /proc/self/uid_map | norm)" \
	"0 0 4294967295" "--userns=host"
for bad in auto nomap ns:/proc/1/ns/user private container:x; do
	expect_fail strata run --rm --userns="$bad" idimg true
	assert_one_line_error "$out"
	assert_contains "$out" "strata: run: --userns: '$bad' is not supported" "--userns=$bad"
	assert_eq "$rc" 125 "--userns=$bad exit status"
done
expect_fail strata run --rm --userns=keep-id idimg true
assert_eq "$out" "strata: run: --userns: keep-id is only supported in rootless mode" "keep-id as root"
assert_eq "$rc" 125 "keep-id exit status"
P run --rm --userns=keep-id idimg true >/dev/null 2>&1 && fail "podman takes keep-id as root"
for bad in 0:1 0:x:5 0:1:0 "0:200000:10,5:300000:10"; do
	expect_fail strata create --uidmap "$bad" idimg true
	assert_one_line_error "$out"
	assert_contains "$out" "strata: create: --uidmap: " "--uidmap $bad"
done
expect_fail strata bundle --uidmap 0:200000:65536 idimg "$TEST_TMP/bundle"
assert_eq "$out" "strata: bundle: --userns, --uidmap, --gidmap, --subuidname: a bundle is written for the host's ids" "bundle"
expect_fail strata create --userns=keep-id --uidmap 0:1:1 idimg true
assert_contains "$out" "--userns: cannot be used with --uidmap" "both"
assert_eq "$(strata ps -aq | wc -l)" 0 "nothing made by a refusal"

# --subuidname/--subgidname: the name's ranges of /etc/subuid and /etc/subgid, from 0 in file order
SN=strsubn$$
on_cleanup "sed -i '/^${SN}1*:/d' /etc/subuid /etc/subgid"
printf '%s:600000:1000\n%s:700000:500\n' "$SN" "$SN" >>/etc/subuid
printf '%s:800000:2000\n' "$SN" >>/etc/subgid
assert_eq "$(strata run --rm --proc-view=false --subuidname "$SN" idimg sh -c \
	'cat /proc/self/uid_map /proc/self/gid_map; stat -c %u:%g /etc/shadow' | norm)" "0 600000 1000
1000 700000 500
0 800000 2000
0:42" "--subuidname"
# podman 4.3 takes one range a name (two: its idmapped overlay mount fails with EPERM)
printf '%s1:610000:65536\n' "$SN" >>/etc/subuid
printf '%s1:810000:65536\n' "$SN" >>/etc/subgid
assert_eq "$(strata run --rm --proc-view=false --subuidname "${SN}1" idimg cat /proc/self/uid_map \
	/proc/self/gid_map | norm)" "$(P run --rm --network=none --ulimit nofile=20000:20000 \
	--ulimit nproc=32768:32768 --subuidname "${SN}1" idimg cat /proc/self/uid_map /proc/self/gid_map |
	norm)" "--subuidname as podman's"
expect_fail strata run --rm --subuidname nosuch$$ idimg true
assert_eq "$out" "strata: run: --subuidname: no ranges for 'nosuch$$' in /etc/subuid" "an unknown name"
expect_fail strata run --rm --subuidname "$SN" --uidmap 0:1:1 idimg true
assert_one_line_error "$out"

# A start killed at any point (a copy half-made, idmapped mounts not yet detached):
# fsck clean; the next run works.
for ms in 5 20 40 80 1005 1020; do
	case $ms in 1*) export STRATA_IDMAP_COPY=0; ms=${ms#10} ;; *) export STRATA_IDMAP_COPY=1 ;; esac
	strata gc >/dev/null # no copy yet: the kill may land in its making
	strata run --name k$ms --proc-view=false --uidmap 0:400000:65536 idimg true >/dev/null 2>&1 &
	pid=$!
	sleep "0.0$ms" 2>/dev/null || sleep 0.1
	kill -9 $pid 2>/dev/null || true
	wait $pid 2>/dev/null || true
	# nothing unmounted by hand: rm deals with what the kill left
	assert_fsck_clean
	strata rm -f k$ms >/dev/null 2>&1 || true
	assert_eq "$(strata run --rm --proc-view=false --uidmap 0:400000:65536 idimg stat -c %u:%g /etc/shadow)" \
		0:42 "a run after a kill at ${ms} ms"
	assert_fsck_clean
done
strata gc >/dev/null
assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "staging left"
assert_fsck_clean
