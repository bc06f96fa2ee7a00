# A detached container whose monitor is killed (SIGKILL): `rm -f` kills
# its process and removes every cgroup dir it had (each v1 controller's,
# or the unified one) and its mount; with monitor and PID 1 both killed,
# `ps` says Exited, not Up (liveness is the pid and its start time, not
# the record's word), `ps` without -a leaves it out, and a plain `rm`
# removes it and its cgroup dirs. A pid reused by another process does not
# make a dead container look alive.
. "${0%/*}/../lib.sh"
require_root "namespaces and cgroups"
import_busybox
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'

# state ID FIELD: a field of the container's State (Cgroup: its dirs, one a line).
state() {
	python3 - "$ROOT/containers/$1/container.json" "$2" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))["State"]
v = st.get(sys.argv[2])
if isinstance(v, dict):
    print("\n".join(v.values()))
else:
    print(v)
PY
}
# monitor_of PID: its parent, the container's monitor.
monitor_of() {
	awk '{ sub(/.*\) /, ""); print $2 }' "/proc/$1/stat"
}
mounts() {
	awk -v p="$ROOT/" 'index($5, p) == 1' /proc/self/mountinfo
}

# rm -f after the monitor was killed: the process, the cgroup, the mount go.
id=$(strata run -d --memory 32m --pids-limit 20 busybox sleep 300)
pid=$(state "$id" Pid)
cgs=$(state "$id" Cgroup)
[ -n "$cgs" ] || fail "no cgroup in the record"
for d in $cgs; do [ -d "$d" ] || fail "cgroup dir '$d' missing while running"; done
[ "$(echo "$cgs" | wc -l)" -ge 2 ] || [ -f "$cgs/cgroup.controllers" ] ||
	fail "one v1 controller dir only: '$cgs'"
mon=$(monitor_of "$pid")
[ "$mon" -gt 1 ] || fail "no monitor for PID $pid"
kill -9 "$mon"
sleep 0.2
kill -0 "$pid" 2>/dev/null || fail "PID 1 died with its monitor"
assert_contains "$(strata ps)" "Up" "PID 1 still runs: Up"
strata rm -f "$id" >/dev/null || fail "rm -f after the monitor was killed"
sleep 0.1
[ ! -d "/proc/$pid" ] || [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat")" = Z ] ||
	fail "PID 1 ($pid) survived rm -f"
for d in $cgs; do [ ! -d "$d" ] || fail "rm -f left cgroup dir '$d'"; done
assert_eq "$(mounts | wc -l)" 0 "rm -f left mounts"
assert_eq "$(strata ps -aq)" "" "rm -f left the container"

# Monitor and PID 1 both killed: Exited, not Up; rm cleans up.
id=$(strata run -d --name both busybox sleep 300)
pid=$(state "$id" Pid)
cgs=$(state "$id" Cgroup)
mon=$(monitor_of "$pid")
kill -9 "$mon" "$pid"
i=0
while [ -d "/proc/$pid" ] && [ "$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || fail "PID 1 did not die"
	sleep 0.05
done
out=$(strata ps -a)
assert_contains "$out" "Exited (137)" "ps -a of a container whose monitor and PID 1 were killed"
assert_not_contains "$out" "Up" "ps -a"
assert_eq "$(strata ps -q)" "" "ps without -a lists a dead container"
assert_eq "$(strata ps -a --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["State"])')" \
	exited "ps --format json State"
strata rm both >/dev/null || fail "rm of the dead container"
for d in $cgs; do [ ! -d "$d" ] || fail "rm left cgroup dir '$d'"; done
assert_eq "$(mounts | wc -l)" 0 "rm left mounts"

# A pid reused by another process: the start time tells them apart.
id=$(strata run -d busybox sleep 300)
pid=$(state "$id" Pid)
mon=$(monitor_of "$pid")
kill -9 "$mon" "$pid"
sleep 0.3
sleep 300 &
other=$!
track_pid $other
python3 - "$ROOT/containers/$id/container.json" "$other" <<'PY'
import json, sys
p = sys.argv[1]
rec = json.load(open(p))
rec["State"]["Pid"] = int(sys.argv[2])
json.dump(rec, open(p + ".tmp", "w"))
PY
mv "$ROOT/containers/$id/container.json.tmp" "$ROOT/containers/$id/container.json"
assert_contains "$(strata ps -a)" "Exited" "a reused pid makes a dead container look alive"
strata rm "$id" >/dev/null || fail "rm of a container whose pid was reused"
kill -0 "$other" || fail "rm killed the process that reused the pid"
kill "$other"
assert_fsck_clean
