#!/usr/bin/env python3
"""A local double of the Equinix Metal (Packet) API, following ../shared/reference/equinix-metal.md.

  metal_api.py --port-file F --token T --project P [--cert C --key K] [--log L]

Devices go queued -> provisioning (33%, 66%) -> active over polls of GET /devices/ID; a hostname
starting "fail" ends "failed". On create and on reboot the double "boots" the device: it fetches
ipxe_script_url and the kernel/initrd URLs the script names, and stays "queued" until they answer.
Errors come as {"errors": [...]} or {"error": "..."}; "facility" in a create is a 422 as on the live
API. POST /_control {"fail_next": [{"status": 429, "headers": {...}, "match": "POST /projects"}]}
injects faults before the request is handled; with "after": true the request is handled first
and its answer replaced by the fault (status 0: the connection closes with no answer; "delay": N
seconds before it), as when an API makes a device and the answer is lost. {"seed": N} adds N
devices; {"pages": N} makes the device list claim N pages of one device each. Every request is
appended to --log as one JSON line.
"""
import argparse
import json
import re
import ssl
import threading
import time
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ap = argparse.ArgumentParser()
ap.add_argument("--port-file", required=True)
ap.add_argument("--token", required=True)
ap.add_argument("--project", required=True)
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--log", default="/dev/null")
args = ap.parse_args()

lock = threading.Lock()
devices = {}
faults = []
pretend_pages = [0]
log = open(args.log, "a", buffering=1)


def boot(dev):
    """Fetch what a custom_ipxe device fetches: the script, then the files it names."""
    url = dev["ipxe_script_url"]
    try:
        script = urllib.request.urlopen(url, timeout=5).read().decode()
        base = re.search(r"set base-url (\S+)", script)
        for m in re.finditer(r"\$\{base-url\}/(\S+)", script):
            urllib.request.urlopen(base.group(1) + "/" + m.group(1), timeout=5).read()
        dev["booted"] = True
    except Exception as e:  # the device retries on its next poll
        dev["boot_error"] = str(e)


def device_json(d):
    return {k: v for k, v in d.items() if k not in ("polls", "booted", "boot_error")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, body=None, headers=None):
        f, self.after_fault = getattr(self, "after_fault", None), None
        if f:
            time.sleep(f.get("delay", 0))
            if f["status"] == 0:
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, body = f["status"], f.get("body", {"error": "injected %d" % f["status"]})
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_any(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        query = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&")) if "?" in self.path else {}
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return self.reply(400, {"errors": ["body is not JSON"]})
        log.write(json.dumps({"method": method, "path": self.path, "body": body,
                              "token": self.headers.get("X-Auth-Token"), "time": time.time()}) + "\n")
        if path == "/_control":
            with lock:
                faults.extend((body or {}).get("fail_next", []))
                pretend_pages[0] = (body or {}).get("pages", pretend_pages[0])
                for _ in range((body or {}).get("seed", 0)):
                    i = str(uuid.uuid4())
                    devices[i] = {"id": i, "short_id": i[:8], "hostname": "seed-" + i[:4], "state": "active",
                                  "metro": {"code": "am"}, "facility": {"code": "am6"}, "plan": {"slug": "c3.small.x86"},
                                  "provisioning_percentage": 100, "ip_addresses": [], "polls": 0}
            return self.reply(200, {"ok": True})
        with lock:
            for i, f in enumerate(faults):
                if (method + " " + path).startswith(f.get("match", "")):
                    faults.pop(i)
                    if f.get("after"):
                        self.after_fault = f
                        break
                    hdrs = dict(f.get("headers", {}))
                    if "reset_in" in f:
                        hdrs["X-RateLimit-Reset"] = int(time.time()) + f["reset_in"]
                    return self.reply(f["status"], f.get("body", {"error": "injected %d" % f["status"]}), hdrs)
        if self.headers.get("X-Auth-Token") != args.token:
            return self.reply(401, {"error": "Invalid authentication token"})
        m = re.fullmatch(r"/metal/v1/projects/([^/]+)/devices", path)
        if m:
            if m.group(1) != args.project:
                return self.reply(404, {"errors": ["Not found"]})
            if method == "GET" and pretend_pages[0]:
                page = int(query.get("page", 1))
                return self.reply(200, {"devices": [{"id": "page-%d" % page, "hostname": "h", "state": "active"}],
                                        "meta": {"current_page": page, "last_page": pretend_pages[0]}})
            if method == "GET":
                page, per = int(query.get("page", 1)), min(int(query.get("per_page", 10)), 100)
                with lock:
                    items = sorted(devices.values(), key=lambda d: d["id"])
                last = max(1, (len(items) + per - 1) // per)
                chunk = items[(page - 1) * per: page * per]
                return self.reply(200, {"devices": [device_json(d) for d in chunk],
                                        "meta": {"current_page": page, "last_page": last, "total": len(items),
                                                 "next": None if page >= last else {"href": "?page=%d" % (page + 1)}}})
            if method == "POST":
                if "facility" in body:
                    return self.reply(422, {"errors": ["facility is deprecated; use metro"]})
                missing = [k for k in ("plan", "metro", "hostname") if not body.get(k)]
                if missing:
                    return self.reply(422, {"errors": ["%s is required" % k for k in missing]})
                if body.get("operating_system") != "custom_ipxe" or not body.get("ipxe_script_url"):
                    return self.reply(422, {"errors": ["custom_ipxe needs ipxe_script_url"]})
                i = str(uuid.uuid4())
                d = {"id": i, "short_id": i[:8], "hostname": body["hostname"], "state": "queued",
                     "provisioning_percentage": 0, "metro": {"code": body["metro"]},
                     "facility": {"code": body["metro"] + "6"}, "plan": {"slug": body["plan"]},
                     "ipxe_script_url": body["ipxe_script_url"], "always_pxe": body.get("always_pxe"),
                     "tags": body.get("tags", []), "userdata": body.get("userdata", ""),
                     "ip_addresses": [{"address": "198.51.100.%d" % (len(devices) % 250 + 1)}], "polls": 0}
                with lock:
                    devices[i] = d
                threading.Thread(target=boot, args=(d,), daemon=True).start()
                return self.reply(201, device_json(d))
            return self.reply(405, {"error": "method not allowed"})
        m = re.fullmatch(r"/metal/v1/devices/([^/]+)(/actions)?", path)
        if m:
            with lock:
                d = devices.get(m.group(1))
            if d is None:
                return self.reply(404, {"errors": ["Not found"]})
            if m.group(2):
                if method != "POST" or (body or {}).get("type") not in ("power_on", "power_off", "reboot", "rescue", "reinstall"):
                    return self.reply(422, {"errors": ["unknown action"]})
                d["state"], d["provisioning_percentage"], d["polls"], d["booted"] = "queued", 0, 0, False
                threading.Thread(target=boot, args=(d,), daemon=True).start()
                return self.reply(202)
            if method == "GET":
                with lock:
                    if d["state"] not in ("active", "failed"):
                        if d.get("booted"):
                            d["polls"] += 1
                        step = d["polls"]
                        if d["hostname"].startswith("fail") and step >= 2:
                            d["state"] = "failed"
                        elif step >= 3:
                            d["state"], d["provisioning_percentage"] = "active", 100
                        elif step >= 1:
                            d["state"], d["provisioning_percentage"] = "provisioning", 33 * step
                    return self.reply(200, device_json(d))
            if method == "PUT":
                for k in ("hostname", "description", "ipxe_script_url", "always_pxe", "userdata", "tags", "locked"):
                    if k in body:
                        d[k] = body[k]
                unknown = set(body) - {"hostname", "description", "ipxe_script_url", "always_pxe", "userdata",
                                       "tags", "locked", "customdata", "billing_cycle"}
                if unknown:
                    return self.reply(422, {"errors": ["unknown field %s" % k for k in sorted(unknown)]})
                return self.reply(200, device_json(d))
            if method == "DELETE":
                with lock:
                    devices.pop(d["id"], None)
                return self.reply(204)
        return self.reply(404, {"errors": ["Not found"]})

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_HEAD(self):
        self.reply(405)


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
if args.cert:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
with open(args.port_file + ".tmp", "w") as fh:
    fh.write(str(server.server_address[1]))
import os
os.rename(args.port_file + ".tmp", args.port_file)
server.serve_forever()
