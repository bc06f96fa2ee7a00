#!/bin/sh
# Crash trials: tests/crash/crash-trials.sh [N] runs N trials (default 200).
# Each trial starts one store operation (import gzip and zstd, commit of a
# 50 MB change, gc, rmi, load, build with RUN steps, run -d, and pull and
# push when skopeo and docker-registry are here), kills it with SIGKILL at a
# random point of its run, then checks what the store promises:
#   - fsck exits 0 at once, before anything else touches the store;
#   - after the store's own recovery (ps -a corrects records; rm -f and
#     umount take away what the killed operation left), no mount under the
#     store and no cgroup of any of its containers is left;
#   - images and ps -a tell the truth: every tag exports, every container
#     listed has its record, none is "Up" without a live process;
#   - running the operation again succeeds with the right result (an
#     export equal to the same operation's on a clean store);
#   - gc then fsck are clean.
# The operations are taken in turn, so every one is tried N/ops times.
# Delays are drawn from 0 to the time the operation took whole, in its
# first trial (which is not killed).
# Exit status: 0 when every trial held, 1 otherwise (each failure is named).
# Needs root (mounts, namespaces, cgroups). CRASH_SEED fixes the draws;
# CRASH_OPS="import_gz gc ..." picks operations; CRASH_VERBOSE=1 says each.
. "${0%/*}/../lib.sh"
require_root "runs containers and mounts overlays"
N=${1:-200}
SEED=${CRASH_SEED:-$$}
REF=$TEST_TMP/ref
# In a trial's background subshell (CRASH_EXEC=1) s execs strata, so that
# the pid the trial kills is strata's own and not a shell that would leave
# it running on.
s() {
	[ "${CRASH_EXEC:-}" = 1 ] && exec "$STRATA_BIN" --root "$ROOT" "$@"
	"$STRATA_BIN" --root "$ROOT" "$@"
}
r() { "$STRATA_BIN" --root "$REF" "$@"; }
say() { printf '%s\n' "$*" >&2; }

# ---- fixtures, and each operation's result on a clean store ----

src=$TEST_TMP/src
mkdir -p "$src/data"
tar -C "$src" -xf "$(busybox_tar)"
python3 - "$src/data" <<'EOF'
import os, sys
for d in range(5):
    p = os.path.join(sys.argv[1], "d%d" % d)
    os.mkdir(p)
    for f in range(50):
        with open(os.path.join(p, "f%02d" % f), "w") as fh:
            fh.write("%d/%d\n" % (d, f) * (f + 1))
EOF
tar -C "$src" -cf "$TEST_TMP/src.tar" .
gzip -c "$TEST_TMP/src.tar" >"$TEST_TMP/src.tar.gz"
zstd -q -c "$TEST_TMP/src.tar" >"$TEST_TMP/src.tar.zst"
dd if=/dev/zero of="$TEST_TMP/big" bs=1M count=50 2>/dev/null
echo change >>"$TEST_TMP/big"
ctx=$TEST_TMP/ctx
mkdir -p "$ctx"
cat >"$ctx/Containerfile" <<'EOF'
FROM busybox
RUN echo one >/one && sleep 0.2
RUN echo two >/two && cat /one >>/two
EOF

# A digest of a tree: names, types, modes, owners, sizes, link targets, content.
tree_sum() {
	(cd "$1" && {
		find . -mindepth 1 -printf '%p %y %m %U %G %s %l\n' | LC_ALL=C sort
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
	}) | sha256sum | cut -d' ' -f1
}
# The digest of an image's exported rootfs in store $1.
export_sum() {
	d=$TEST_TMP/x.$$
	rm -rf "$d"
	mkdir -p "$d"
	"$STRATA_BIN" --root "$1" export "$2" | tar -C "$d" -xf - || {
		rm -rf "$d"
		echo "export of '$2' failed"
		return 0
	}
	tree_sum "$d"
	rm -rf "$d"
}

s import "$(busybox_tar)" busybox >/dev/null
s save -o "$TEST_TMP/saved.tar" busybox
mkdir -p "$TEST_TMP/bb"
tar -C "$TEST_TMP/bb" -xf "$(busybox_tar)"
SUM_SRC=$(tree_sum "$src")
SUM_BUSYBOX=$(tree_sum "$TEST_TMP/bb")

HAVE_REG=0
if command -v skopeo >/dev/null && command -v docker-registry >/dev/null && command -v curl >/dev/null; then
	. "$TOP/tests/integration/registry.inc"
	start_registry crash
	r import "$TEST_TMP/src.tar" src >/dev/null
	skopeo copy -q --dest-tls-verify=false "oci:$REF:src:latest" "docker://$REG/src:latest" ||
		fail "skopeo copy into the registry"
	HAVE_REG=1
fi

OPS="import_gz import_zstd commit gc rmi load build run_d"
[ $HAVE_REG = 1 ] && OPS="$OPS pull push"
# CRASH_OPS picks some of them.
OPS=${CRASH_OPS:-$OPS}

# Per operation: prep (before the kill, on $ROOT), cmd (killed), redo (the
# same again, must succeed), check (its result). $i is the trial number.
prep_import_gz() { s rmi -f imp >/dev/null 2>&1 || true; }
cmd_import_gz() { s import "$TEST_TMP/src.tar.gz" imp; }
check_import_gz() { assert_eq "$(export_sum "$ROOT" imp)" "$SUM_SRC" "export of imp"; }

prep_import_zstd() { s rmi -f impz >/dev/null 2>&1 || true; }
cmd_import_zstd() { s import --compression zstd "$TEST_TMP/src.tar.zst" impz; }
check_import_zstd() { assert_eq "$(export_sum "$ROOT" impz)" "$SUM_SRC" "export of impz"; }

prep_commit() {
	s rm -f cm >/dev/null 2>&1 || true
	s create --name cm busybox >/dev/null
	m=$(s mount cm)
	cp "$TEST_TMP/big" "$m/big"
	s umount cm >/dev/null
}
cmd_commit() { s commit cm committed; }
check_commit() {
	assert_eq "$(s run --rm committed sh -c 'wc -c </big; tail -c 7 /big')" "52428807
change" "the committed file"
	s rm -f cm >/dev/null
}

prep_gc() {
	s import "$TEST_TMP/src.tar" gcimg >/dev/null
	s mount gcimg >/dev/null
	s umount gcimg >/dev/null
	s rmi gcimg >/dev/null
}
cmd_gc() { s gc; }
redo_gc() {
	s gc >/dev/null && s import "$TEST_TMP/src.tar" gcimg >/dev/null &&
		s run --rm gcimg cat /data/d4/f49 >/dev/null
}
check_gc() {
	assert_eq "$(export_sum "$ROOT" gcimg)" "$SUM_SRC" "export after a killed gc"
	s rmi gcimg >/dev/null
}

prep_rmi() { s import "$TEST_TMP/src.tar" rmimg >/dev/null && s tag rmimg rmimg:other; }
cmd_rmi() { s rmi rmimg rmimg:other; }
redo_rmi() {
	# Whatever the killed rmi did, the names go now; an absent one is its own error.
	for t in rmimg rmimg:other; do
		o=$(s rmi "$t" 2>&1) || case $o in *"no such image"* | *"not found"*) ;; *) echo "$o" >&2 && return 1 ;; esac
	done
}
check_rmi() { assert_not_contains "$(s images)" "rmimg" "names after rmi"; }

prep_load() { s rmi -f busybox >/dev/null 2>&1 || true; }
cmd_load() { s load -q -i "$TEST_TMP/saved.tar"; }
check_load() { assert_eq "$(export_sum "$ROOT" busybox)" "$SUM_BUSYBOX" "export of the loaded image"; }

prep_build() { s rmi -f built >/dev/null 2>&1 || true; }
cmd_build() { s build -q --no-cache -t built "$ctx"; }
redo_build() { s build -q -t built "$ctx" >/dev/null; }
check_build() { assert_eq "$(s run --rm built cat /two)" "two
one" "the built image"; }

prep_run_d() { s rm -f "rd$i" >/dev/null 2>&1 || true; }
cmd_run_d() { s run -d --name "rd$i" busybox sleep 60; }
redo_run_d() {
	s rm -f "rd$i" >/dev/null 2>&1 || true
	s run -d --name "rd$i" busybox sleep 60 >/dev/null
}
check_run_d() {
	s ps --format json | python3 -c '
import json, sys
d = [c for c in json.load(sys.stdin) if sys.argv[1] in c["Names"]]
assert d and d[0]["State"] == "running", d' "rd$i" || fail "rd$i is not running after run -d"
	s rm -f "rd$i" >/dev/null
}

prep_pull() { s rmi -f "$REG/src" >/dev/null 2>&1 || true; }
cmd_pull() { s pull -q --tls-verify=false "$REG/src:latest"; }
check_pull() { assert_eq "$(export_sum "$ROOT" "$REG/src")" "$SUM_SRC" "export of the pulled image"; }

prep_push() { s import "$TEST_TMP/src.tar.gz" imp >/dev/null; }
cmd_push() { s push -q --tls-verify=false imp "$REG/pushed:t$i"; }
check_push() {
	# The pushed image, pulled back into the reference store, is the source.
	r pull -q --tls-verify=false "$REG/pushed:t$i" >/dev/null || fail "pull back what was pushed"
	assert_eq "$(export_sum "$REF" "$REG/pushed:t$i")" "$SUM_SRC" "export of the pushed image"
	r rmi "$REG/pushed:t$i" >/dev/null
}

redo() {
	if command -v "redo_$1" >/dev/null 2>&1; then "redo_$1"; else "cmd_$1" >/dev/null; fi
}

# ---- the trials ----

# Containers of the store, and the cgroups of those IDs.
all_ids() { s ps -a -q --no-trunc 2>/dev/null || true; }
cgroups_of() {
	for id in "$@"; do
		find /sys/fs/cgroup -maxdepth 7 -type d -path '*strata/*' -name "$id*" 2>/dev/null
	done
}
mounts() { awk -v p="$ROOT/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo; }

# The store's own recovery after a kill: ps -a corrects records, rm -f and
# umount take away containers and image mounts the operation left.
recover() {
	ids=$(all_ids)
	keep=""
	# The input of a commit is kept: the commit is run again from it.
	[ "$1" = commit ] && keep=$(s ps -a --format json | python3 -c '
import json, sys
print(" ".join(c["Id"] for c in json.load(sys.stdin) if "cm" in c["Names"]))')
	for id in $ids; do
		[ "$id" = "$keep" ] || s rm -f "$id" >/dev/null 2>&1 || true
	done
	for d in "$ROOT"/layers/*/mnt/*/; do
		[ -d "$d" ] || continue
		s umount -f "sha256:$(basename "$d")" >/dev/null 2>&1 || true
	done
	SEEN_IDS="$SEEN_IDS $ids"
}

# One trial; a failure ends its subshell with a message, the loop goes on.
trial() {
	op=$1
	"prep_$op" >/dev/null 2>&1 || fail "prepare $op"
	if [ ! -f "$TEST_TMP/dur-$op" ]; then
		# The first trial of each operation runs it whole, to learn how long it takes.
		t0=$(date +%s%N)
		o=$("cmd_$op" 2>&1 >/dev/null) || fail "$op on a clean store: $o"
		echo $((($(date +%s%N) - t0) / 1000000)) >"$TEST_TMP/dur-$op"
		was="ran whole"
		delay=0
	else
		delay=$(awk -v s="$SEED" -v i="$i" -v d="$(cat "$TEST_TMP/dur-$op")" \
			'BEGIN { srand(s + i * 7919); printf "%.3f", rand() * d / 1000 }')
		(
			CRASH_EXEC=1
			"cmd_$op"
		) >/dev/null 2>&1 &
		pid=$!
		sleep "$delay"
		kill -9 $pid 2>/dev/null && was=killed || was=finished
		wait $pid 2>/dev/null || true
	fi
	o=$(s fsck 2>&1) || fail "fsck after $op ($was after ${delay}s): $o"
	# The truth of images and ps -a: every tag exports, every container has its record.
	s images --format json | python3 -c '
import json, sys
for i in json.load(sys.stdin):
    for n in i.get("Names") or i.get("RepoTags") or []:
        print(n)' >"$TEST_TMP/tags" || fail "images after $op"
	# (fsck checked that each tag's manifest, config and layers are whole.)
	if [ -s "$TEST_TMP/tags" ]; then
		s inspect $(cat "$TEST_TMP/tags") >/dev/null || fail "a tag does not load after $op ($was)"
	fi
	s ps -a --format json | python3 -c '
import json, os, sys
root = sys.argv[1]
for c in json.load(sys.stdin):
    assert os.path.exists(os.path.join(root, "containers", c["Id"], "container.json")), c
    if c["State"] == "running":
        pid = json.load(open(os.path.join(root, "containers", c["Id"], "container.json")))["State"]["Pid"]
        os.kill(pid, 0)' "$ROOT" || fail "ps -a after $op ($was) does not tell the truth"
	recover "$op"
	[ -z "$(mounts)" ] || fail "mounts left after $op ($was) and recovery: $(mounts)"
	cg=$(cgroups_of $SEEN_IDS)
	[ -z "$cg" ] || fail "cgroups left after $op ($was) and recovery: $cg"
	redo "$op" || fail "$op again after a kill ($was after ${delay}s)"
	"check_$op"
	recover none
	s gc >/dev/null || fail "gc after $op"
	o=$(s fsck 2>&1) || fail "fsck after $op, its re-run and gc: $o"
	echo "$op $was after ${delay}s: ok"
}

SEEN_IDS=""
failed=0
killed=0
i=0
set -- $OPS
nops=$#
t_start=$(date +%s)
while [ $i -lt "$N" ]; do
	k=$((i % nops + 1))
	eval "op=\${$k}"
	if ! (trial "$op") >"$TEST_TMP/trial.log" 2>&1; then
		failed=$((failed + 1))
		say "trial $i: $(tail -3 "$TEST_TMP/trial.log")"
		# A broken store would fail every later trial: start a new one.
		for id in $(all_ids); do s rm -f "$id" >/dev/null 2>&1 || true; done
		_unmount_under "$ROOT/"
		rm -rf "$ROOT"
		s import "$(busybox_tar)" busybox >/dev/null
	else
		case $(tail -1 "$TEST_TMP/trial.log") in *" killed "*) killed=$((killed + 1)) ;; esac
		[ "${CRASH_VERBOSE:-0}" = 1 ] && say "trial $i: $(tail -1 "$TEST_TMP/trial.log")"
	fi
	i=$((i + 1))
done
say "crash trials: $N trials of $nops operations ($OPS): $killed killed while running, $failed failed; seed $SEED, $(($(date +%s) - t_start)) s"
[ $failed = 0 ]
