#!/usr/bin/env python3
"""cputime.py RUNS [--sys] [--restore SRC DST]... [--setup SHELL-CMD] -- CMD ARGS...

Runs CMD RUNS times (stdout to /dev/null) and prints the least CPU time
(user + system, seconds) one run took: CPU time rather than wall time, and
the least of several, so that other work on a loaded machine does not
count. Before each run, every --restore copies file SRC over DST (a store's
index.json saved before a command that changes it), then --setup runs
(untimed). A failing run ends with its status. With --sys, the least system
time alone (the kernel's work for the command).
"""
import os
import shutil
import subprocess
import sys


def main():
    args = sys.argv[1:]
    runs = int(args.pop(0))
    restores = []
    setup = None
    sys_only = False
    while args[0] in ("--restore", "--setup", "--sys"):
        if args[0] == "--sys":
            sys_only = True
            args = args[1:]
        elif args[0] == "--restore":
            restores.append((args[1], args[2]))
            args = args[3:]
        else:
            setup = args[1]
            args = args[2:]
    if args[0] == "--":
        args = args[1:]
    best = None
    for _ in range(runs):
        for src, dst in restores:
            shutil.copyfile(src, dst)
        if setup:
            subprocess.run(setup, shell=True, check=True, stdout=subprocess.DEVNULL)
        pid = os.fork()
        if pid == 0:
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.execvp(args[0], args)
        _, status, ru = os.wait4(pid, 0)
        if status != 0:
            sys.exit("cputime.py: failed (status %d): %s" % (status, " ".join(args[:4])))
        t = ru.ru_stime if sys_only else ru.ru_utime + ru.ru_stime
        best = t if best is None else min(best, t)
    print("%.4f" % best)


if __name__ == "__main__":
    main()
