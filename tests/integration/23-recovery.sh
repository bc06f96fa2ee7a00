# Crashes and lost mounts: counts that the mount table contradicts (a kill -9
# between mount and record, a reboot) are noticed and corrected by ps, mount,
# umount and rm; busy mounts; a kill -9 in the middle of create and commit.
. "${0%/*}/../lib.sh"
require_root "mounts overlayfs"
import_busybox
mounts() { awk -v p="$ROOT/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo; }
count_of() {
	python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("MountCount", 0))' \
		"$ROOT/containers/$1/container.json"
}
set_count() { # ID N: what a crash could leave in the record
	python3 -c '
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["MountCount"] = int(sys.argv[2])
json.dump(d, open(p, "w"))' "$ROOT/containers/$1/container.json" "$2"
}

# Lost mounts (a reboot): the record says 3 users, nothing is mounted.
id=$(strata create busybox)
m=$(strata mount "$id")
strata mount "$id" >/dev/null
strata mount "$id" >/dev/null
assert_eq "$(count_of "$id")" 3
umount "$m"
strata ps -a --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[0]["Mounted"] is False, d' || fail "ps thinks a lost mount is mounted"
assert_eq "$(count_of "$id")" 0 "ps did not correct the count"
set_count "$id" 3
m=$(strata mount "$id")
assert_exists "$m/bin/busybox"
assert_eq "$(count_of "$id")" 1 "mount after a lost mount counts from zero"
strata umount "$id"
assert_eq "$(mounts | wc -l)" 0 "one umount after recovery must unmount"

# A kill -9 after mounting but before saving the count: mounted, count 0.
m=$(strata mount "$id")
set_count "$id" 0
strata umount "$id"
assert_eq "$(mounts | wc -l)" 0 "umount of an uncounted mount"
m=$(strata mount "$id")
set_count "$id" 0
strata rm "$id" >/dev/null
assert_eq "$(mounts | wc -l)" 0 "rm of an uncounted mount"

# The same after a umount behind our back, for umount and rm.
id=$(strata create busybox)
m=$(strata mount "$id")
umount "$m"
strata umount "$id"
assert_eq "$(count_of "$id")" 0
m=$(strata mount "$id")
umount "$m"
strata rm "$id" >/dev/null

# Busy: rm refuses with one line and leaves everything; -f detaches it.
id=$(strata create busybox)
m=$(strata mount "$id")
(cd "$m" && exec sleep 300) &
track_pid $!
sleep 0.2
expect_fail strata rm "$id"
assert_one_line_error "$out"
assert_contains "$out" "busy"
assert_eq "$(mounts | wc -l)" 1 "a refused rm unmounted"
assert_exists "$ROOT/containers/$id/container.json"
strata rm -f "$id" >/dev/null
assert_eq "$(mounts | wc -l)" 0 "rm -f left a mount"
assert_not_exists "$ROOT/containers/$id"

# A record the launcher marked running, with a live process: rm needs -f.
id=$(strata create busybox)
sleep 300 &
pid=$!
track_pid $pid
python3 -c '
import json, sys
p = sys.argv[1]
d = json.load(open(p))
d["State"] = {"Status": "running", "Pid": int(sys.argv[2])}
json.dump(d, open(p, "w"))' "$ROOT/containers/$id/container.json" "$pid"
expect_fail strata rm "$id"
assert_contains "$out" "is running"
# Running without a cgroup (not started by strata): commit cannot freeze it.
expect_fail strata commit "$id" x:1
assert_contains "$out" "--pause=false"
kill -9 $pid
wait $pid 2>/dev/null || true
strata commit "$id" x:1 >/dev/null
strata rm "$id" >/dev/null

# kill -9 in the middle of a vfs create (a copy) and of a commit: the store
# stays consistent and what is left can be removed.
big=$TEST_TMP/big
mkdir -p "$big/files"
for i in $(seq 1 200); do head -c 200000 /dev/urandom >"$big/files/f$i"; done
tar -C "$big" -cf "$TEST_TMP/big.tar" .
strata import --compression zstd "$TEST_TMP/big.tar" big >/dev/null
for attempt in 1 2 3; do
	"$STRATA_BIN" --root "$ROOT" --backend vfs create big >/dev/null 2>&1 &
	p=$!
	sleep 0.0$attempt
	kill -9 $p 2>/dev/null || true
	wait $p 2>/dev/null || true
done
strata ps -a -q >/dev/null
id=$(strata create big)
m=$(strata mount "$id")
cp -r "$big/files" "$m/copy"
strata umount "$id"
"$STRATA_BIN" --root "$ROOT" commit "$id" killed:1 >/dev/null 2>&1 &
p=$!
sleep 0.05
kill -9 $p 2>/dev/null || true
wait $p 2>/dev/null || true
assert_fsck_clean
for c in $(strata ps -a -q); do strata rm "$c" >/dev/null; done
assert_eq "$(mounts | wc -l)" 0 "mounts left"
assert_eq "$(ls -A "$ROOT/containers")" "" "container dirs left"
strata gc >/dev/null
assert_eq "$(ls -A "$ROOT/tmp")" "" "staging left after gc"
assert_fsck_clean
