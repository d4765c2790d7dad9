#!/usr/bin/python3
"""An independent client of bootcfgd's matchbox gRPC API: Debian's python3-grpcio, with stubs
generated at test time (python3-grpc-tools) from lib/rpc/proto. Prints one line per failed check
and a summary; exits 1 when any check failed.

  rpc_client.py full      --proto DIR --tls DIR --other-ca DIR --rpc H:P --http URL --admin URL
  rpc_client.py terraform --proto DIR --tls DIR --rpc H:P[,H:P] --http URL[,URL]

full: every method of the five services, the handshake refusals, validation, REST <-> gRPC.
terraform: terraform-provider-matchbox's sequence against every --rpc endpoint (profile, its
Ignition as <name>.ign, groups; read back; destroy in reverse, twice), each --http serving it.
"""
import argparse
import importlib
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import grpc

FAILURES = 0
CHECKS = 0


def check(what, ok, detail=""):
    global FAILURES, CHECKS
    CHECKS += 1
    if not ok:
        FAILURES += 1
        print(f"FAIL: {what}{': ' + detail if detail else ''}", flush=True)


def stubs(proto_dir):
    out = tempfile.mkdtemp(prefix="bootcfg-rpc-stubs.")
    protos = [os.path.join(proto_dir, p) for p in ("storage.proto", "messages.proto", "rpc.proto")]
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir,
                    f"--python_out={out}", f"--grpc_python_out={out}", *protos], check=True)
    sys.path.insert(0, out)
    return (importlib.import_module("storage_pb2"), importlib.import_module("messages_pb2"),
            importlib.import_module("rpc_pb2_grpc"))


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Client:
    """One endpoint's five service stubs over mTLS."""

    def __init__(self, rpc, endpoint, tls_dir, client="terraform", ca_dir=None):
        ca = read(os.path.join(ca_dir or tls_dir, "ca.crt"))
        key = read(os.path.join(tls_dir, client + ".key")) if client else None
        crt = read(os.path.join(tls_dir, client + ".crt")) if client else None
        creds = grpc.ssl_channel_credentials(root_certificates=ca, private_key=key,
                                             certificate_chain=crt)
        self.channel = grpc.secure_channel(endpoint, creds)
        self.groups = rpc.GroupsStub(self.channel)
        self.profiles = rpc.ProfilesStub(self.channel)
        self.select = rpc.SelectStub(self.channel)
        self.ignition = rpc.IgnitionStub(self.channel)
        self.generic = rpc.GenericStub(self.channel)


def call(method, request):
    """(status code, details, response) of one call."""
    try:
        return grpc.StatusCode.OK, "", method(request, timeout=10)
    except grpc.RpcError as e:
        return e.code(), e.details(), None


class Http:
    """Plain HTTP for the machine endpoints; HTTPS with the client certificate for /api/v1."""

    def __init__(self, base, tls_dir=None):
        self.base = base.rstrip("/")
        self.ctx = None
        if tls_dir:
            self.ctx = ssl.create_default_context(cafile=os.path.join(tls_dir, "ca.crt"))
            self.ctx.load_cert_chain(os.path.join(tls_dir, "terraform.crt"),
                                     os.path.join(tls_dir, "terraform.key"))

    def request(self, method, path, body=None):
        req = urllib.request.Request(self.base + path, data=body, method=method)
        try:
            with urllib.request.urlopen(req, context=self.ctx, timeout=10) as r:
                return r.status, r.read().decode(), r.headers.get("ETag", "")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), e.headers.get("ETag", "")

    def eventually(self, path, want, present=True, seconds=5.0):
        """The body of GET path, once it contains (or no longer contains) `want`."""
        deadline = time.monotonic() + seconds
        while True:
            status, body, _ = self.request("GET", path)
            if (want in body) == present or time.monotonic() > deadline:
                return status, body
            time.sleep(0.05)


def group_json(g):
    out = {"id": g.id, "profile": g.profile}
    if g.name:
        out["name"] = g.name
    if g.selector:
        out["selector"] = dict(g.selector)
    if g.metadata:
        out["metadata"] = json.loads(g.metadata)
    return out


def full(args, pb_storage, pb, rpc):
    c = Client(rpc, args.rpc, args.tls)
    http = Http(args.http)
    admin = Http(args.admin, args.tls)
    S, M = pb_storage, pb

    # The handshake refuses a client without a certificate and one from another CA.
    for who, client in (("no client certificate", Client(rpc, args.rpc, args.tls, client=None)),
                        ("a certificate from another CA",
                         Client(rpc, args.rpc, args.other_ca, client="mallory",
                                ca_dir=args.tls))):
        code, details, _ = call(client.profiles.ProfileList, M.ProfileListRequest())
        check(f"{who} is refused at the handshake", code == grpc.StatusCode.UNAVAILABLE,
              f"{code} {details}")

    # Profiles: put, get, list.
    p1 = S.Profile(id="p1", name="Worker", ignition_id="p1.ign", generic_id="p1.generic",
                   boot=S.NetBoot(kernel="/assets/vmlinuz", initrd=["/assets/initrd.img"],
                                  args=["console=ttyS0", "rpc.marker=p1"]))
    code, details, _ = call(c.profiles.ProfilePut, M.ProfilePutRequest(profile=p1))
    check("ProfilePut p1", code == grpc.StatusCode.OK, f"{code} {details}")
    code, _, got = call(c.profiles.ProfileGet, M.ProfileGetRequest(id="p1"))
    check("ProfileGet p1 returns what was put", code == grpc.StatusCode.OK and got.profile == p1,
          str(got))
    code, _, got = call(c.profiles.ProfileList, M.ProfileListRequest())
    ids = [p.id for p in got.profiles] if got else []
    check("ProfileList has p1 and the data dir's base", "p1" in ids and "base" in ids, str(ids))

    # Ignition and Generic: put, get.
    ign = b'{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"rpc-marker-ign"}]}}'
    code, details, _ = call(c.ignition.IgnitionPut, M.IgnitionPutRequest(name="p1.ign", config=ign))
    check("IgnitionPut p1.ign", code == grpc.StatusCode.OK, f"{code} {details}")
    code, _, got = call(c.ignition.IgnitionGet, M.IgnitionGetRequest(name="p1.ign"))
    check("IgnitionGet returns the bytes put", got is not None and got.config == ign, str(got))
    gen = b"generic-marker mac={{.mac}}\n"
    code, details, _ = call(c.generic.GenericPut, M.GenericPutRequest(name="p1.generic", config=gen))
    check("GenericPut p1.generic", code == grpc.StatusCode.OK, f"{code} {details}")
    code, _, got = call(c.generic.GenericGet, M.GenericGetRequest(name="p1.generic"))
    check("GenericGet returns the bytes put", got is not None and got.config == gen, str(got))

    # Groups: put, get, list.
    g1 = S.Group(id="g1", name="node one", profile="p1", selector={"mac": "52:54:00:aa:bb:01"},
                 metadata=b'{"hostname":"node-a","pool":"rpc"}')
    code, details, _ = call(c.groups.GroupPut, M.GroupPutRequest(group=g1))
    check("GroupPut g1", code == grpc.StatusCode.OK, f"{code} {details}")
    code, _, got = call(c.groups.GroupGet, M.GroupGetRequest(id="g1"))
    check("GroupGet g1 returns what was put",
          got is not None and group_json(got.group) == group_json(g1), str(got))
    code, _, got = call(c.groups.GroupList, M.GroupListRequest())
    check("GroupList has g1", got is not None and "g1" in [g.id for g in got.groups], str(got))

    # The machine endpoints serve it at once.
    mac = "52:54:00:aa:bb:01"
    status, body, _ = http.request("GET", f"/ipxe?mac={mac}")
    check("/ipxe serves the profile put over gRPC",
          status == 200 and "rpc.marker=p1" in body and "/assets/vmlinuz" in body, body)
    status, body, _ = http.request("GET", f"/ignition?mac={mac}")
    check("/ignition serves the Ignition put over gRPC", status == 200 and "rpc-marker-ign" in body,
          f"{status} {body}")
    status, body, _ = http.request("GET", f"/metadata?mac={mac}")
    check("/metadata serves the group's metadata", status == 200 and "node-a" in body, body)
    status, body, _ = http.request("GET", f"/generic?mac={mac}")
    check("/generic renders the generic config put over gRPC",
          status == 200 and f"generic-marker mac={mac}" in body, f"{status} {body}")

    # Select: what the HTTP endpoints use for those labels (the MAC normalized as they do).
    code, _, got = call(c.select.SelectGroup,
                        M.SelectGroupRequest(labels={"mac": "52-54-00-AA-BB-01"}))
    check("SelectGroup picks g1", got is not None and got.group.id == "g1", f"{code} {got}")
    code, _, got = call(c.select.SelectProfile,
                        M.SelectProfileRequest(labels={"mac": "52:54:00:aa:bb:01"}))
    check("SelectProfile picks p1", got is not None and got.profile == p1, f"{code} {got}")
    code, details, _ = call(c.select.SelectGroup,
                            M.SelectGroupRequest(labels={"mac": "52:54:00:00:00:99"}))
    check("SelectGroup with no match is NOT_FOUND with matchbox's text",
          code == grpc.StatusCode.NOT_FOUND and details == "matchbox: No matching Group",
          f"{code} {details}")
    code, details, _ = call(c.select.SelectProfile,
                            M.SelectProfileRequest(labels={"mac": "52:54:00:00:00:99"}))
    check("SelectProfile with no match is NOT_FOUND with matchbox's text",
          code == grpc.StatusCode.NOT_FOUND and details == "matchbox: No matching Profile",
          f"{code} {details}")
    code, details, _ = call(c.select.SelectGroup, M.SelectGroupRequest(labels={"mac": "zz"}))
    check("SelectGroup with a malformed MAC is INVALID_ARGUMENT",
          code == grpc.StatusCode.INVALID_ARGUMENT, f"{code} {details}")

    # Invalid objects: INVALID_ARGUMENT with the REST API's message, and nothing written.
    invalid = {
        "bad-mac": S.Group(id="bad-mac", profile="p1", selector={"mac": "not-a-mac"}),
        "no-profile": S.Group(id="no-profile", profile="nope", selector={"mac": "52:54:00:aa:bb:02"}),
    }
    for gid, group in invalid.items():
        code, details, _ = call(c.groups.GroupPut, M.GroupPutRequest(group=group))
        rest_status, rest_body, _ = admin.request("PUT", f"/api/v1/groups/{gid}-rest",
                                                  json.dumps({**group_json(group),
                                                              "id": gid + "-rest"}).encode())
        rest_error = json.loads(rest_body).get("error", "") if rest_body else ""
        check(f"GroupPut {gid} is INVALID_ARGUMENT", code == grpc.StatusCode.INVALID_ARGUMENT,
              f"{code} {details}")
        check(f"GroupPut {gid} says what REST says", rest_status == 400 and
              details == rest_error.replace(gid + "-rest", gid), f"gRPC [{details}] REST [{rest_error}]")
        code, _, _ = call(c.groups.GroupGet, M.GroupGetRequest(id=gid))
        check(f"the invalid group {gid} was not written", code == grpc.StatusCode.NOT_FOUND, str(code))
    for what, group in (("metadata that is not JSON",
                         S.Group(id="bad-meta", profile="p1", metadata=b"{not json")),
                        ("an empty id", S.Group(id="", profile="p1")),
                        ("an id with a slash", S.Group(id="../etc/x", profile="p1"))):
        code, details, _ = call(c.groups.GroupPut, M.GroupPutRequest(group=group))
        check(f"GroupPut with {what} is INVALID_ARGUMENT",
              code == grpc.StatusCode.INVALID_ARGUMENT, f"{code} {details}")
    code, details, _ = call(c.ignition.IgnitionPut,
                            M.IgnitionPutRequest(name="big.ign", config=b"x" * (5 << 20)))
    check("a message over the limit is refused", code == grpc.StatusCode.RESOURCE_EXHAUSTED,
          f"{code} {details}")

    # Hostile bytes where a request belongs: refused, nothing written, the server keeps serving.
    raw = c.channel.unary_unary("/rpcpb.Groups/GroupPut")
    for what, data in (("a group id that is not UTF-8", bytes.fromhex("0a060a04ff fe 2f 2e".replace(" ", ""))),
                       ("bytes that are not protobuf", b"\xff" * 64)):
        try:
            raw(data, timeout=10)
            code = grpc.StatusCode.OK
        except grpc.RpcError as e:
            code = e.code()
        check(f"GroupPut with {what} is refused", code != grpc.StatusCode.OK, str(code))
    code, _, got = call(c.groups.GroupList, M.GroupListRequest())
    check("... and nothing was written", got is not None and
          [g.id for g in got.groups] == ["g1"], str(got))

    # REST and gRPC see the same objects, with the same revisions for equal content.
    rest_profile = {"id": "from-rest", "boot": {"kernel": "/assets/rest-kernel", "args": ["a=b"]}}
    status, _, _ = admin.request("PUT", "/api/v1/profiles/from-rest",
                                 json.dumps(rest_profile).encode())
    code, _, got = call(c.profiles.ProfileGet, M.ProfileGetRequest(id="from-rest"))
    check("a profile written through REST is read back through gRPC",
          status in (200, 201) and got is not None and got.profile.boot.kernel ==
          "/assets/rest-kernel" and list(got.profile.boot.args) == ["a=b"], f"{status} {got}")
    status, body, etag = admin.request("GET", "/api/v1/groups/g1")
    check("a group written through gRPC is read back through REST",
          status == 200 and json.loads(body) == group_json(g1), body)
    call(c.groups.GroupPut, M.GroupPutRequest(group=g1))
    _, _, etag_again = admin.request("GET", "/api/v1/groups/g1")
    check("putting equal content keeps the revision", etag and etag == etag_again,
          f"{etag} {etag_again}")

    # Calls at once, as Terraform makes them (-parallelism=10 by default): every one answered.
    many = [S.Group(id=f"par{i}", profile="p1", selector={"serial": f"par-{i}"}) for i in range(24)]
    futures = [c.groups.GroupPut.future(M.GroupPutRequest(group=g), timeout=20) for g in many]
    codes = []
    for f in futures:
        try:
            f.result()
            codes.append(grpc.StatusCode.OK)
        except grpc.RpcError as e:
            codes.append(e.code())
    check("24 GroupPuts at once all succeed", codes == [grpc.StatusCode.OK] * 24, str(codes))
    _, _, got = call(c.groups.GroupList, M.GroupListRequest())
    check("... and all are listed", got is not None and
          sum(g.id.startswith("par") for g in got.groups) == 24, str(got))
    futures = [c.groups.GroupDelete.future(M.GroupDeleteRequest(id=g.id), timeout=20) for g in many]
    for f in futures:
        f.result()

    # Gets of what is not there; deletes that are refused, done, and of what is not there.
    for what, method, req, text in (
            ("GroupGet", c.groups.GroupGet, M.GroupGetRequest(id="nope"), "matchbox: No matching Group"),
            ("ProfileGet", c.profiles.ProfileGet, M.ProfileGetRequest(id="nope"),
             "matchbox: No matching Profile"),
            ("IgnitionGet", c.ignition.IgnitionGet, M.IgnitionGetRequest(name="nope"), None),
            ("GenericGet", c.generic.GenericGet, M.GenericGetRequest(name="nope"), None)):
        code, details, _ = call(method, req)
        check(f"{what} of a missing object is NOT_FOUND", code == grpc.StatusCode.NOT_FOUND and
              (text is None or details == text), f"{code} {details}")
    code, details, _ = call(c.profiles.ProfileDelete, M.ProfileDeleteRequest(id="p1"))
    check("ProfileDelete of a profile in use is FAILED_PRECONDITION",
          code == grpc.StatusCode.FAILED_PRECONDITION and "g1" in details, f"{code} {details}")
    code, _, _ = call(c.groups.GroupDelete, M.GroupDeleteRequest(id="g1"))
    check("GroupDelete g1", code == grpc.StatusCode.OK, str(code))
    status, body, _ = http.request("GET", f"/ipxe?mac={mac}")
    check("/ipxe no longer serves the deleted group's profile", "rpc.marker=p1" not in body, body)
    for what, method, req in (
            ("ProfileDelete", c.profiles.ProfileDelete, M.ProfileDeleteRequest(id="p1")),
            ("IgnitionDelete", c.ignition.IgnitionDelete, M.IgnitionDeleteRequest(name="p1.ign")),
            ("GenericDelete", c.generic.GenericDelete, M.GenericDeleteRequest(name="p1.generic"))):
        code, details, _ = call(method, req)
        check(what, code == grpc.StatusCode.OK, f"{code} {details}")
        code, details, _ = call(method, req)
        check(f"{what} of what is already gone is OK", code == grpc.StatusCode.OK,
              f"{code} {details}")
    code, _, _ = call(c.profiles.ProfileGet, M.ProfileGetRequest(id="p1"))
    check("a deleted profile is gone", code == grpc.StatusCode.NOT_FOUND, str(code))
    code, _, _ = call(c.ignition.IgnitionGet, M.IgnitionGetRequest(name="p1.ign"))
    check("a deleted Ignition config is gone", code == grpc.StatusCode.NOT_FOUND, str(code))
    status, _, _ = admin.request("GET", "/api/v1/generic/p1.generic")
    check("a deleted generic config is gone for REST too", status == 404, str(status))


def terraform(args, pb_storage, pb, rpc):
    """terraform-provider-matchbox's calls for one profile (raw Ignition) and two groups."""
    S, M = pb_storage, pb
    clients = [Client(rpc, e, args.tls) for e in args.rpc.split(",")]
    https = [Http(u) for u in args.http.split(",")]
    ign = b'{"ignition":{"version":"3.3.0"},"passwd":{"users":[{"name":"tf-marker"}]}}'
    profile = S.Profile(id="worker", ignition_id="worker.ign",
                        boot=S.NetBoot(kernel="/assets/fcos/kernel", initrd=["/assets/fcos/initramfs"],
                                       args=["ignition.config.url=http://x/ignition?mac=${mac:hexhyp}",
                                             "tf.marker=worker"]))
    groups = [S.Group(id=f"node{i}", name=f"node{i}", profile="worker",
                      selector={"mac": f"52:54:00:7f:00:0{i}"},
                      metadata=json.dumps({"hostname": f"node{i}.example"}).encode())
              for i in (1, 2)]

    # apply: every endpoint gets the same objects, in the provider's order.
    for n, c in enumerate(clients):
        for what, method, req in (
                ("ProfilePut", c.profiles.ProfilePut, M.ProfilePutRequest(profile=profile)),
                ("IgnitionPut", c.ignition.IgnitionPut,
                 M.IgnitionPutRequest(name="worker.ign", config=ign)),
                *[("GroupPut " + g.id, c.groups.GroupPut, M.GroupPutRequest(group=g)) for g in groups]):
            code, details, _ = call(method, req)
            check(f"endpoint {n + 1}: {what}", code == grpc.StatusCode.OK, f"{code} {details}")
        # refresh: the provider reads each resource back.
        code, _, got = call(c.profiles.ProfileGet, M.ProfileGetRequest(id="worker"))
        check(f"endpoint {n + 1}: read back the profile", got is not None and got.profile == profile,
              str(got))
        code, _, got = call(c.ignition.IgnitionGet, M.IgnitionGetRequest(name="worker.ign"))
        check(f"endpoint {n + 1}: read back the Ignition", got is not None and got.config == ign, str(code))
        for g in groups:
            code, _, got = call(c.groups.GroupGet, M.GroupGetRequest(id=g.id))
            check(f"endpoint {n + 1}: read back {g.id}",
                  got is not None and group_json(got.group) == group_json(g), str(got))
    for n, http in enumerate(https):
        for i in (1, 2):
            mac = f"52:54:00:7f:00:0{i}"
            status, body = http.eventually(f"/ipxe?mac={mac}", "tf.marker=worker")
            check(f"http {n + 1}: /ipxe for node{i}", status == 200 and "tf.marker=worker" in body, body)
            status, body = http.eventually(f"/ignition?mac={mac}", "tf-marker")
            check(f"http {n + 1}: /ignition for node{i}", status == 200 and "tf-marker" in body, body)
            status, body = http.eventually(f"/metadata?mac={mac}", f"node{i}.example")
            check(f"http {n + 1}: /metadata for node{i}", f"node{i}.example" in body, body)

    # destroy: groups, then the profile, then its Ignition; a second destroy finds nothing to
    # delete and must still succeed.
    for attempt in ("destroy", "destroy again"):
        for n, c in enumerate(clients):
            for what, method, req in (
                    *[("GroupDelete " + g.id, c.groups.GroupDelete, M.GroupDeleteRequest(id=g.id))
                      for g in reversed(groups)],
                    ("ProfileDelete", c.profiles.ProfileDelete, M.ProfileDeleteRequest(id="worker")),
                    ("IgnitionDelete", c.ignition.IgnitionDelete,
                     M.IgnitionDeleteRequest(name="worker.ign"))):
                code, details, _ = call(method, req)
                check(f"{attempt}, endpoint {n + 1}: {what}", code == grpc.StatusCode.OK,
                      f"{code} {details}")
    for n, http in enumerate(https):
        status, body = http.eventually("/ipxe?mac=52:54:00:7f:00:01", "tf.marker", present=False)
        check(f"http {n + 1}: nothing served after destroy", "tf.marker" not in body, body)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=("full", "terraform"))
    ap.add_argument("--proto", required=True)
    ap.add_argument("--tls", required=True)
    ap.add_argument("--other-ca")
    ap.add_argument("--rpc", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--admin")
    args = ap.parse_args()
    storage_pb, messages_pb, rpc = stubs(args.proto)
    (full if args.scenario == "full" else terraform)(args, storage_pb, messages_pb, rpc)
    print(f"rpc_client {args.scenario}: {CHECKS - FAILURES}/{CHECKS} checks passed", flush=True)
    sys.exit(1 if FAILURES else 0)


if __name__ == "__main__":
    main()
