#!/usr/bin/env python3
"""mkimage.py ROOT NAME N: adds an image of N synthetic layers to the store
at ROOT, tagged NAME:latest. Layer i holds /layer-i and /top (saying i);
layer 0 also holds /bottom. Plain tar layers, fixed mtimes: the same
digests every run. MKIMAGE_ARCH sets the config's architecture (amd64)."""
import hashlib, io, json, os, sys, tarfile

root, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
blobs = os.path.join(root, "blobs", "sha256")


def put(data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(blobs, d)
    if not os.path.exists(p):
        with open(p + ".tmp", "wb") as f:
            f.write(data)
        os.rename(p + ".tmp", p)
    return "sha256:" + d, len(data)


def layer(i):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as t:
        def add(path, data):
            ti = tarfile.TarInfo(path)
            ti.size, ti.mtime, ti.mode = len(data), 946684800, 0o644
            t.addfile(ti, io.BytesIO(data))
        if i == 0:
            add("bottom", b"bottom\n")
        add("layer-%d" % i, b"%d\n" % i)
        add("top", b"%d\n" % i)
    return buf.getvalue()


layers, diffs, hist = [], [], []
for i in range(n):
    dg, size = put(layer(i))
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": dg, "size": size})
    diffs.append(dg)
    hist.append({"created": "2000-01-01T00:00:00Z", "created_by": "layer %d" % i})
config = {"created": "2000-01-01T00:00:00Z", "architecture": os.environ.get("MKIMAGE_ARCH", "amd64"), "os": "linux",
          "config": {"Cmd": ["/bin/sh"]}, "rootfs": {"type": "layers", "diff_ids": diffs},
          "history": hist}
cdg, csize = put(json.dumps(config, separators=(",", ":")).encode())
manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cdg,
                       "size": csize}, "layers": layers}
mdg, msize = put(json.dumps(manifest, separators=(",", ":")).encode())
ipath = os.path.join(root, "index.json")
index = json.load(open(ipath))
index["manifests"] = [m for m in index["manifests"]
                      if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != name + ":latest"]
index["manifests"].append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdg,
                           "size": msize,
                           "annotations": {"org.opencontainers.image.ref.name": name + ":latest"}})
with open(ipath + ".tmp", "w") as f:
    json.dump(index, f)
os.rename(ipath + ".tmp", ipath)
print(cdg[7:])
