#!/usr/bin/env python3
"""Checks a merged rootfs image.tar.gz (read with Python's tarfile, not our code).

  check_rootfs.py expected EXPECTED.json IMAGE.tar.gz   exact tree, tar conventions, hardlinks
  check_rootfs.py tree IMAGE.tar.gz DIR                 same paths, types, modes, link targets,
                                                        contents and hardlink sets as an unpacked
                                                        tree (umoci's); device nodes as umoci's
                                                        rootless mode leaves them (empty files)
Prints one line per difference; exits 1 if there is any.
"""
import hashlib
import json
import os
import stat
import sys
import tarfile

KIND = {tarfile.DIRTYPE: "dir", tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.SYMTYPE: "symlink",
        tarfile.LNKTYPE: "hardlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}


def read_image(path):
    entries, order, problems = {}, [], []
    with tarfile.open(path, "r:gz") as tar:
        for ti in tar:
            if not ti.name.startswith("./") and ti.name != ".":
                problems.append("entry %r is not ./-prefixed" % ti.name)
            name = "" if ti.name in (".", "./") else ti.name[2:].rstrip("/") if ti.name.startswith("./") else ti.name
            if name in entries:
                problems.append("entry %r appears twice" % name)
            rec = {"type": KIND.get(ti.type, "other"), "mode": ti.mode, "uid": ti.uid, "gid": ti.gid,
                   "mtime": int(ti.mtime)}
            if ti.isreg():
                rec["sha256"] = hashlib.sha256(tar.extractfile(ti).read()).hexdigest()
                rec["xattrs"] = {k[len("SCHILY.xattr."):]: v.encode("utf-8", "surrogateescape").hex()
                                 for k, v in ti.pax_headers.items() if k.startswith("SCHILY.xattr.")}
            if ti.issym():
                rec["target"] = ti.linkname
            if ti.islnk():
                rec["link"] = ti.linkname[2:] if ti.linkname.startswith("./") else ti.linkname
            if ti.ischr() or ti.isblk():
                rec["dev"] = [ti.devmajor, ti.devminor]
            entries[name] = rec
            order.append(name)
    return entries, order, problems


def resolved(entries):
    """Hardlink entries replaced by their target's record; returns records and link groups."""
    out, groups = {}, {}
    for name, rec in entries.items():
        if rec["type"] == "hardlink":
            target = entries.get(rec["link"])
            if target is None or target["type"] == "hardlink":
                out[name] = {"type": "dangling-hardlink", "link": rec["link"]}
                continue
            out[name] = dict(target)
            groups.setdefault(rec["link"], {rec["link"]}).add(name)
        else:
            out[name] = rec
    return out, sorted(sorted(g) for g in groups.values())


def check_expected(expected_path, image):
    expected = json.load(open(expected_path))
    entries, order, problems = read_image(image)
    if not order or order[0] != "":
        problems.append("the first entry is not ./")
    seen = set()
    for name in order:
        parent = name.rsplit("/", 1)[0] if "/" in name else ""
        if name and parent not in seen:
            problems.append("%s comes before its directory %s" % (name, parent or "./"))
        seen.add(name)
        if os.path.basename(name).startswith(".wh."):
            problems.append("whiteout %s is in the output" % name)
    entries.pop("", None)
    got, groups = resolved(entries)
    want = expected["entries"]
    for name in sorted(set(got) | set(want)):
        if name not in got:
            problems.append("missing %s" % name)
        elif name not in want:
            problems.append("unexpected %s (%s)" % (name, got[name]["type"]))
        elif got[name] != want[name]:
            diff = {k: (want[name].get(k), got[name].get(k)) for k in set(got[name]) | set(want[name])
                    if got[name].get(k) != want[name].get(k)}
            problems.append("%s differs (want, got): %s" % (name, diff))
    if groups != expected["hardlink_groups"]:
        problems.append("hardlink groups: want %s, got %s" % (expected["hardlink_groups"], groups))
    return problems


def check_tree(image, root):
    entries, _, problems = read_image(image)
    entries.pop("", None)
    got, groups = resolved(entries)
    tree, inodes = {}, {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            rec = {"mode": stat.S_IMODE(st.st_mode)}
            if stat.S_ISDIR(st.st_mode):
                rec["type"] = "dir"
            elif stat.S_ISLNK(st.st_mode):
                rec["type"], rec["target"] = "symlink", os.readlink(full)
            elif stat.S_ISFIFO(st.st_mode):
                rec["type"] = "fifo"
            elif stat.S_ISREG(st.st_mode):
                rec["type"] = "file"
                rec["sha256"] = hashlib.sha256(open(full, "rb").read()).hexdigest()
            if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:  # files and symlinks alike
                inodes.setdefault(st.st_ino, set()).add(rel)
            tree[rel] = rec
    theirs_groups = sorted(sorted(g) for g in inodes.values() if len(g) > 1)
    for name in sorted(set(got) | set(tree)):
        if name not in tree:
            problems.append("only in ours: %s" % name)
            continue
        if name not in got:
            problems.append("only in theirs: %s" % name)
            continue
        ours = {k: v for k, v in got[name].items() if k in ("type", "mode", "target", "sha256")}
        if ours["type"] in ("char", "block"):  # rootless umoci: an empty file in its place
            ours = {"type": "file", "mode": ours["mode"], "sha256": hashlib.sha256(b"").hexdigest()}
        if ours != tree[name]:
            problems.append("%s: ours %s, theirs %s" % (name, ours, tree[name]))
    if groups != theirs_groups:
        problems.append("hardlink sets: ours %s, theirs %s" % (groups, theirs_groups))
    return problems


if __name__ == "__main__":
    problems = check_expected(sys.argv[2], sys.argv[3]) if sys.argv[1] == "expected" else check_tree(sys.argv[2], sys.argv[3])
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)
