#!/usr/bin/env python3
"""Test inputs for the builder, made with Python's tarfile (no code of ours involved).

  make_archives.py docker DIR     docker save archives of one layered image, in the classic form
                                  (DIR/classic.tar), Docker 25's OCI form (DIR/oci.tar) and a
                                  bare OCI layout (DIR/oci-only.tar); DIR/expected.json is the
                                  merged tree written out by hand from the layer list below
  make_archives.py rootfs DIR     rootfs images for `image archive` and `image compare`
  make_archives.py big FILE MiB   a docker save archive with one MiB-sized file (memory checks)
"""
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

MTIME = 1700000000
LONG_DIR = "usr/share/" + "/".join(["deeply-nested-directory-%02d" % i for i in range(6)])
LONG_FILE = LONG_DIR + "/a-file-name-that-is-long-enough-to-need-pax-" + "x" * 40 + ".txt"
LONG_TARGET = "../" * 3 + "target-" + "y" * 120
CAP = "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"


def d(name, mode=0o755, uid=0, gid=0, mtime=MTIME):
    return dict(name=name, type=tarfile.DIRTYPE, mode=mode, uid=uid, gid=gid, mtime=mtime)


def f(name, data, mode=0o644, uid=0, gid=0, mtime=MTIME, xattrs=None):
    return dict(name=name, type=tarfile.REGTYPE, data=data.encode() if isinstance(data, str) else data,
                mode=mode, uid=uid, gid=gid, mtime=mtime, xattrs=xattrs or {})


def sym(name, target, uid=0, gid=0):
    return dict(name=name, type=tarfile.SYMTYPE, linkname=target, mode=0o777, uid=uid, gid=gid, mtime=MTIME)


def hard(name, target):
    return dict(name=name, type=tarfile.LNKTYPE, linkname=target, mode=0o644, uid=0, gid=0, mtime=MTIME)


def dev(name, kind, major, minor, mode=0o666):
    return dict(name=name, type=kind, devmajor=major, devminor=minor, mode=mode, uid=0, gid=0, mtime=MTIME)


def wh(name):
    return f(name, "", mode=0o600)


LAYERS = [
    [  # 1: the base
        d("etc"), f("etc/hostname", "base\n"), f("etc/remove-me", "gone soon\n"), f("etc/again", "first\n"),
        f("etc/motd", "old motd\n"), d("usr"), d("usr/bin"),
        f("usr/bin/tool", "#!/bin/sh\necho v1\n", mode=0o755),
        f("usr/bin/su", "setuid\n", mode=0o4755),
        f("usr/bin/ping", "ping\n", mode=0o755, xattrs={"security.capability": CAP, "user.note": "hello"}),
        sym("usr/bin/sh-link", "tool"), sym("etc/localtime", "/usr/share/zoneinfo/UTC"),
        d("opt"), d("opt/data"), f("opt/data/a", "a\n"), f("opt/data/b", "b\n"), d("opt/data/sub"),
        f("opt/data/sub/deep", "deep\n"),
        d("lib"), f("lib/libx.so.1", "library bytes\n"),
        d("srv"), d("srv/thing"), f("srv/thing/inside", "inside\n"),
        d("tmp", mode=0o1777), d("tmp/olddir"), f("tmp/olddir/x", "x\n"),
        d("var"), d("var/cache"),
        d("home"), d("home/user", mode=0o700, uid=1000, gid=1000),
        f("home/user/.profile", "export PS1='$ '\n", uid=1000, gid=1000),
        d("dev"), dev("dev/null", tarfile.CHRTYPE, 1, 3), dev("dev/sda", tarfile.BLKTYPE, 8, 0, 0o660),
        d("run"), dev("run/fifo", tarfile.FIFOTYPE, 0, 0, 0o600),
    ] + [d("/".join(LONG_DIR.split("/")[:i])) for i in range(2, len(LONG_DIR.split("/")) + 1)]
      + [f(LONG_FILE, "long path\n"), sym("usr/share/long-link", LONG_TARGET), f("var/old-log", "log data\n")],
    [  # 2: replace, delete, opaque, a hardlink into layer 1
        d("etc"), f("etc/hostname", "layer two\n"), wh("etc/.wh.remove-me"), wh("etc/.wh.again"),
        d("opt/data"), wh("opt/data/.wh..wh..opq"), f("opt/data/c", "c\n"),
        hard("lib/libx-copy", "lib/libx.so.1"), hard("etc/motd-old", "etc/motd"),
        f("srv/thing", "now a file\n"), wh("tmp/.wh.olddir"),
        hard("var/log-saved", "var/old-log"), wh("var/.wh.old-log"),  # linked, then deleted
    ],
    [  # 3: links across layers, a whiteout of a link's original, metadata changes
        hard("usr/bin/tool-hard", "usr/bin/tool"), hard("usr/bin/sh-link-hard", "usr/bin/sh-link"),
        wh("lib/.wh.libx.so.1"),
        f("etc/motd", "new motd\n"), f("etc/again", "second\n"),
        d("var/cache", mode=0o700), f("var/cache/new", "cached\n", mtime=MTIME + 50),
    ],
    [],  # 4: empty (docker writes these for metadata-only steps)
]


def expected_tree():
    """The merged rootfs of LAYERS, written out by hand."""
    t = {}

    def put(e, **over):
        e = dict(e, **over)
        t[e["name"]] = e

    for e in LAYERS[0]:
        put(e)
    for gone in ["etc/remove-me", "etc/again", "opt/data/a", "opt/data/b", "opt/data/sub",
                 "opt/data/sub/deep", "lib/libx.so.1", "srv/thing/inside", "tmp/olddir", "tmp/olddir/x",
                 "var/old-log"]:
        t.pop(gone)
    put(f("etc/hostname", "layer two\n"))
    put(f("opt/data/c", "c\n"))
    put(f("srv/thing", "now a file\n"))
    # hardlinks: the data a link was made to, whatever happened to the original later
    put(f("lib/libx-copy", "library bytes\n"))
    put(f("etc/motd-old", "old motd\n"))
    put(f("var/log-saved", "log data\n"))  # the link came before its original's whiteout
    put(f("etc/motd", "new motd\n"))
    put(f("etc/again", "second\n"))
    put(d("var/cache", mode=0o700))
    put(f("var/cache/new", "cached\n", mtime=MTIME + 50))
    put(f("usr/bin/tool-hard", "#!/bin/sh\necho v1\n", mode=0o755))
    put(sym("usr/bin/sh-link-hard", "tool"))  # a hardlink to a symlink is that symlink
    out = {}
    for name, e in t.items():
        kind = {tarfile.DIRTYPE: "dir", tarfile.REGTYPE: "file", tarfile.SYMTYPE: "symlink",
                tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}[e["type"]]
        rec = {"type": kind, "mode": e["mode"], "uid": e["uid"], "gid": e["gid"], "mtime": e["mtime"]}
        if kind == "file":
            rec["sha256"] = hashlib.sha256(e["data"]).hexdigest()
            rec["xattrs"] = {k: v.encode("latin-1").hex() for k, v in e.get("xattrs", {}).items()}
        if kind == "symlink":
            rec["target"] = e["linkname"]
        if kind in ("char", "block"):
            rec["dev"] = [e["devmajor"], e["devminor"]]
        out[name] = rec
    # paths that must end up sharing one inode (hardlinks in the output)
    links = sorted([sorted(["usr/bin/tool", "usr/bin/tool-hard"]), sorted(["usr/bin/sh-link", "usr/bin/sh-link-hard"])])
    return {"entries": out, "hardlink_groups": links}


def layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            ti = tarfile.TarInfo(e["name"])
            ti.type = e["type"]
            ti.mode, ti.uid, ti.gid, ti.mtime = e["mode"], e["uid"], e["gid"], e["mtime"]
            ti.uname = "user" if e["uid"] == 1000 else "root"
            ti.gname = "user" if e["gid"] == 1000 else "root"
            if "linkname" in e:
                ti.linkname = e["linkname"]
            if "devmajor" in e:
                ti.devmajor, ti.devminor = e["devmajor"], e["devminor"]
            for k, v in e.get("xattrs", {}).items():
                ti.pax_headers["SCHILY.xattr." + k] = v
            data = e.get("data")
            if data is not None:
                ti.size = len(data)
                tar.addfile(ti, io.BytesIO(data))
            else:
                tar.addfile(ti)
    return buf.getvalue()


def add_bytes(tar, name, data, kind=tarfile.REGTYPE, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type, ti.mtime, ti.mode = kind, MTIME, 0o644
    if kind == tarfile.SYMTYPE:
        ti.linkname = linkname
        tar.addfile(ti)
    elif kind == tarfile.DIRTYPE:
        ti.mode = 0o755
        tar.addfile(ti)
    else:
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))


def sha(data):
    return hashlib.sha256(data).hexdigest()


def config_for(layers):
    return json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                       "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(l) for l in layers]}}).encode()


def write_classic(path, layers, tag="bootcfg/test:latest"):
    """Docker before 25: <id>/layer.tar, a repeated layer as a symlink, manifest.json last."""
    config = config_for(layers)
    names, seen = [], {}
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for i, data in enumerate(layers):
            layer_id = sha(data + bytes([i]))
            add_bytes(tar, layer_id, b"", tarfile.DIRTYPE)
            add_bytes(tar, layer_id + "/VERSION", b"1.0")
            add_bytes(tar, layer_id + "/json", json.dumps({"id": layer_id}).encode())
            if sha(data) in seen:
                add_bytes(tar, layer_id + "/layer.tar", b"", tarfile.SYMTYPE, "../" + seen[sha(data)] + "/layer.tar")
            else:
                add_bytes(tar, layer_id + "/layer.tar", data)
                seen[sha(data)] = layer_id
            names.append(layer_id + "/layer.tar")
        add_bytes(tar, sha(config) + ".json", config)
        add_bytes(tar, "manifest.json", json.dumps([{"Config": sha(config) + ".json", "RepoTags": [tag],
                                                      "Layers": names}]).encode())
        add_bytes(tar, "repositories", json.dumps({tag.split(":")[0]: {"latest": names[-1].split("/")[0]}}).encode())


def write_oci(path, layers, with_docker_manifest=True, tag="bootcfg/test:latest"):
    """Docker 25+: an OCI image layout (gzip layers under blobs/sha256) plus manifest.json."""
    blobs, descs = {}, []
    for data in layers:
        z = gzip.compress(data, mtime=0)
        blobs[sha(z)] = z
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                      "digest": "sha256:" + sha(z), "size": len(z)})
    config = config_for(layers)
    blobs[sha(config)] = config
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + sha(config), "size": len(config)},
                           "layers": descs}).encode()
    blobs[sha(manifest)] = manifest
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                            "digest": "sha256:" + sha(manifest), "size": len(manifest),
                            "annotations": {"io.containerd.image.name": "docker.io/" + tag,
                                            "org.opencontainers.image.ref.name": tag.split(":")[1]}}]}
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        add_bytes(tar, "blobs", b"", tarfile.DIRTYPE)
        add_bytes(tar, "blobs/sha256", b"", tarfile.DIRTYPE)
        for digest, data in blobs.items():
            add_bytes(tar, "blobs/sha256/" + digest, data)
        add_bytes(tar, "index.json", json.dumps(index).encode())
        if with_docker_manifest:
            add_bytes(tar, "manifest.json", json.dumps([{"Config": "blobs/sha256/" + sha(config),
                                                         "RepoTags": [tag],
                                                         "Layers": ["blobs/sha256/" + d["digest"][7:] for d in descs]}]).encode())
        add_bytes(tar, "oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())


def docker(out):
    os.makedirs(out, exist_ok=True)
    layers = [layer_tar(entries) for entries in LAYERS]
    layers.append(layers[3])  # the empty layer once more: a symlink in the classic form
    write_classic(os.path.join(out, "classic.tar"), layers)
    write_oci(os.path.join(out, "oci.tar"), layers)
    write_oci(os.path.join(out, "oci-only.tar"), layers, with_docker_manifest=False)
    # two images in one archive: --image chooses
    two = os.path.join(out, "two.tar")
    write_classic(two, layers[:1], tag="bootcfg/one:1")
    with tarfile.open(two) as t:
        manifest = json.load(t.extractfile("manifest.json"))
    manifest.append(dict(manifest[0], RepoTags=["bootcfg/two:2"]))
    write_classic(two + ".tmp", layers[:1], tag="bootcfg/one:1")
    with tarfile.open(two + ".tmp") as src, tarfile.open(two, "w", format=tarfile.PAX_FORMAT) as dst:
        for ti in src:
            if ti.name == "manifest.json":
                add_bytes(dst, "manifest.json", json.dumps(manifest).encode())
            else:
                dst.addfile(ti, src.extractfile(ti) if ti.isreg() else None)
    os.unlink(two + ".tmp")
    # one layer hardlinking to a path no layer has
    write_classic(os.path.join(out, "bad-hardlink.tar"), [layer_tar([hard("a", "nowhere")])])
    with open(os.path.join(out, "expected.json"), "w") as fh:
        json.dump(expected_tree(), fh, indent=1, sort_keys=True)


STATUS_OLD = """Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u1
Description: Debian base system
 miscellaneous files

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u3

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u3

Package: oldtool
Status: install ok installed
Architecture: all
Version: 1.0-1

Package: removed-config
Status: deinstall ok config-files
Architecture: amd64
Version: 0.9
"""

STATUS_NEW = """Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u1

Package: libc6
Status: install ok installed
Architecture: amd64
Version: 2.36-9+deb12u4

Package: libc6
Status: install ok installed
Architecture: i386
Version: 2.36-9+deb12u3

Package: wget
Status: install ok installed
Architecture: amd64
Version: 1.21.3-1+b2
"""


def rootfs_image(path, entries):
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        root = tarfile.TarInfo("./")
        root.type, root.mode, root.mtime = tarfile.DIRTYPE, 0o755, MTIME
        tar.addfile(root)
        for e in entries:
            ti = tarfile.TarInfo("./" + e["name"])
            ti.type, ti.mode, ti.mtime = e["type"], e["mode"], MTIME
            if "linkname" in e:
                ti.linkname = e["linkname"]
            if e.get("data") is not None:
                ti.size = len(e["data"])
                tar.addfile(ti, io.BytesIO(e["data"]))
            else:
                tar.addfile(ti)


def rootfs(out):
    os.makedirs(out, exist_ok=True)
    old_v, new_v = "5.10.0-9-amd64", "5.10.0-10-amd64"  # 10 > 9: a plain string sort gets it wrong
    common = [d("boot"), d("lib"), d("lib/modules"), d("var"), d("var/lib"), d("var/lib/dpkg"),
              d("etc"), f("etc/os-release", "ID=debian\n")]
    def kernel(v, extra=b""):
        return [f("boot/vmlinuz-" + v, b"KERNEL " + v.encode() + extra, mode=0o644),
                f("boot/initrd.img-" + v, b"INITRD " + v.encode()),
                f("boot/config-" + v, "CONFIG\n"),
                d("lib/modules/" + v), d("lib/modules/" + v + "/kernel"),
                d("lib/modules/" + v + "/kernel/drivers"),
                f("lib/modules/" + v + "/kernel/drivers/net.ko", b"MODULE net " + v.encode()),
                hard("lib/modules/" + v + "/kernel/drivers/net-alias.ko", "./lib/modules/" + v + "/kernel/drivers/net.ko"),
                f("lib/modules/" + v + "/modules.dep", "kernel/drivers/net.ko:\n"),
                sym("lib/modules/" + v + "/build", "/usr/src/linux-headers-" + v)]
    old = common + kernel(old_v) + [f("var/lib/dpkg/status", STATUS_OLD)]
    new = common + kernel(old_v) + kernel(new_v, b" newer") + [f("var/lib/dpkg/status", STATUS_NEW),
                                                                 f("etc/wgetrc", "# wget\n")]
    rootfs_image(os.path.join(out, "old.tar.gz"), old)
    rootfs_image(os.path.join(out, "new.tar.gz"), new)
    # Fedora style: merged /usr (lib -> usr/lib), kernel beside its modules, no /boot files
    fedora = [d("usr"), d("usr/lib"), sym("lib", "usr/lib"), d("usr/lib/modules"),
              d("usr/lib/modules/6.5.6-300.fc39.x86_64"),
              f("usr/lib/modules/6.5.6-300.fc39.x86_64/vmlinuz", "FEDORA KERNEL"),
              f("usr/lib/modules/6.5.6-300.fc39.x86_64/initramfs.img", "FEDORA INITRD"),
              f("usr/lib/modules/6.5.6-300.fc39.x86_64/modules.dep", "\n"), d("boot")]
    rootfs_image(os.path.join(out, "fedora.tar.gz"), fedora)
    rootfs_image(os.path.join(out, "nokernel.tar.gz"), [d("etc"), f("etc/hostname", "x\n"), d("boot")])
    facts = {"old": {"files": sum(1 for e in old if e["type"] != tarfile.DIRTYPE),
                     "filesystem_bytes": sum(len(e["data"]) for e in old if e["type"] == tarfile.REGTYPE)},
             "new": {"files": sum(1 for e in new if e["type"] != tarfile.DIRTYPE),
                     "filesystem_bytes": sum(len(e["data"]) for e in new if e["type"] == tarfile.REGTYPE)}}
    with open(os.path.join(out, "facts.json"), "w") as fh:
        json.dump(facts, fh)


class Zeros(io.RawIOBase):
    def __init__(self, n):
        self.left = n

    def readable(self):
        return True

    def readinto(self, b):
        n = min(len(b), self.left)
        b[:n] = bytes(n)
        self.left -= n
        return n


def big(path, mib):
    layer_path = path + ".layer"
    with tarfile.open(layer_path, "w", format=tarfile.PAX_FORMAT) as tar:
        ti = tarfile.TarInfo("big.bin")
        ti.size, ti.mode, ti.mtime = mib << 20, 0o644, MTIME
        tar.addfile(ti, io.BufferedReader(Zeros(mib << 20)))
        for i in range(2000):
            add_bytes(tar, "many/file-%04d" % i, b"%d\n" % i) if i else add_bytes(tar, "many", b"", tarfile.DIRTYPE)
    h = hashlib.sha256()
    with open(layer_path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + h.hexdigest()]}}).encode()
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(layer_path, "layer0/layer.tar")
        add_bytes(tar, "config.json", config)
        add_bytes(tar, "manifest.json", json.dumps([{"Config": "config.json", "RepoTags": ["big:1"],
                                                      "Layers": ["layer0/layer.tar"]}]).encode())
    os.unlink(layer_path)


if __name__ == "__main__":
    {"docker": lambda: docker(sys.argv[2]), "rootfs": lambda: rootfs(sys.argv[2]),
     "big": lambda: big(sys.argv[2], int(sys.argv[3]))}[sys.argv[1]]()
