#!/usr/bin/env python3
"""A Redfish BMC test double (no Redfish service is packaged in Debian): a DMTF-style tree for
one rack server (or several) over HTTPS, applying PATCHes of the boot override and Reset actions
to its in-memory copy, and as strict or slow as the options make it: ETags required on PATCH,
BootSourceOverrideMode refused, a delay before every answer. Basic authentication; every request
is appended to --log as a JSON line (method, path, If-Match, body) for the test to check.

usage: redfish_double.py --cert C --key K --port-file F --log L --user U --password P
                         [--systems N] [--require-etag] [--reject-mode] [--delay SECONDS]"""
import argparse
import base64
import json
import os
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = "/redfish/v1"


def make_system(n):
    sid = f"RACK1-N{n}"
    path = f"{ROOT}/Systems/{sid}"
    return {
        "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
        "@odata.id": path,
        "Id": sid,
        "Name": "Rack server",
        "Manufacturer": "Bootcfg Test Systems",
        "Model": "RS-2000",
        "SerialNumber": f"SN{n:06d}",
        "UUID": f"6b9a1c2e-0000-4000-8000-{n:012d}",
        "PowerState": "On",
        "Boot": {
            "BootSourceOverrideEnabled": "Disabled",
            "BootSourceOverrideTarget": "None",
            "BootSourceOverrideMode": "UEFI",
            "BootSourceOverrideTarget@Redfish.AllowableValues": [
                "None", "Pxe", "Cd", "Usb", "Hdd", "BiosSetup", "UefiHttp"],
        },
        "ProcessorSummary": {"Count": 2, "Model": "Test CPU 64-core", "LogicalProcessorCount": 128},
        "MemorySummary": {"TotalSystemMemoryGiB": 256},
        "EthernetInterfaces": {"@odata.id": f"{path}/EthernetInterfaces"},
        "Actions": {
            "#ComputerSystem.Reset": {
                "target": f"{path}/Actions/ComputerSystem.Reset",
                # As DMTF's public-rackmount1 mockup: no PowerCycle among them.
                "ResetType@Redfish.AllowableValues": [
                    "On", "ForceOff", "GracefulShutdown", "GracefulRestart", "ForceRestart",
                    "Nmi", "ForceOn", "PushPowerButton"],
            }
        },
    }


def error(message_id, message):
    return {"error": {"code": "Base.1.15.0.GeneralError", "message": "A general error has occurred.",
                      "@Message.ExtendedInfo": [{"MessageId": f"Base.1.15.0.{message_id}",
                                                 "Message": message}]}}


class State:
    def __init__(self, systems):
        self.lock = threading.Lock()
        self.systems = {s["@odata.id"]: s for s in (make_system(n) for n in range(1, systems + 1))}
        self.etags = {path: 1 for path in self.systems}
        self.resets = []

    def etag(self, path):
        return f'W/"{self.etags[path]}"'


def main():
    ap = argparse.ArgumentParser()
    for flag in ("--cert", "--key", "--port-file", "--log", "--user", "--password"):
        ap.add_argument(flag, required=True)
    ap.add_argument("--systems", type=int, default=1)
    ap.add_argument("--require-etag", action="store_true")
    ap.add_argument("--reject-mode", action="store_true")
    ap.add_argument("--delay", type=float, default=0)
    args = ap.parse_args()
    state = State(args.systems)
    want_auth = "Basic " + base64.b64encode(f"{args.user}:{args.password}".encode()).decode()
    log_lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def reply(self, status, doc=None, headers=()):
            body = b"" if doc is None else json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self, method):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            with log_lock, open(args.log, "a") as f:
                f.write(json.dumps({"method": method, "path": self.path,
                                    "if_match": self.headers.get("If-Match"),
                                    "body": raw.decode(errors="replace")}) + "\n")
            if args.delay:
                time.sleep(args.delay)
            if self.headers.get("Authorization") != want_auth:
                return self.reply(401, error("InsufficientPrivilege", "Authentication required."),
                                  [("WWW-Authenticate", 'Basic realm="BMC"')])
            path = self.path.rstrip("/") or "/"
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                return self.reply(400, error("MalformedJSON", "The request body is not JSON."))
            with state.lock:
                return self.route(method, path, body)

        def route(self, method, path, body):
            if method == "GET" and path == ROOT:
                return self.reply(200, {"@odata.id": ROOT + "/", "RedfishVersion": "1.15.0",
                                        "Systems": {"@odata.id": ROOT + "/Systems"}})
            if method == "GET" and path == ROOT + "/Systems":
                members = [{"@odata.id": p} for p in state.systems]
                return self.reply(200, {"@odata.id": path, "Members": members,
                                        "Members@odata.count": len(members)})
            if path in state.systems:
                system = state.systems[path]
                if method == "GET":
                    doc = dict(system, **{"@odata.etag": state.etag(path)})
                    return self.reply(200, doc, [("ETag", state.etag(path))])
                if method == "PATCH":
                    if args.require_etag:
                        match = self.headers.get("If-Match")
                        if match is None:
                            return self.reply(428, error("PreconditionRequired",
                                                         "An If-Match header is required."))
                        if match != state.etag(path):
                            return self.reply(412, error("PreconditionFailed",
                                                         "The ETag does not match."))
                    boot = (body or {}).get("Boot")
                    if not isinstance(boot, dict) or set(body) != {"Boot"}:
                        return self.reply(400, error("PropertyUnknown", "Only Boot is writable."))
                    if args.reject_mode and "BootSourceOverrideMode" in boot:
                        return self.reply(400, error(
                            "PropertyNotWritable",
                            "The property BootSourceOverrideMode is a read only property."))
                    allowed = system["Boot"]["BootSourceOverrideTarget@Redfish.AllowableValues"]
                    if boot.get("BootSourceOverrideTarget", "None") not in allowed:
                        return self.reply(400, error("PropertyValueNotInList",
                                                     "BootSourceOverrideTarget is not allowed."))
                    if boot.get("BootSourceOverrideEnabled", "Once") not in (
                            "Once", "Continuous", "Disabled"):
                        return self.reply(400, error("PropertyValueNotInList",
                                                     "BootSourceOverrideEnabled is not allowed."))
                    system["Boot"].update(boot)
                    state.etags[path] += 1
                    return self.reply(204, None, [("ETag", state.etag(path))])
            for spath, system in state.systems.items():
                action = system["Actions"]["#ComputerSystem.Reset"]
                if path == action["target"] and method == "POST":
                    kind = (body or {}).get("ResetType")
                    if kind not in action["ResetType@Redfish.AllowableValues"]:
                        return self.reply(400, error("ActionParameterValueNotInList",
                                                     f"ResetType {kind} is not allowed."))
                    system["PowerState"] = "Off" if kind in ("ForceOff", "GracefulShutdown") else "On"
                    state.etags[spath] += 1
                    state.resets.append(kind)
                    return self.reply(204)
                nics = system["EthernetInterfaces"]["@odata.id"]
                n = int(system["Id"].rsplit("N", 1)[1])
                if method == "GET" and path == nics:
                    return self.reply(200, {"@odata.id": nics, "Members": [
                        {"@odata.id": f"{nics}/{i}"} for i in (1, 2)]})
                for i in (1, 2):
                    if method == "GET" and path == f"{nics}/{i}":
                        return self.reply(200, {"@odata.id": path, "Id": str(i),
                                                "MACAddress": f"52:54:00:c0:{n:02x}:{i:02x}"})
            return self.reply(404, error("ResourceMissingAtURI", f"{path} does not exist."))

        def do_GET(self):
            self.handle_any("GET")

        def do_PATCH(self):
            self.handle_any("PATCH")

        def do_POST(self):
            self.handle_any("POST")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(args.cert, args.key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
