"""Prints an unpacked root filesystem as sorted lines, one per entry:
path, type, all mode bits (setuid, setgid, sticky too), owner, mtime,
content digest, link target or device numbers, user.* xattrs, and the first path of its
hard-link group. Usage: fstree.py ROOTFS [NEW_FROM NEW_TO]: an mtime
within [NEW_FROM, NEW_TO] (the build's own window) prints as "new", so
that two builds made at different times compare equal where both stamped
their own time. Mount points of RUN (/etc/hosts, /etc/resolv.conf,
/etc/hostname, /run/.containerenv, /run/secrets) are listed only when
@STUBS is set in the environment as "keep"."""
import hashlib
import os
import stat
import sys

top = sys.argv[1]
lo = int(sys.argv[2]) if len(sys.argv) > 3 else None
hi = int(sys.argv[3]) if len(sys.argv) > 3 else None
keep_stubs = os.environ.get("STUBS") == "keep"
stubs = {"etc/hosts", "etc/resolv.conf", "etc/hostname", "run/.containerenv", "run/secrets"}
links = {}
out = []
for d, dirs, files in os.walk(top):
    dirs.sort()
    for n in sorted(dirs + files):
        p = os.path.join(d, n)
        rel = os.path.relpath(p, top)
        if rel.split("/")[0] in ("proc", "sys", "dev"):
            continue
        if rel in stubs and not keep_stubs:
            continue
        st = os.lstat(p)
        kind = stat.S_IFMT(st.st_mode)
        extra = "-"
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as f:
                extra = hashlib.sha256(f.read()).hexdigest()[:16]
        elif stat.S_ISLNK(st.st_mode):
            extra = "->" + os.readlink(p)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            extra = f"dev{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
        mt = int(st.st_mtime)
        mts = "new" if lo is not None and lo <= mt <= hi else str(mt)
        xs = []
        try:
            for x in sorted(os.listxattr(p, follow_symlinks=False)):
                if x.startswith("user."):
                    v = os.getxattr(p, x, follow_symlinks=False)
                    xs.append(f"{x}={v.hex()}")
        except OSError:
            pass
        group = "-"
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            group = links.setdefault((st.st_dev, st.st_ino), rel)
        out.append(f"{rel} {kind:o} {stat.S_IMODE(st.st_mode):04o} {st.st_uid}:{st.st_gid} "
                   f"{mts} {extra} x[{','.join(xs)}] l[{group}]")
for line in out:
    print(line)
