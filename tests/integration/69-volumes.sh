# Volumes as a podman user types them: volume create/ls/inspect/exists/rm/
# prune, -v NAME:/path (made on first use, filled from the image), the
# image's VOLUMEs as anonymous volumes (rm -v, run --rm), --mount
# bind|volume|tmpfs, in-use refusal, Mounts in ps and inspect; compared
# with podman on the same image. Hostile: bad names, symlinks planted in
# a volume or in the image, a replaced data dir, a killed volume create.
. "${0%/*}/../lib.sh"
require_root "mounts volumes into containers"
import_busybox
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'

# An image with two VOLUMEs, content at /data owned by 1000 with mode 700.
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
cat >"$ctx/Containerfile" <<'EOF'
FROM busybox
RUN mkdir -p /data/sub /other && echo hi >/data/f && echo deep >/data/sub/g && \
    chown -R 1000:1000 /data && chmod 700 /data && chmod 640 /data/f && \
    ln -s /etc/passwd /data/link && ln -s ../../../../../.. /up
VOLUME /data
VOLUME /other
EOF
strata build -q -t vimg "$ctx" >/dev/null

vols() { strata volume ls -q | tr '\n' ' '; }

# ---- volume create / ls / inspect / exists / rm ----
assert_eq "$(strata volume create --label env=prod --label tier myvol)" myvol
anon=$(strata volume create)
[ ${#anon} -eq 64 ] || fail "a volume without a name gets 64 hex digits: '$anon'"
assert_eq "$(strata volume ls -q | tr '\n' ' ')" "$anon myvol " "volume ls -q"
assert_eq "$(strata volume ls | head -1 | tr -s ' ')" "DRIVER VOLUME NAME" "volume ls header"
insp=$(strata volume inspect myvol)
for k in '"Name": "myvol"' '"Driver": "local"' "\"Mountpoint\": \"$ROOT/volumes/myvol/_data\"" \
	'"Scope": "local"' '"env": "prod"' '"tier": ""' '"Options": {}' '"CreatedAt": "20'; do
	assert_contains "$insp" "$k" "volume inspect"
done
[ -d "$ROOT/volumes/myvol/_data" ] || fail "the data dir"
assert_eq "$(stat -c %a "$ROOT/volumes/myvol/_data")" 755 "data dir mode"
assert_eq "$(strata volume ls --format json | grep -c '"Name"')" 2 "volume ls --format json"
strata volume exists myvol || fail "volume exists of a volume"
set +e
strata volume exists nope
rc=$?
set -e
assert_eq "$rc" 1 "volume exists of none"
expect_fail strata volume create myvol
assert_one_line_error "$out"
assert_contains "$out" "already exists"
expect_fail strata volume inspect nope
assert_one_line_error "$out"
assert_eq "$rc" 125 "inspect of none"
expect_fail strata volume rm nope
assert_one_line_error "$out"
# filters
assert_eq "$(strata volume ls -q --filter label=env=prod)" myvol "label=K=V"
assert_eq "$(strata volume ls -q --filter label=tier)" myvol "label=K"
assert_eq "$(strata volume ls -q --filter label=env=dev)" "" "label=K=other"
assert_eq "$(strata volume ls -q --filter name=my)" myvol "name="
assert_eq "$(strata volume ls -q --filter dangling=true | tr '\n' ' ')" "$anon myvol " "dangling"
expect_fail strata volume ls --filter bogus=1
assert_one_line_error "$out"
assert_contains "$out" "invalid filter 'bogus=1'"
assert_eq "$(strata volume rm "$anon")" "$anon" "volume rm prints the name"

# ---- hostile names: never a path ----
for bad in a/b .. . ../x /abs .hidden 'x y' ''; do
	expect_fail strata volume create "$bad"
	assert_one_line_error "$out"
	assert_eq "$rc" 125 "volume create '$bad'"
	expect_fail strata volume inspect "$bad"
	expect_fail strata volume rm "$bad"
done
expect_fail strata run --rm -v 'a..b/c:/x' vimg true
assert_one_line_error "$out"
[ -z "$(ls "$ROOT/volumes" | grep -v myvol)" ] || fail "a bad name made something: $(ls "$ROOT/volumes")"

# ---- -v NAME:/path: made on first use, filled from the image (owners, modes) ----
assert_eq "$(strata run --rm -v newvol:/data vimg sh -c 'stat -c "%a %u:%g" /data /data/f /data/sub/g; cat /data/sub/g; readlink /data/link')" \
	"700 1000:1000
640 1000:1000
644 1000:1000
deep
/etc/passwd" "copy-up keeps owners and modes"
assert_contains "$(vols)" newvol "the volume made on first use"
assert_not_contains "$(strata volume inspect newvol)" NeedsCopyUp "copied once"
# what a container writes stays; an emptied volume is not filled again (podman)
strata run --rm -v newvol:/data vimg sh -c 'echo kept >/data/new; rm /data/f'
assert_eq "$(strata run --rm -v newvol:/data vimg cat /data/new)" kept "data persists"
assert_eq "$(cat "$ROOT/volumes/newvol/_data/new")" kept "data in the store's volume"
strata run --rm -v newvol:/data vimg sh -c 'rm -rf /data/* /data/.[!.]* 2>/dev/null; true'
assert_eq "$(strata run --rm -v newvol:/data vimg ls -A /data)" "" "filled only once"
# nocopy; a created volume fills on its first use; ro
strata volume create fresh >/dev/null
assert_eq "$(strata run --rm -v fresh:/data:nocopy vimg ls -A /data)" "" ":nocopy"
assert_eq "$(strata run --rm --mount type=volume,src=fresh2,dst=/data,volume-nocopy vimg ls -A /data)" "" \
	"volume-nocopy"
assert_eq "$(strata run --rm -v myvol:/data vimg ls /data | tr '\n' ' ')" "f link sub " "created, filled on first use"
expect_fail strata run --rm -v myvol:/data:ro vimg touch /data/x
assert_contains "$out" "Read-only file system"
assert_eq "$(strata run --rm -v myvol:/data:rw,z vimg sh -c 'touch /data/x && echo ok')" ok ":rw,z"
# :U gives the tree to the container's user
strata volume create uvol >/dev/null
strata run --rm -u 1000:1000 -v uvol:/mnt/u:U vimg sh -c 'touch /mnt/u/mine'
assert_eq "$(stat -c %u:%g "$ROOT/volumes/uvol/_data/mine" "$ROOT/volumes/uvol/_data" | tr '\n' ' ')" \
	"1000:1000 1000:1000 " ":U"
# -v SRC:DST:OPTS with a bad option, a relative destination: one line each
for bad in 'myvol:/x:bogus' 'myvol:rel' 'myvol:/x:shared' ':/x' 'myvol:'; do
	expect_fail strata run --rm -v "$bad" vimg true
	assert_one_line_error "$out"
	assert_eq "$rc" 125 "-v $bad"
done
# a bind keeps working, from . too
mkdir -p "$TEST_TMP/host"
echo h >"$TEST_TMP/host/file"
assert_eq "$(cd "$TEST_TMP" && strata run --rm -v ./host:/h:ro vimg cat /h/file)" h "-v ./dir"

# ---- anonymous volumes for the image's VOLUMEs ----
before=$(vols)
cid=$(strata create --name withvols vimg true)
anon_data=$(strata inspect withvols | grep -B3 '"Destination": "/data"' | sed -n 's/.*"Name": "\(.*\)",/\1/p')
[ ${#anon_data} -eq 64 ] || fail "an anonymous volume for /data: '$anon_data'"
assert_eq "$(strata inspect withvols | grep -c '"Type": "volume"')" 2 "two anonymous volumes"
assert_eq "$(strata ps -a --format json | grep -A3 '"Mounts"' | tr -d ' \n')" '"Mounts":["/data","/other"],' \
	"ps shows the mounts"
strata start -a withvols
assert_eq "$(ls "$ROOT/volumes/$anon_data/_data" | tr '\n' ' ')" "f link sub " "anonymous volume filled"
expect_fail strata volume rm "$anon_data"
assert_one_line_error "$out"
assert_contains "$out" "is being used by container(s) ${cid%${cid#????????????}}"
strata rm -v withvols >/dev/null
assert_eq "$(vols)" "$before" "rm -v removes the anonymous volumes"
# without -v they stay, dangling
strata create --name keepvols vimg true >/dev/null
n_before=$(strata volume ls -q | wc -l)
strata rm keepvols >/dev/null
assert_eq "$(strata volume ls -q | wc -l)" "$n_before" "rm without -v keeps them"
assert_eq "$(strata volume ls -q --filter dangling=true | wc -l)" "$n_before" "now dangling"
assert_contains "$(strata volume prune -f)" myvol "prune -f removes every unused volume"
# run --rm removes them; a named volume given for one VOLUME replaces its anonymous one
strata volume create myvol >/dev/null
before=$(vols)
strata run --rm -v myvol:/data vimg true
assert_eq "$(vols)" "$before" "run --rm leaves no anonymous volume"
# run -d --rm: the monitor removes them when the container ends
cid=$(strata run -d --rm vimg sleep 0.3)
# (it removes the container, then its volumes: wait for both)
for _ in $(seq 50); do
	! strata ps -aq --no-trunc | grep -q "$cid" && [ "$(vols)" = "$before" ] && break
	sleep 0.1
done
assert_eq "$(vols)" "$before" "run -d --rm leaves no anonymous volume"
# two containers starting at once on one new volume: it is filled once, both see it whole
strata run -d --name race1 -v racevol:/data vimg sh -c 'ls /data >/tmp/seen' >/dev/null &
strata run -d --name race2 -v racevol:/data vimg sh -c 'ls /data >/tmp/seen' >/dev/null &
wait
assert_eq "$(strata wait race1 race2 | tr '\n' ' ')" "0 0 " "both ran"
assert_eq "$(ls "$ROOT/volumes/racevol/_data" | tr '\n' ' ')" "f link sub " "filled once"
strata rm -v race1 race2 >/dev/null
strata volume rm racevol >/dev/null
# -v /path alone is an anonymous volume
strata run --rm -v /scratch vimg sh -c 'touch /scratch/x'
assert_eq "$(vols)" "$before" "-v /path is anonymous"

# ---- --mount ----
out=$(strata run --rm --mount type=tmpfs,target=/t,tmpfs-size=1m,tmpfs-mode=700 vimg \
	sh -c 'stat -c %a /t; df -k /t | tail -1 | awk "{print \$2}"')
assert_eq "$out" "700
1024" "--mount type=tmpfs"
assert_eq "$(strata run --rm --mount type=bind,source="$TEST_TMP/host",target=/h,readonly vimg sh -c 'cat /h/file; touch /h/x 2>/dev/null || echo ro')" \
	"h
ro" "--mount type=bind,readonly"
assert_eq "$(strata run --rm --mount type=bind,src="$TEST_TMP/host",dst=/h,bind-propagation=rprivate vimg cat /h/file)" h \
	"bind-propagation=rprivate"
assert_eq "$(strata run --rm --mount type=volume,source=myvol,target=/v,ro=true vimg sh -c 'ls /v >/dev/null; touch /v/y 2>/dev/null || echo ro')" ro \
	"--mount type=volume,ro"
for bad in type=bind,target=/x type=bind,source=/nonexistent,target=/x type=volume,target=/x,tmpfs-size=1m \
	type=tmpfs,target=/x,source=/tmp type=nfs,target=/x target=/x type=volume,src=a/b,target=/x \
	type=bind,source=/tmp,target=/x,bind-propagation=sideways type=tmpfs,target=/x,tmpfs-mode=999 \
	type=tmpfs,target=rel type=volume,source=v,target=/x,ro=maybe type=volume,target=/x,bogus \
	type=bind,source=/tmp,target=/x,typo=1 type=bind,src=/tmp,dst=/x,type; do
	expect_fail strata run --rm --mount "$bad" vimg true
	assert_one_line_error "$out"
	assert_eq "$rc" 125 "--mount $bad"
done
# bind-propagation: rslave sees what the host mounts later, rprivate does not; rshared and
# rslave need a source on a shared mount (as runc), said in one line
mkdir -p "$TEST_TMP/shared" "$TEST_TMP/plain"
mount -t tmpfs tmpfs "$TEST_TMP/shared"
mount --make-shared "$TEST_TMP/shared"
probe='for i in $(seq 30); do [ -e /s/sub/marker ] && echo seen && exit 0; sleep 0.1; done; echo unseen'
for prop in rslave rprivate; do
	cid=$(strata run -d --mount type=bind,src="$TEST_TMP/shared",dst=/s,bind-propagation=$prop vimg sh -c "$probe")
	sleep 0.5
	mkdir -p "$TEST_TMP/shared/sub"
	mount -t tmpfs tmpfs "$TEST_TMP/shared/sub"
	touch "$TEST_TMP/shared/sub/marker"
	strata wait "$cid" >/dev/null
	[ $prop = rslave ] && want=seen || want=unseen
	assert_eq "$(strata logs "$cid")" $want "bind-propagation=$prop"
	strata rm "$cid" >/dev/null
	umount "$TEST_TMP/shared/sub"
done
assert_contains "$(strata run --rm -v "$TEST_TMP/shared:/s:rshared,ro" vimg grep ' /s ' /proc/self/mountinfo)" \
	" ro,relatime shared:" ":rshared,ro"
cid=$(strata create -v "$TEST_TMP/shared:/s:rslave" vimg true)
assert_contains "$(strata inspect --format '{{range .Mounts}}{{.Propagation}} {{end}}' "$cid")" \
	"rslave" "Propagation in inspect"
strata rm -v "$cid" >/dev/null
for bad in "$TEST_TMP/plain:/s:rshared" "$TEST_TMP/plain:/s:rslave"; do
	expect_fail strata run --rm -v "$bad" vimg true
	assert_one_line_error "$out"
	assert_contains "$out" "mount --make-shared"
done
umount "$TEST_TMP/shared"
expect_fail strata run --rm -v myvol:/x --mount type=tmpfs,target=/x/ vimg true
assert_contains "$out" "duplicate mount destination"

# ---- in use: rm refused, rm -f removes the containers, then prune ----
strata create --name user1 -v myvol:/data vimg true >/dev/null
expect_fail strata volume rm myvol
assert_one_line_error "$out"
assert_contains "$out" "volume 'myvol' is being used by container(s)"
assert_contains "$(strata volume ls -q --filter dangling=false)" myvol "in use"
assert_eq "$(strata volume rm -f myvol)" myvol "volume rm -f"
expect_fail strata inspect user1
strata volume create --label keep=1 kept >/dev/null
strata volume create --label keep=0 gone1 >/dev/null
strata create --name user2 -v gone1:/data vimg true >/dev/null
assert_eq "$(strata volume prune -f --filter label=keep=1)" kept "prune --filter label"
assert_eq "$(strata volume prune -f --filter label=keep=0)" "" "prune keeps one in use"
assert_eq "$(echo n | strata volume prune 2>/dev/null)" "" "prune asks, n keeps"
strata rm user2 >/dev/null
assert_contains "$(echo y | strata volume prune 2>/dev/null)" gone1 "prune asks, y removes"

# ---- --format templates ----
strata volume create --label keep=1 kept >/dev/null
assert_eq "$(strata volume ls --filter name=^kept$ --format '{{.Name}} {{.Driver}} {{.Labels}} {{.Scope}}')" \
	"kept local map[keep:1] local" "volume ls --format TEMPLATE"
assert_eq "$(strata volume ls --filter name=^kept$ --format 'table {{.Name}}' | tr -s ' ' | tr '\n' '|')" \
	"VOLUME NAME|kept|" "volume ls --format table"
assert_eq "$(strata volume inspect --format '{{.Mountpoint}}' kept)" "$ROOT/volumes/kept/_data" \
	"volume inspect --format"
expect_fail strata volume ls --format '{{.Nope}}'
assert_one_line_error "$out"

# ---- system df and system prune --volumes ----
strata volume prune -f >/dev/null
strata volume create dfvol >/dev/null
printf 12345 >"$ROOT/volumes/dfvol/_data/f"
strata volume create dfused >/dev/null
printf 123 >"$ROOT/volumes/dfused/_data/g"
strata create --name dfuser -v dfused:/data vimg true >/dev/null
assert_eq "$(strata system df --format '{{.Type}}|{{.Total}}|{{.Active}}|{{.RawSize}}|{{.RawReclaimable}}' | grep '^Local')" \
	"Local Volumes|3|2|8|5" "system df: the volumes (one anonymous for /other)"
dfv=$(strata system df -v)
echo "$dfv" | grep -Eq '^dfused +1 +3B$' || fail "system df -v: dfused's row: $dfv"
echo "$dfv" | grep -Eq '^dfvol +0 +5B$' || fail "system df -v: dfvol's row: $dfv"
echo "$dfv" | grep -Eq '^[0-9a-f]{12} .* 2 +0B .* dfuser$' || fail "system df -v: the container's 2 volumes: $dfv"
strata rm dfuser >/dev/null
strata system prune -f >/dev/null
assert_eq "$(strata volume ls -q | wc -l)" 3 "system prune keeps volumes without --volumes"
out=$(strata system prune -f --volumes)
assert_contains "$out" "Deleted Volumes
" "system prune --volumes"
assert_contains "$out" "dfvol"
assert_contains "$out" "Total reclaimed space: "
assert_eq "$(strata volume ls -q)" "" "system prune --volumes removes the unused volumes"

# ---- hostile: symlinks ----
# one planted in a volume pointing out: rm, prune, size and copy-up never follow it
mkdir -p "$TEST_TMP/victim"
echo precious >"$TEST_TMP/victim/file"
strata run --rm -v evil:/e vimg sh -c "ln -s $TEST_TMP/victim /e/out && ln -s $TEST_TMP/victim/file /e/outfile"
assert_eq "$(strata run --rm -v evil:/e vimg sh -c 'cat /e/outfile 2>/dev/null || echo none')" none \
	"a symlink in a volume resolves inside the container"
strata volume rm evil >/dev/null
assert_eq "$(cat "$TEST_TMP/victim/file")" precious "volume rm follows no symlink"
# the image's /up is ../../.. : a volume mounted there lands inside the rootfs
strata run --rm -v upvol:/up/x vimg sh -c 'touch /up/x/y'
assert_not_exists /x/y
[ -e "$ROOT/volumes/upvol/_data/y" ] || fail "the volume mounted through the image's symlink"
# a data dir replaced by a symlink to the host is refused, not mounted
strata volume create swapped >/dev/null
rmdir "$ROOT/volumes/swapped/_data"
ln -s "$TEST_TMP/victim" "$ROOT/volumes/swapped/_data"
expect_fail strata run --rm -v swapped:/s vimg ls /s
assert_one_line_error "$out"
assert_contains "$out" "swapped"
expect_fail strata fsck
rm "$ROOT/volumes/swapped/_data"
mkdir "$ROOT/volumes/swapped/_data"
strata volume rm swapped >/dev/null
assert_eq "$(cat "$TEST_TMP/victim/file")" precious "the victim is untouched"

# ---- a killed volume create or rm: whole or nothing, fsck clean, again works ----
if command -v strace >/dev/null; then
	ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
	export ASAN_OPTIONS
	for op in create rm; do
		for sc in mkdirat renameat openat; do
			# start at the first call in the store (not the libraries' opens)
			if [ $op = rm ]; then strata volume create killme >/dev/null; fi
			strace -f -qq -o "$TEST_TMP/trace" -e trace=$sc "$STRATA_BIN" --root "$ROOT" volume $op killme >/dev/null 2>&1 ||
				fail "volume $op under strace"
			n=$(grep -n -e "$ROOT" "$TEST_TMP/trace" | head -1 | cut -d: -f1)
			n=${n:-1}
			if [ $op = create ]; then strata volume rm killme >/dev/null; fi
			while :; do
				if [ $op = rm ]; then strata volume create killme >/dev/null 2>&1 || true; fi
				rc=$({ (exec strace -f -qq -o /dev/null -e trace=$sc -e inject=$sc:signal=KILL:when=$n \
					"$STRATA_BIN" --root "$ROOT" volume $op killme >/dev/null 2>&1) && echo 0 || echo $?; } 2>/dev/null)
				o=$(strata fsck 2>&1) || fail "fsck after volume $op killed at $sc #$n: $o"
				case "$(vols)" in
				*killme*) [ -d "$ROOT/volumes/killme/_data" ] && [ -f "$ROOT/volumes/killme/volume.json" ] ||
					fail "a half volume after a kill at $sc #$n" ;;
				esac
				if [ $op = create ]; then
					strata volume rm killme >/dev/null 2>&1 || true
					assert_eq "$(strata volume create killme)" killme "create again after a kill"
					strata volume rm killme >/dev/null
				else
					strata volume rm killme >/dev/null 2>&1 || true
					assert_not_contains "$(vols)" killme "rm again after a kill"
				fi
				[ "$rc" = 137 ] || break
				n=$((n + 1))
				[ $n -le 60 ] || fail "volume $op: more than 60 calls of $sc"
			done
		done
	done
else
	skip "the killed volume create (needs strace)"
fi
# gc removes the staging a kill left and no volume
strata volume create survivor >/dev/null
echo data >"$ROOT/volumes/survivor/_data/d"
strata gc >/dev/null
assert_eq "$(cat "$ROOT/volumes/survivor/_data/d")" data "gc keeps volumes"
assert_eq "$(ls "$ROOT/tmp" | wc -l)" 0 "gc removed the staging"
assert_fsck_clean

# ---- the local driver's options: -o type=,device=,o= (mounted while used) ----
mounted() { awk -v p="$ROOT/volumes/$1/_data" '$5 == p' /proc/self/mountinfo | grep -q .; }
mc() { strata volume inspect "$1" --format '{{.MountCount}}'; }
for bad in "foo=bar:unknown volume option 'foo'" "o=noexec:'noexec' is a mount option: it needs type=" \
	"o=uid=abc:UID wants a number" "type=bind:needs device=" "device=/tmp:needs type=" \
	"type=tmpfs,o=loop:'loop' is not supported"; do
	expect_fail strata volume create $(echo "${bad%%:*}" | sed 's/^/-o /; s/,\(o=\)/ -o \1/') badopt
	assert_eq "$rc" 125 "exit status of -o ${bad%%:*}"
	assert_one_line_error "$out"
	assert_contains "$out" "${bad#*:}" "-o ${bad%%:*}"
done
expect_fail strata volume create --driver other badopt
assert_contains "$out" "unknown volume driver 'other'"
strata volume create --driver local -o type=bind -o device=/nonexistent badopt 2>/dev/null &&
	fail "a bind of a missing dir"
assert_not_contains "$(vols)" badopt "volumes after refused options"
# o=uid=,gid= alone: a plain volume whose data dir has that owner, never mounted
strata volume create -o o=uid=1000,gid=1001 owned >/dev/null
assert_eq "$(stat -c %u:%g "$ROOT/volumes/owned/_data")" 1000:1001 "o=uid=,gid= owner"
assert_eq "$(strata volume inspect owned --format '{{json .Options}} {{.UID}} {{.GID}} {{.NeedsChown}}')" \
	'{"GID":"1001","UID":"1000","o":"uid=1000,gid=1001"} 1000 1001 false' "o=uid=,gid= in inspect"
# tmpfs: mounted at the first start, shared by the containers using it, unmounted after the last
strata volume create -o type=tmpfs -o device=tmpfs -o o=size=4m,mode=0700,uid=1000 tv >/dev/null
assert_contains "$(strata volume inspect tv)" '"MountCount": 0' "MountCount of an unused volume"
t1=$(strata run -d -v tv:/t -v owned:/o busybox sleep 60)
t2=$(strata run -d -v tv:/t busybox sleep 60)
strata exec "$t1" sh -c 'echo shared >/t/x'
assert_eq "$(strata exec "$t2" cat /t/x)" shared "one tmpfs for both containers"
assert_eq "$(strata exec "$t1" stat -c '%a %u' /t)" "700 1000" "tmpfs mode= and uid="
assert_contains "$(strata exec "$t1" cat /proc/mounts)" "/t tmpfs rw" "the tmpfs in the container"
assert_contains "$(strata exec "$t1" cat /proc/mounts)" "size=4096k" "the tmpfs size="
mounted tv || fail "the tmpfs on the volume's data dir"
assert_eq "$(mc tv)" 2 "MountCount with two running containers"
assert_eq "$(mc owned)" 0 "MountCount of a volume never mounted (podman)"
assert_eq "$(strata volume ls --filter name=tv --format '{{.Name}} {{.MountCount}}')" "tv 2" "volume ls MountCount"
assert_contains "$(strata system df -v)" "tv           2" "system df LINKS"
expect_fail strata volume rm tv
strata stop -t 1 "$t1" >/dev/null
assert_eq "$(mc tv)" 1 "MountCount after one stop"
mounted tv || fail "the tmpfs unmounted while a container still uses it"
strata stop -t 1 "$t2" >/dev/null
assert_eq "$(mc tv)" 0 "MountCount after the last stop"
mounted tv && fail "the tmpfs still mounted after the last container stopped"
assert_eq "$(strata run --rm -v tv:/t busybox ls -A /t)" "" "a new tmpfs at the next start"
strata rm -f "$t1" "$t2" >/dev/null
# the image's content is copied into the mount (it cannot replace a mount's root)
strata volume create -o type=tmpfs -o device=tmpfs tcu >/dev/null
assert_eq "$(strata run --rm -v tcu:/data vimg cat /data/f)" hi "copy-up into a tmpfs volume"
strata volume rm tcu >/dev/null
# a bind with o=bind,ro: the host dir, read-only; removing the volume never touches it
mkdir -p "$TEST_TMP/hostdir"
echo host >"$TEST_TMP/hostdir/h"
strata volume create -o type=none -o device="$TEST_TMP/hostdir" -o o=bind,ro bv >/dev/null
assert_eq "$(strata run --rm -v bv:/b busybox cat /b/h)" host "the bind volume"
strata run --rm -v bv:/b busybox touch /b/new 2>/dev/null && fail "o=ro: written"
mounted bv && fail "the bind left mounted"
# stop and rm -f return once the volume is let go: it can be removed at once
b1=$(strata run -d -v bv:/b busybox sleep 60)
strata rm -f "$b1" >/dev/null
mounted bv && fail "the bind still mounted after rm -f"
strata volume rm bv >/dev/null || fail "volume rm right after rm -f"
strata volume create -o type=none -o device="$TEST_TMP/hostdir" -o o=bind,ro bv >/dev/null
# its launcher killed: the mount stays until volume rm, which unmounts it and keeps the host's files
"$STRATA_BIN" --root "$ROOT" run --name held -v bv:/b busybox sleep 60 &
held=$!
n=0
until mounted bv; do sleep 0.1; n=$((n + 1)); [ $n -lt 100 ] || fail "the bind volume is not mounted"; done
kill -9 "$held"
wait "$held" 2>/dev/null || true
mounted bv || fail "a killed launcher's mount"
strata rm -f held >/dev/null
strata volume rm bv >/dev/null
mounted bv && fail "volume rm left the mount"
assert_eq "$(cat "$TEST_TMP/hostdir/h")" host "the host dir after volume rm"
# a block device with its filesystem: an ext4 image on a loop device
if command -v mkfs.ext4 >/dev/null && command -v losetup >/dev/null &&
	truncate -s 8M "$TEST_TMP/ext4.img" && mkfs.ext4 -q -F "$TEST_TMP/ext4.img" &&
	loop=$(losetup -f --show "$TEST_TMP/ext4.img" 2>/dev/null); then
	on_cleanup "losetup -d $loop"
	expect_fail strata volume create -o type=ext4 -o device="$TEST_TMP/ext4.img" ev
	assert_contains "$out" "is a block device" "a file as device="
	strata volume create -o type=ext4 -o device="$loop" -o o=noatime ev >/dev/null
	strata run --rm -v ev:/e busybox sh -c 'echo kept >/e/f; grep " /e " /proc/mounts' >"$TEST_TMP/ev.out"
	assert_contains "$(cat "$TEST_TMP/ev.out")" "ext4 rw,noatime" "the ext4 volume's mount"
	assert_eq "$(strata run --rm -v ev:/e busybox cat /e/f)" kept "the device's files, next start"
	mounted ev && fail "the device left mounted"
	strata volume rm ev >/dev/null
else
	skip "the block device volume (needs mkfs.ext4 and a loop device)"
fi
strata volume rm tv owned >/dev/null
assert_fsck_clean

# ---- compared with podman on the same image ----
if command -v podman >/dev/null && command -v skopeo >/dev/null; then
	P="podman --root $TEST_TMP/proot --runroot $TEST_TMP/prun --runtime runc --cgroup-manager=cgroupfs --events-backend=file --storage-driver vfs"
	R="--network=none --ulimit nofile=20000:20000 --ulimit nproc=32768:32768"
	skopeo copy -q oci:"$ROOT":vimg:latest "containers-storage:[vfs@$TEST_TMP/proot+$TEST_TMP/prun]localhost/vimg:latest" >/dev/null
	on_cleanup "$P rm -af >/dev/null 2>&1; $P volume rm -af >/dev/null 2>&1"
	look='stat -c "%n %a %u:%g %F" /data /data/f /data/sub /data/sub/g /data/link; ls -A /other'
	want=$($P run --rm $R -v cmpvol:/data vimg sh -c "$look")
	assert_eq "$(strata run --rm -v cmpvol:/data vimg sh -c "$look")" "$want" "copy-up as podman's"
	want=$($P run --rm $R -v cmpvol2:/data:nocopy vimg ls -A /data)
	assert_eq "$(strata run --rm -v cmpvol2:/data:nocopy vimg ls -A /data)" "$want" "nocopy as podman's"
	for c in "$P" strata; do
		$c volume create --label a=b l1 >/dev/null
		$c volume create l2 >/dev/null
	done
	assert_eq "$(strata volume ls --filter name=^l)" "$($P volume ls --filter name=^l)" "volume ls as podman's"
	for f in "label=a=b" "label=a" "name=l" "name=^l2$" "dangling=true"; do
		assert_eq "$(strata volume ls -q --filter "$f" | grep -xE 'l1|l2|cmpvol2?')" \
			"$($P volume ls -q --filter "$f" | grep -xE 'l1|l2|cmpvol2?')" "volume ls --filter $f as podman"
	done
	keys() { grep -o '^ *"[A-Za-z]*":' | tr -d ' ":' | sort | tr '\n' ' '; }
	assert_eq "$(strata volume inspect l2 | keys)" "$($P volume inspect l2 | keys)" \
		"volume inspect keys as podman's"
	# driver options (podman here refuses a tmpfs size=: it asks for project quota first)
	f='{{json .Options}} {{.UID}} {{.GID}} {{.MountCount}} {{.NeedsCopyUp}} {{.NeedsChown}}'
	mkdir -p "$TEST_TMP/hostdir2"
	for c in "$P" strata; do
		$c volume create -o type=tmpfs -o device=tmpfs -o o=mode=0700,uid=1000,nr_inodes=100 ptv >/dev/null
		$c volume create -o o=uid=1000,gid=1000 pown >/dev/null
		$c volume create -o type=none -o device="$TEST_TMP/hostdir2" -o o=bind pbv >/dev/null
	done
	for v in ptv pown pbv; do
		assert_eq "$(strata volume inspect $v --format "$f")" "$($P volume inspect $v --format "$f")" \
			"volume $v as podman's"
	done
	p1=$($P run -d $R -v ptv:/t -v pbv:/b -v pown:/o vimg sleep 60)
	p2=$($P run -d $R -v ptv:/t vimg sleep 60)
	s1=$(strata run -d -v ptv:/t -v pbv:/b -v pown:/o vimg sleep 60)
	s2=$(strata run -d -v ptv:/t vimg sleep 60)
	for v in ptv pown pbv; do
		assert_eq "$(strata volume inspect $v --format "$f")" "$($P volume inspect $v --format "$f")" \
			"volume $v while used, as podman's"
	done
	look='stat -c "%a %u" /t; grep -o " /t tmpfs [^ ]*" /proc/mounts | sed "s/,nosuid,nodev//"'
	assert_eq "$(strata exec "$s1" sh -c "$look")" "$($P exec "$p1" sh -c "$look")" "the tmpfs volume as podman's"
	$P rm -f "$p1" "$p2" >/dev/null
	strata rm -f "$s1" "$s2" >/dev/null
	for v in ptv pown pbv; do
		assert_eq "$(strata volume inspect $v --format "$f")" "$($P volume inspect $v --format "$f")" \
			"volume $v after its containers, as podman's"
	done
	expect_fail $P volume create -o foo=bar pbad
	expect_fail strata volume create -o foo=bar pbad
	pm=$($P create $R --name pc vimg true >/dev/null && $P inspect pc --format '{{range .Mounts}}{{.Type}} {{.Destination}} {{.RW}} {{.Propagation}};{{end}}')
	strata create --name sc vimg true >/dev/null
	sm=$(strata inspect sc | tr -d ' ,"' | awk -F: '/^Type/{t=$2} /^Destination/{d=$2} /^RW/{r=$2} /^Propagation/{printf "%s %s %s %s;", t, d, r, $2}')
	assert_eq "$(echo "$sm" | tr ';' '\n' | sort)" "$(echo "$pm" | tr ';' '\n' | sort)" "Mounts as podman's"
	strata rm -f sc >/dev/null
else
	skip "the comparison with podman (needs podman and skopeo)"
fi
echo "volumes: ok"
