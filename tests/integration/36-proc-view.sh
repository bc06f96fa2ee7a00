# The container's own /proc view: under --memory 64m --cpus 1.5
# --cpuset-cpus 0, free says 64 MB, nproc, cpuinfo, stat and cpu/online one
# CPU, uptime counts from the container's start; --cpus 1.5 alone shows 2
# CPUs; /sys/devices/system/cpu lists the CPUs seen alone; a memory hog's
# "used" grows; reads show in diskstats; a busy loop in loadavg; without
# limits the host's values; --proc-view=false gives the host's files; RUN
# steps of a build get the view; exec sees it, and after a restart; commit
# and diff never see it; no mount or process is left; a dead server makes
# reads fail at once instead of hanging, and ps and inspect say so. Then
# side by side with LXCFS, run on a scratch mount point and bound into the
# same container.
. "${0%/*}/../lib.sh"
require_root "FUSE mounts, namespaces and cgroups"
[ -c /dev/fuse ] || fail "no /dev/fuse: the view cannot be tested"
import_busybox
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'

# procps' free, bound in: it reads /proc/meminfo alone (busybox's free takes
# its total from sysinfo(2), which no /proc view changes).
procps="-v /usr/bin/free:/opt/free:ro -v /lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:ro -v /lib64:/lib64:ro"
view_mounts() { grep -c 'fuse.strata-procview' /proc/self/mountinfo || true; }

# shellcheck disable=SC2086
out=$(strata run --rm --memory 64m --cpus 1.5 --cpuset-cpus 0 $procps busybox sh -c '
	/opt/free -m | awk "/^Mem:/ {print \$2}"
	nproc
	grep -c ^processor /proc/cpuinfo
	grep -c "^cpu[0-9]" /proc/stat
	cut -d. -f1 /proc/uptime
	cat /sys/devices/system/cpu/online')
set -- $out
assert_eq "$1" 64 "free -m total under --memory 64m"
assert_eq "$2" 1 "nproc under --cpuset-cpus 0"
assert_eq "$3" 1 "processors in /proc/cpuinfo"
assert_eq "$4" 1 "cpu lines in /proc/stat"
[ "$5" -lt 10 ] || fail "uptime is the host's: $5 s"
assert_eq "$6" 0 "/sys/devices/system/cpu/online"

# --cpus 1.5 alone: ceil(1.5) = 2 CPUs, numbered from 0.
out=$(strata run --rm --cpus 1.5 busybox sh -c '
	grep -c ^processor /proc/cpuinfo; grep -c "^cpu[0-9]" /proc/stat
	cat /sys/devices/system/cpu/online')
assert_eq "$(echo $out)" "2 2 0-1" "--cpus 1.5: processors, stat lines, online"

# /sys/devices/system/cpu: the host's directory, but for the CPUs the
# container does not see (LXCFS 5.0 lists them all): under --cpuset-cpus 1
# only cpu1, whose files are the host's; under --cpus 1 (quota), cpu0
# only; read-only. (glibc's _SC_NPROCESSORS_CONF counts these directories.)
if [ "$(grep -c ^processor /proc/cpuinfo)" -ge 2 ]; then
	core=$(cat /sys/devices/system/cpu/cpu1/topology/core_id)
	out=$(strata run --rm --cpuset-cpus 1 busybox sh -c '
		cd /sys/devices/system/cpu && echo cpu[0-9]*; cat online
		cat cpu1/topology/core_id; test -f kernel_max && echo kernel_max
		echo 0 > cpu1/online 2>/dev/null || echo read-only')
	assert_eq "$(echo $out)" "cpu1 1 $core kernel_max read-only" "cpu dir under --cpuset-cpus 1"
	out=$(strata run --rm --cpus 1 busybox sh -c 'cd /sys/devices/system/cpu && echo cpu[0-9]*
		cat online; ls cpu0/topology >/dev/null && echo ok')
	assert_eq "$(echo $out)" "cpu0 0 ok" "cpu dir under --cpus 1"
fi

# A memory hog (20 MiB in a tmpfs, charged to the container) shows in used.
# shellcheck disable=SC2086
out=$(strata run --rm --memory 64m $procps busybox sh -c '
	/opt/free -m | awk "/^Mem:/ {print \$3}"
	dd if=/dev/zero of=/dev/shm/hog bs=1M count=20 2>/dev/null
	/opt/free -m | awk "/^Mem:/ {print \$3}"')
set -- $out
[ "$2" -ge $(($1 + 15)) ] || fail "used did not grow with a 20 MiB hog: $1 -> $2"

# I/O the container does shows in its diskstats (v1 blkio, v2 io.stat): a
# 4 MiB file written, then read back bypassing the page cache. Before it,
# the container has done no read of its own on any disk.
out=$(strata run --rm busybox sh -c '
	awk "{ r += \$4 } END { print r + 0 }" /proc/diskstats
	dd if=/dev/urandom of=/big bs=64k count=64 2>/dev/null
	dd if=/big of=/dev/null bs=64k iflag=direct 2>/dev/null
	awk "{ r += \$4; s += \$6 } END { print r + 0, s + 0 }" /proc/diskstats')
set -- $out
[ "$1" -lt 64 ] || fail "diskstats: reads before any: $1"
[ "$2" -ge 64 ] && [ "$3" -ge 8192 ] || fail "diskstats: 64 reads of 64 KiB not counted: $out"

# loadavg counts the container's own threads, sampled every 5 s: a busy
# loop for 11 s brings the 1-minute average near 1 - exp(-10/60) = 0.15;
# the reader (cat, waiting for its answer) is not among the running ones.
out=$(strata run --rm busybox sh -c '(while :; do :; done) & sleep 11; cat /proc/loadavg; kill $!')
set -- $out
ok=$(echo "$1" | awk '{ print ($1 >= 0.05 && $1 < 0.5) }')
assert_eq "$ok" 1 "loadavg after 11 s of a busy loop: $out"
assert_eq "${4%/*}" 1 "running threads in loadavg (the loop, not the reader): $out"

# Without limits: the host's memory and CPUs.
host_total=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
host_cpus=$(grep -c ^processor /proc/cpuinfo)
out=$(strata run --rm busybox sh -c 'awk "/^MemTotal:/ {print \$2}" /proc/meminfo
	grep -c ^processor /proc/cpuinfo')
assert_eq "$(echo $out)" "$host_total $host_cpus" "no limits: MemTotal and processors"

# --proc-view=false: the host's files even under limits; no view mounted.
out=$(strata run --rm --proc-view=false --memory 64m busybox sh -c \
	'awk "/^MemTotal:/ {print \$2}" /proc/meminfo; grep -c fuse /proc/self/mountinfo || true')
assert_eq "$(echo $out)" "$host_total 0" "--proc-view=false"
expect_fail strata run --rm --proc-view=maybe busybox true
assert_one_line_error "$out"
# The store-wide setting: every container of the store gets the host's files.
assert_eq "$(strata config proc-view)" "proc-view true" "the default setting"
strata config proc-view false
assert_eq "$(strata config)" "proc-view false" "the setting"
assert_eq "$(strata run --rm --memory 64m busybox awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
	"$host_total" "config proc-view false"
strata config proc-view true
assert_eq "$(strata run --rm --memory 64m busybox awk '/^MemTotal:/ {print $2}' /proc/meminfo)" \
	65536 "config proc-view true"
expect_fail strata config proc-view maybe
assert_one_line_error "$out"
expect_fail strata config no-such-setting
assert_one_line_error "$out"
assert_contains "$(strata bundle --help)" "cannot carry its FUSE server" "bundle --help"

# A build's RUN steps get the view too (no limits: the host's memory, but
# their own uptime and files), and nothing of it enters the layer; the
# store's setting turns it off there as well.
mkdir -p "$TEST_TMP/ctx"
printf '%s\n' 'FROM busybox' \
	'RUN grep -c " fuse.strata-procview " /proc/self/mountinfo > /views; cut -d. -f1 /proc/uptime > /up' \
	>"$TEST_TMP/ctx/Containerfile"
strata build -q -t viewbuild "$TEST_TMP/ctx" >/dev/null
out=$(strata run --rm --proc-view=false viewbuild sh -c 'cat /views /up')
set -- $out
assert_eq "$1" 8 "the view's mounts in a RUN step"
[ "$2" -lt 30 ] || fail "uptime in a RUN step is the host's: $2 s"
assert_eq "$(strata run --rm --proc-view=false viewbuild sh -c 'ls /dev | grep -c procview || true')" 0 \
	"nothing of the view in the layer"
printf '%s\n' 'FROM busybox' 'RUN grep -c " fuse.strata-procview " /proc/self/mountinfo > /views || true' \
	>"$TEST_TMP/ctx/Containerfile"
strata config proc-view false
strata build -q -t viewbuild3 "$TEST_TMP/ctx" >/dev/null
strata config proc-view true
assert_eq "$(strata run --rm viewbuild3 cat /views)" 0 "config proc-view false in a RUN step"

# Detached: exec sees the view; commit and diff never see its files.
id=$(strata run -d --memory 48m busybox sh -c 'echo x > /made; sleep 300')
assert_eq "$(strata exec "$id" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" 49152 "exec sees the view"
out=$(strata diff "$id")
assert_contains "$out" "A /made" "diff lists the change"
assert_eq "$(printf '%s\n' "$out" | grep -cE ' /(proc|sys|dev)' || true)" 0 "the view in diff: $out"
strata commit "$id" committed >/dev/null
assert_eq "$(strata run --rm committed cat /made)" x "the committed change"
[ "$(view_mounts)" = 0 ] || fail "a view is mounted in strata's mount namespace"

# Stopped and started again (a new monitor): the view again.
rid=$(strata run -d --memory 40m busybox sleep 300)
strata stop -t 1 "$rid" >/dev/null
strata start "$rid" >/dev/null
assert_eq "$(strata exec "$rid" awk '/^MemTotal:/ {print $2}' /proc/meminfo)" 40960 "after a restart"
strata rm -f "$rid" >/dev/null

# A dead server (its monitor killed): reads fail at once, they do not hang.
pid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["State"]["Pid"])' \
	"$ROOT/containers/$id/container.json")
mon=$(awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$pid/stat")
view_state() {
	strata ps --format json | python3 -c 'import json,sys
print(next(c.get("ProcView") for c in json.load(sys.stdin) if c["Id"] == sys.argv[1]))' "$id"
}
assert_eq "$(view_state)" serving "ps: the view of a running container"
assert_contains "$(strata inspect "$id")" '"ProcView": "serving"' "inspect: a live view's server"
case $(strata ps --no-trunc | grep "^$id") in *"proc view dead"*) fail "ps: a live view said dead" ;; esac
kill -9 "$mon"
# ps tells: the container runs on, its view is dead
assert_eq "$(view_state)" dead "ps --format json: a dead view's server"
assert_contains "$(strata ps --no-trunc | grep "^$id")" "(proc view dead)" "ps: a dead view's server"
assert_contains "$(strata inspect "$id")" '"ProcView": "dead"' "inspect: a dead view's server"
set +e
timeout 20 "$STRATA_BIN" --root "$ROOT" exec "$id" cat /proc/meminfo >/dev/null 2>&1
rc=$?
set -e
[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || fail "read of a dead view: status $rc (124: it hung)"
strata rm -f "$id" >/dev/null
[ "$(view_mounts)" = 0 ] || fail "a view left mounted"

# Side by side with LXCFS, for the same container's cgroup: LXCFS on a
# scratch mount point, bound in; it finds the cgroup from the reader's pid.
command -v lxcfs >/dev/null || fail "lxcfs is not installed (scripts/deps.sh)"
lx=$TEST_TMP/lxcfs
mkdir -p "$lx"
lxcfs -f --enable-cfs -p "$TEST_TMP/lxcfs.pid" "$lx" >"$TEST_TMP/lxcfs.log" 2>&1 &
track_pid $!
on_cleanup "umount -l '$lx' 2>/dev/null || true"
for _ in $(seq 100); do [ -f "$lx/proc/meminfo" ] && break; sleep 0.1; done
[ -f "$lx/proc/meminfo" ] || fail "lxcfs did not start: $(cat "$TEST_TMP/lxcfs.log")"
out=$(strata run --rm --memory 64m --cpus 1.5 -v "$lx/proc:/lxcfs:ro" busybox sh -c '
	for f in /proc /lxcfs; do
		awk "/^(MemTotal|MemFree|MemAvailable|Cached|Active|Inactive|Shmem|SwapTotal|SwapFree):/ \
			{ printf \"%s %s\\n\", \$1, \$2 }" $f/meminfo
		cut -d" " -f1 $f/uptime
		grep -c ^processor $f/cpuinfo
		grep -v "^cpu MHz" $f/cpuinfo | md5sum | cut -c1-32
		grep -o "^cpu[0-9]*" $f/stat | tr "\n" " "; echo
		echo ==
	done')
mine=$(printf '%s\n' "$out" | awk '/^==$/ {exit} {print}')
theirs=$(printf '%s\n' "$out" | awk 'seen {print} /^==$/ {seen = 1}' | sed '$d')
# memory fields: equal, or within 4 MiB for the ones that move
printf '%s\n' "$mine" | grep ':' | while read -r k v; do
	w=$(printf '%s\n' "$theirs" | awk -v k="$k" '$1 == k {print $2}')
	[ -n "$w" ] || fail "LXCFS has no $k"
	d=$((v > w ? v - w : w - v))
	case $k in MemTotal: | SwapTotal:) assert_eq "$v" "$w" "$k with LXCFS" ;; esac
	[ "$d" -le 4096 ] || fail "$k: $v kB here, $w kB in LXCFS"
done
set -- $(printf '%s\n' "$mine" | grep -v ':')
mine_up=$1 mine_cpus=$2 mine_sum=$3
shift 3
mine_stat=$*
set -- $(printf '%s\n' "$theirs" | grep -v ':')
up_d=$(echo "$mine_up $1" | awk '{ d = $1 - $2; print (d < 0 ? -d : d) < 2 }')
assert_eq "$up_d" 1 "uptime within 2 s of LXCFS ($mine_up, $1)"
assert_eq "$mine_cpus" "$2" "processors with LXCFS"
assert_eq "$mine_sum" "$3" "cpuinfo (but cpu MHz) with LXCFS"
shift 3
assert_eq "$mine_stat" "$*" "the cpu lines of /proc/stat with LXCFS"
