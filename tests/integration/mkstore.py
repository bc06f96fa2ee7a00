#!/usr/bin/env python3
"""Fills a strata store with many names or many images, fast.

    mkstore.py ROOT names N     N names (scale/one:tK) of one image
    mkstore.py ROOT images N    N distinct images (one config each) sharing one layer
    mkstore.py ROOT containers N  N containers (c0 ... cN-1), copies of the one named "proto"

The store must already hold the layer blob written by `strata import`
(the image named "scale/base:latest"); its layer is reused so every image
is complete and `fsck` finds it consistent. index.json is written once.
"""
import hashlib
import json
import os
import sys


def put_blob(root, data):
    dg = hashlib.sha256(data).hexdigest()
    path = os.path.join(root, "blobs", "sha256", dg)
    if not os.path.exists(path):
        tmp = path + ".part"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    return "sha256:" + dg, len(data)


def containers(root, n):
    """Copies of the container named "proto", records only (as a store made before the name index)."""
    cdir = os.path.join(root, "containers")
    proto = None
    for d in os.listdir(cdir):
        rec = os.path.join(cdir, d, "container.json")
        if len(d) == 64 and os.path.exists(rec):
            with open(rec) as f:
                r = json.load(f)
            if r.get("Name") == "proto":
                proto = (d, r)
    if not proto:
        sys.exit("mkstore.py: no container named 'proto'")
    for i in range(n):
        cid = os.urandom(32).hex()
        d = os.path.join(cdir, cid)
        os.mkdir(d, 0o700)
        for sub in ("upper", "work", "merged"):
            os.mkdir(os.path.join(d, sub))
        r = dict(proto[1], Id=cid, Name="c%d" % i)
        with open(os.path.join(d, "container.json"), "w") as f:
            json.dump(r, f)


def main():
    root, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "containers":
        containers(root, n)
        return
    with open(os.path.join(root, "index.json")) as f:
        index = json.load(f)
    base = next(e for e in index["manifests"]
                if e.get("annotations", {}).get("org.opencontainers.image.ref.name") == "scale/base:latest")
    entries = []
    if mode == "names":
        for i in range(n):
            entries.append({"mediaType": base["mediaType"], "digest": base["digest"],
                            "size": base["size"],
                            "annotations": {"org.opencontainers.image.ref.name": "scale/one:t%d" % i}})
    elif mode == "images":
        with open(os.path.join(root, "blobs", "sha256", base["digest"][7:]), "rb") as f:
            man = json.load(f)
        with open(os.path.join(root, "blobs", "sha256", man["config"]["digest"][7:]), "rb") as f:
            cfg = json.load(f)
        for i in range(n):
            cfg.setdefault("config", {})["Labels"] = {"n": str(i)}
            cd, cs = put_blob(root, json.dumps(cfg, sort_keys=True).encode())
            man["config"] = {"mediaType": man["config"]["mediaType"], "digest": cd, "size": cs}
            md, ms = put_blob(root, json.dumps(man, sort_keys=True).encode())
            entries.append({"mediaType": base["mediaType"], "digest": md, "size": ms,
                            "annotations": {"org.opencontainers.image.ref.name": "scale/img%d:latest" % i}})
    else:
        sys.exit("mkstore.py: unknown mode '%s'" % mode)
    index["manifests"] = [base] + entries
    tmp = os.path.join(root, "index.json.part")
    with open(tmp, "w") as f:
        json.dump(index, f)
    os.rename(tmp, os.path.join(root, "index.json"))


if __name__ == "__main__":
    main()
