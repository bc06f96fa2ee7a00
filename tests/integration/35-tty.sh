# Terminals as runc and crun make them, driven through tmux: under run -it
# and exec -it the process's terminal is /dev/pts/0 of the container's own
# devpts and its controlling terminal, TERM=xterm unless set, the window
# size is the pane's and follows a resize; run -dit (and run -it) leave the
# terminal with the monitor, attach reaches it, ctrl-p ctrl-q (or
# --detach-keys) leaves it running, attach again works and returns the
# exit status.
. "${0%/*}/../lib.sh"
require_root "namespaces"
require_cmd tmux "drives terminals"
import_busybox
on_cleanup 'for c in $(strata ps -aq 2>/dev/null); do strata rm -f "$c" >/dev/null 2>&1; done'

TMUX_SOCK=$TEST_TMP/tmux.sock
on_cleanup 'tmux -S "$TMUX_SOCK" kill-server 2>/dev/null'
S="$STRATA_BIN --root $ROOT"

tm() {
	tmux -S "$TMUX_SOCK" "$@"
}
# A session that stays, so that killing the pane's never ends the server
# (a new session started while it exits fails).
tm new-session -d -s keep "sleep 3600"

# Starts a pane of 100x30 running $1, then 'rc=STATUS' when it ends.
pane_start() {
	tm kill-session -t t 2>/dev/null || true
	tm new-session -d -s t -x 100 -y 30 "$1; echo rc=\$?; sleep 60"
}

# Waits (up to 10 s) until the pane shows text matching the extended regex $1.
pane_wait() {
	for _ in $(seq 100); do
		tm capture-pane -p -t t | grep -Eq "$1" && return 0
		sleep 0.1
	done
	fail "${2:-the pane} never showed '$1': $(tm capture-pane -p -t t)"
}

# The last line of the pane that matches $1.
pane_line() {
	tm capture-pane -p -t t | grep -E "$1" | tail -n 1
}

# run -it: the terminal, TERM, the size and a resize, the status.
pane_start "$S run -it --rm busybox sh"
pane_wait '^/ #' "run -it's prompt"
tm send-keys -t t 'echo "T=$(tty) TERM=$TERM S=$(stty size) C=$(cut -d" " -f7 /proc/1/stat)"' Enter
pane_wait '^T=/'
line=$(pane_line '^T=/')
assert_contains "$line" "T=/dev/pts/0 TERM=xterm S=30 100" "run -it"
case "$line" in *" C=0") fail "no controlling terminal: $line" ;; esac
tm resize-window -t t -x 80 -y 20
tm send-keys -t t 'echo "R=$(stty size)"' Enter
pane_wait '^R=20 80' "the size after a resize"
tm send-keys -t t 'exit 4' Enter
pane_wait 'rc=4$' "run -it's exit status"
assert_eq "$(strata ps -aq)" "" "run -it --rm left its container"

# run -it detaches as podman's does: the monitor holds the terminal, the
# container goes on, attach reaches it.
pane_start "$S run -it --name rit busybox sh"
pane_wait '^/ #' "run -it's prompt"
tm send-keys -t t 'echo first' Enter
pane_wait '^first'
tm send-keys -t t C-p C-q
pane_wait 'rc=0$' "detach from run -it"
assert_contains "$(strata ps)" "rit" "the container after run -it detached"
pane_start "$S attach rit"
tm send-keys -t t 'echo back; exit 5' Enter
pane_wait 'rc=5$' "attach after run -it"
strata rm rit >/dev/null
pane_start "$S run -it --rm --detach-keys ctrl-x,x busybox sh"
pane_wait '^/ #' "run -it --detach-keys"
tm send-keys -t t C-x x
pane_wait 'rc=0$' "detach with run --detach-keys"
assert_eq "$(strata ps -q | wc -l)" 1 "the container after run --detach-keys"
strata rm -f "$(strata ps -q)" >/dev/null
assert_eq "$(strata ps -aq)" "" "rm -f of a detached run -it --rm"

# TERM given is kept; -t alone (stdin not a terminal) still gets /dev/pts/0.
assert_eq "$(strata run --rm -t -e TERM=vt100 busybox sh -c 'echo $TERM' | tr -d '\r')" vt100 "-e TERM"
assert_eq "$(strata run --rm -t busybox tty | tr -d '\r')" /dev/pts/0 "run -t"

# exec -it into a container without a terminal.
id=$(strata run -d busybox sleep 60)
pane_start "$S exec -it $id sh"
pane_wait '^/ #' "exec -it's prompt"
tm send-keys -t t 'echo "T=$(tty) TERM=$TERM S=$(stty size)"' Enter
pane_wait '^T=/'
assert_contains "$(pane_line '^T=/')" "T=/dev/pts/0 TERM=xterm S=30 100" "exec -it"
tm send-keys -t t 'exit 6' Enter
pane_wait 'rc=6$' "exec -it's exit status"
strata rm -f "$id" >/dev/null

# run -dit: detached, the monitor holds the terminal; attach reaches it.
id=$(strata run -dit busybox sh)
assert_contains "$(strata ps)" "${id%"${id#????????????}"}" "run -dit is running"
pane_start "$S attach $id"
tm send-keys -t t 'echo "T=$(tty) S=$(stty size)"' Enter
pane_wait '^T=/'
assert_contains "$(pane_line '^T=/')" "T=/dev/pts/0 S=30 100" "attach"
tm resize-window -t t -x 90 -y 25
tm send-keys -t t 'echo "R=$(stty size)"' Enter
pane_wait '^R=25 90' "the size after a resize while attached"
# ctrl-p ctrl-q: attach ends with 0, the container goes on.
tm send-keys -t t C-p C-q
pane_wait 'rc=0$' "detach"
assert_contains "$(strata ps)" "Up" "the container after a detach"
# ctrl-p then another key is typed through.
pane_start "$S attach $id"
tm send-keys -t t 'cat -v' Enter
sleep 0.3
tm send-keys -t t C-p Y Enter
pane_wait '^\^PY' "ctrl-p followed by another key"
tm send-keys -t t C-d
tm send-keys -t t C-p C-q
pane_wait 'rc=0$' "second detach"
# Other keys with --detach-keys.
pane_start "$S attach --detach-keys ctrl-a,d $id"
tm send-keys -t t 'echo third' Enter
pane_wait '^third' "a third attach"
tm send-keys -t t C-a d
pane_wait 'rc=0$' "detach with --detach-keys"
assert_contains "$(strata ps)" "Up" "the container after --detach-keys"
# Its output went to the log too.
assert_contains "$(strata logs "$id")" "third" "the log of a -dit container"
# Attach again; the exit status comes back through attach.
pane_start "$S attach $id"
tm send-keys -t t 'echo again; exit 7' Enter
pane_wait 'rc=7$' "attach's exit status"
assert_contains "$(strata ps -a)" "Exited (7)" "the status after attach"
strata rm "$id" >/dev/null

# stop while attached: attach returns the container's status.
id=$(strata run -dit busybox sh)
pane_start "$S attach $id"
tm send-keys -t t 'echo ready' Enter
pane_wait '^ready'
strata rm -f "$id" >/dev/null
pane_wait 'rc=137$' "attach when the container is killed"

# Bad input: one line, 125.
expect_fail strata attach --detach-keys ctrl-1 nosuch
assert_eq "$rc" 125 "bad detach keys"
assert_one_line_error "$out"
expect_fail strata run -it --detach-keys ctrl-1 busybox true
assert_eq "$rc" 125 "bad detach keys of run"
assert_one_line_error "$out"
# A missing command under run -it (and -d): 127, one line, nothing left with --rm.
expect_fail strata run -it --rm busybox /no/such/command
assert_eq "$rc" 127 "a missing command under run -it"
assert_one_line_error "$out"
expect_fail strata run -dit --rm busybox /no/such/command
assert_eq "$rc" 127 "a missing command under run -dit"
assert_one_line_error "$out"
assert_eq "$(strata ps -aq)" "" "containers left by failed starts"
id=$(strata run -d busybox sleep 60)
expect_fail strata attach "$id"
assert_eq "$rc" 125 "attach without a terminal"
assert_one_line_error "$out"
assert_contains "$out" "no terminal"
strata rm -f "$id" >/dev/null
id=$(strata create -t busybox sh)
expect_fail strata attach "$id"
assert_one_line_error "$out"
assert_contains "$out" "not running"
strata rm "$id" >/dev/null
assert_fsck_clean
