"""The busybox rootfs tar plus files that an id-mapped copy must keep:
owners other than root (/etc/shadow 0:42, a dir of 1000:1000, a symlink of
0:42), a setuid binary, a file with a capability, hard links, a fifo, and
with --device a character device (root only: a rootless unpack skips it).
Usage: mkidimage.py BUSYBOX_TAR OUT_TAR [--device]"""
import io
import struct
import sys
import tarfile

# security.capability v2: CAP_NET_RAW (13) permitted and effective
CAP = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


def info(name, kind=tarfile.REGTYPE, uid=0, gid=0, mode=0o644, size=0):
    i = tarfile.TarInfo(name)
    i.type, i.uid, i.gid, i.mode, i.mtime, i.size = kind, uid, gid, mode, 946684800, size
    return i


with tarfile.open(sys.argv[1]) as src, \
        tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as t:
    for m in src.getmembers():
        t.addfile(m, src.extractfile(m) if m.isfile() else None)
    t.addfile(info("etc/shadow", uid=0, gid=42, mode=0o640, size=6), io.BytesIO(b"root::\n"))
    t.addfile(info("home/app", tarfile.DIRTYPE, 1000, 1000, 0o750))
    t.addfile(info("home/app/notes", uid=1000, gid=1000, size=3), io.BytesIO(b"hi\n"))
    t.addfile(info("usr/bin/suid", uid=0, gid=0, mode=0o4755, size=4), io.BytesIO(b"suid"))
    i = info("usr/bin/ping", uid=0, gid=0, mode=0o755, size=4)
    i.pax_headers = {"SCHILY.xattr.security.capability": CAP.decode("latin-1")}
    t.addfile(i, io.BytesIO(b"ping"))
    t.addfile(info("usr/bin/one", uid=8, gid=8, mode=0o755, size=4), io.BytesIO(b"link"))
    h = info("usr/bin/two", tarfile.LNKTYPE, 8, 8, 0o755)
    h.linkname = "usr/bin/one"
    t.addfile(h)
    t.addfile(info("run/fifo", tarfile.FIFOTYPE, 0, 42, 0o620))
    if "--device" in sys.argv[3:]:
        d = info("usr/share/cnode", tarfile.CHRTYPE, 0, 42, 0o660)
        d.devmajor, d.devminor = 1, 3
        t.addfile(d)
    s = info("etc/shadow.link", tarfile.SYMTYPE, 0, 42, 0o777)
    s.linkname = "shadow"
    t.addfile(s)
