#!/usr/bin/env python3
"""Hostile `docker save` archives for the builder (#26), made with Python's tarfile.

  hostile_archives.py DIR    writes DIR/NAME.tar for every case below and DIR/cases.tsv:
                             NAME <tab> expected exit <tab> text the error line must contain
"""
import gzip
import io
import json
import os
import sys
import tarfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_archives as m  # noqa: E402


def layers_of(*entry_lists):
    return [m.layer_tar(entries) for entries in entry_lists]


BASE = [m.d("etc"), m.f("etc/hostname", "base\n"), m.d("usr"), m.d("usr/lib"), m.f("usr/lib/libx", "x\n")]


def outer(path, members):
    """A tar of (name, bytes) members, in order."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            m.add_bytes(tar, name, data)


def classic_members(layers, manifest=None, config=None):
    config = config if config is not None else m.config_for(layers)
    members = [("layer%d/layer.tar" % i, data) for i, data in enumerate(layers)]
    members.append((m.sha(config) + ".json", config))
    man = manifest if manifest is not None else [{"Config": m.sha(config) + ".json", "RepoTags": ["t:1"],
                                                  "Layers": ["layer%d/layer.tar" % i for i in range(len(layers))]}]
    members.append(("manifest.json", json.dumps(man).encode()))
    return members


def oci_members(layers, tweak_layer_desc=None, tweak_index=None):
    blobs, descs = {}, []
    for data in layers:
        z = gzip.compress(data, mtime=0)
        blobs[m.sha(z)] = z
        desc = {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + m.sha(z),
                "size": len(z)}
        if tweak_layer_desc:
            tweak_layer_desc(desc)
        descs.append(desc)
    config = m.config_for(layers)
    blobs[m.sha(config)] = config
    manifest = json.dumps({"schemaVersion": 2, "config": {"digest": "sha256:" + m.sha(config), "size": len(config)},
                           "layers": descs}).encode()
    blobs[m.sha(manifest)] = manifest
    index = {"schemaVersion": 2, "manifests": [{"digest": "sha256:" + m.sha(manifest), "size": len(manifest)}]}
    if tweak_index:
        tweak_index(index)
    return [("blobs/sha256/" + k, v) for k, v in blobs.items()] + [("index.json", json.dumps(index).encode())]


def main(out):
    os.makedirs(out, exist_ok=True)
    cases = []

    def case(name, members, exit_code, needle):
        outer(os.path.join(out, name + ".tar"), members)
        cases.append((name, exit_code, needle))

    good = layers_of(BASE, [m.f("etc/motd", "hi\n")])

    # Integrity: a blob whose content is not its digest, a size that is not the blob's, a layer
    # that is not its diff_id, a classic config that is not its id.
    members = oci_members(good)
    z = gzip.compress(good[1].replace(b"hi\n", b"ho\n"), mtime=0)
    members = [(n, z) if n == "blobs/sha256/" + m.sha(gzip.compress(good[1], mtime=0)) else (n, d)
               for n, d in members]
    case("blob-digest", members, 1, "does not match its digest")

    def bigger(desc):
        desc["size"] += 1
    case("blob-size", oci_members(good, tweak_layer_desc=bigger), 1, "declares")
    tampered = [good[0], good[1].replace(b"hi\n", b"ho\n")]
    case("diff-id", classic_members(tampered, config=m.config_for(good)), 1, "does not match its diff_id")
    config = m.config_for(good)
    members = classic_members(good)
    members = [(n, config + b" ") if n.endswith(".json") and n != "manifest.json" else (n, d) for n, d in members]
    case("config-id", members, 1, "does not match its digest")

    def weird_alg(desc):
        desc["digest"] = "md5:" + "0" * 32
    case("digest-algorithm", oci_members(good, tweak_layer_desc=weird_alg), 1, "is not sha256 or sha512")

    def traversal(desc):
        desc["digest"] = "sha256:../../../../etc/passwd"
    case("digest-traversal", oci_members(good, tweak_layer_desc=traversal), 1, "malformed")

    # Wrongly typed fields: one line naming the file and field, never an abort.
    for name, man, needle in [
        ("layers-string", [{"Config": "", "RepoTags": ["t:1"], "Layers": "layer0/layer.tar"}], "Layers is not a list"),
        ("layers-number", [{"Layers": [7]}], "a layer name is not a string"),
        ("repotags-number", [{"RepoTags": 5, "Layers": []}], "RepoTags is not a list"),
        ("repotag-object", [{"RepoTags": [{}], "Layers": []}], "a RepoTag is not a string"),
        ("config-number", [{"Config": 5, "Layers": ["layer0/layer.tar", "layer1/layer.tar"]}], "Config is not a string"),
        ("manifest-object", {"Layers": []}, "lists no image"),
    ]:
        case(name, classic_members(good, manifest=man), 1, needle)

    def digest_number(desc):
        desc["digest"] = 12
    case("digest-number", oci_members(good, tweak_layer_desc=digest_number), 1, "digest is not a string")

    def size_string(desc):
        desc["size"] = "12"
    case("size-string", oci_members(good, tweak_layer_desc=size_string), 1, "is not a byte count")

    def annotations_list(index):
        index["manifests"].append(dict(index["manifests"][0], annotations=["x"]))
    case("annotations-list", oci_members(good, tweak_index=annotations_list), 1, "annotations is not an object")

    def manifests_string(index):
        index["manifests"] = "x"
    case("manifests-string", oci_members(good, tweak_index=manifests_string), 1, "manifests is not a list")
    bad_config = json.dumps({"rootfs": {"diff_ids": "sha256:x"}}).encode()
    case("diff-ids-string", classic_members(good, config=bad_config), 1, "diff_ids is not a list")

    # Whiteouts and links that would reach outside what they name.
    case("empty-whiteout", classic_members(layers_of(BASE, [m.wh(".wh.")])), 1, "names nothing")
    case("empty-whiteout-dir", classic_members(layers_of(BASE, [m.wh("etc/.wh.")])), 1, "names nothing")
    # A later layer writes beneath an absolute and a relative symlink of a lower layer: the files
    # land where the links lead inside the rootfs (as umoci places them), never beneath a link.
    below = layers_of(BASE + [m.sym("lib", "/usr/lib"), m.sym("rel", "usr/lib/../lib")],
                      [m.f("lib/evil", "through the absolute link\n"),
                       m.f("rel/evil2", "through the relative link\n")])
    case("symlink-parent", classic_members(below), 0, "")
    loop = layers_of([m.sym("a", "b"), m.sym("b", "a")], [m.f("a/x", "x\n")])
    case("symlink-loop", classic_members(loop), 1, "more than 40 symlinks")

    # Paths: one longer than Linux can open is refused; many paths of thousands of components
    # each (the quadratic case) are merged in memory proportional to the input.
    case("path-too-long", classic_members(layers_of([m.f("a/" * 2100 + "x", "x\n")])), 1, "bytes long")
    deep = [m.f("%d/" % i + "a/" * 1990 + "x", "x\n") for i in range(300)]
    case("deep-paths", classic_members(layers_of(deep)), 0, "")

    with open(os.path.join(out, "cases.tsv"), "w") as fh:
        for name, exit_code, needle in cases:
            fh.write("%s\t%d\t%s\n" % (name, exit_code, needle))


if __name__ == "__main__":
    main(sys.argv[1])
