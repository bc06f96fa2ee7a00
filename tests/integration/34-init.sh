# --init and what a container sees of strata: PID 1 is `init -- CMD ARGS`
# (podman's is `/run/podman-init -- CMD`), with the container's environment
# only; nothing of strata's command line or environment can be read in
# /proc/*/cmdline, /proc/*/environ or /proc/*/comm from inside, attached,
# with -t, detached, nor from a process of `exec` before it has exec'd.
# The init reaps orphans, passes signals on, and /proc/1/exe is not
# strata's binary.
. "${0%/*}/../lib.sh"
require_root "namespaces"
import_busybox
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'

# Secrets of three kinds: a value given with -e (the container's own, so it
# is in its environment but never in a command line), a name (strata's
# business), and a variable of strata's own environment (never passed on).
env_secret=envsecret$$x$(date +%s%N)
name_secret=namesecret$$x$(date +%s%N)
host_secret=hostsecret$$x$(date +%s%N)
export STRATA_TEST_HOST_SECRET=$host_secret

# Every process's cmdline, comm, then environ, one field a line, as seen from inside.
scan='for p in /proc/[0-9]*; do
	echo "== $p"
	tr "\0" "\n" <$p/cmdline; echo; cat $p/comm
	echo "-- environ"; tr "\0" "\n" <$p/environ 2>/dev/null; echo
done'

# Asserts that scan output $1 ($2: where) holds no secret out of place.
check_scan() {
	cmdlines=$(printf '%s\n' "$1" | awk '/^== /{e=0} /^-- environ/{e=1} !e')
	environs=$(printf '%s\n' "$1" | awk '/^== /{e=0} /^-- environ/{e=1} e')
	for s in "$env_secret" "$name_secret" "$host_secret"; do
		assert_not_contains "$cmdlines" "$s" "$2: a secret in a command line or comm"
	done
	for s in "$name_secret" "$host_secret"; do
		assert_not_contains "$environs" "$s" "$2: a secret in an environment"
	done
	assert_not_contains "$1" "--root" "$2: strata's arguments"
}

# Attached: PID 1 is the init, its child the command.
out=$(strata run --rm --init --name "$name_secret" -e DB_PASSWORD="$env_secret" busybox \
	sh -c "$scan")
check_scan "$out" "run --init"
assert_eq "$(strata run --rm --init busybox cat /proc/1/cmdline | tr '\0' ' ')" \
	"init -- cat /proc/1/cmdline " "PID 1's command line"
assert_eq "$(strata run --rm --init busybox cat /proc/1/comm)" init "PID 1's comm"
env1=$(strata run --rm --init --hostname h -e DB_PASSWORD="$env_secret" busybox sh -c \
	'tr "\0" "\n" </proc/1/environ' | sort | tr '\n' ' ')
assert_eq "$env1" "DB_PASSWORD=$env_secret HOME=/root HOSTNAME=h PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin " \
	"PID 1's environment is the container's"

# With a terminal.
out=$(strata run --rm -t --init --name "$name_secret" -e DB_PASSWORD="$env_secret" busybox \
	sh -c "$scan" | tr -d '\r')
check_scan "$out" "run -t --init"
assert_contains "$out" "init" "PID 1 under -t --init"

# Detached, from the command itself (its log) and from exec -t.
id=$(strata run -d --init --name "$name_secret" -e DB_PASSWORD="$env_secret" busybox \
	sh -c "$scan; sleep 30")
strata exec "$id" true # the detached start is over
check_scan "$(strata logs "$id")" "run -d --init"
check_scan "$(strata exec -t "$id" sh -c "$scan" | tr -d '\r')" "exec -t into run -d --init"
strata rm -f "$id" >/dev/null

# A process of exec is in the container's PID namespace from its fork on:
# a watcher that reads every command line without pause never sees
# strata's (the exec'd `true` carries no secret of its own).
id=$(strata run -d busybox sh -c 'while :; do cat /proc/[0-9]*/cmdline /proc/[0-9]*/comm >>/seen 2>/dev/null; done')
for _ in $(seq 30); do
	strata exec -e EXEC_SECRET="$env_secret" -w / "$id" true
done
seen=$(strata exec "$id" cat /seen | tr '\0' '\n')
[ -n "$seen" ] || fail "the watcher saw nothing"
assert_not_contains "$seen" "$env_secret" "strata exec's command line seen from inside"
assert_not_contains "$seen" "--root" "strata exec's command line seen from inside"
strata rm -f "$id" >/dev/null

# /proc/1/exe under --init is a sealed copy of the init, not strata's
# binary, and cannot be written.
strata run --rm --init busybox sh -c 'cat /proc/1/exe' >"$TEST_TMP/pid1.exe"
[ -s "$TEST_TMP/pid1.exe" ] || fail "/proc/1/exe is empty"
cmp -s "$TEST_TMP/pid1.exe" "$STRATA_BIN" && fail "/proc/1/exe is strata's binary"
expect_fail strata run --rm --init busybox sh -c 'echo x >/proc/1/exe'
assert_contains "$out" "busy" "writing /proc/1/exe"

# The init reaps orphans: a grandchild left behind is not a zombie.
out=$(strata run --rm --init busybox sh -c '(sleep 0.1 &) ; sleep 0.5; ps -o stat,comm | grep -c "^Z" || true')
assert_eq "$out" 0 "zombies under --init"

# Exit codes and errors come through the init.
set +e
strata run --rm --init busybox sh -c 'exit 7'
rc=$?
set -e
assert_eq "$rc" 7 "exit status under --init"
set +e
strata run --rm --init busybox sh -c 'kill -KILL $$'
rc=$?
set -e
assert_eq "$rc" 137 "death by signal under --init"
expect_fail strata run --rm --init busybox /no/such/command
assert_eq "$rc" 127 "missing command under --init"
assert_one_line_error "$out"
assert_contains "$out" "/no/such/command"
# The container's user runs the init too.
assert_eq "$(strata run --rm --init -u 65534 busybox sh -c 'cat /proc/1/status' | awk '/^Uid/{print $2}')" \
	65534 "the init's user"
assert_fsck_clean
