"""Concurrent admin API writers over bootcfgd's admin API.

  admin_writers.py API distinct N   N threads each create their own profile
  admin_writers.py API same N       N threads each append their mark to one profile's args
                                    with GET + PUT If-Match, retrying on 412
  admin_writers.py API forever      write profiles until killed (for kill -9 rounds)
  admin_writers.py API acked SECS   write new profiles a0, a1, ... one after another for SECS
                                    seconds, printing "ack NAME" for each 2xx and "nack NAME
                                    STATUS" for each other answer (etcd leader-kill rounds)
API is a unix socket path or http://127.0.0.1:PORT, or several comma-separated: writer i
uses the i-th (round robin), so writers spread over replicas.
Prints one line of counts; exits 1 on any unexpected status.
"""
import http.client
import json
import socket
import sys
import threading
import time


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def call(api, method, target, body=None, headers=None):
    if api.startswith("http://"):
        host, port = api[len("http://"):].rsplit(":", 1)
        c = http.client.HTTPConnection(host, int(port), timeout=60)
    else:
        c = UnixConnection(api)
    c.request(method, target, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("ETag"), data


def profile(pid, args):
    return json.dumps({"id": pid, "boot": {"kernel": "/assets/k", "args": args}})


def main():
    apis, mode = sys.argv[1].split(","), sys.argv[2]
    errors, retries = [], [0]
    lock = threading.Lock()
    if mode == "forever":
        i = 0
        while True:
            i += 1
            call(apis[i % len(apis)], "PUT", f"/api/v1/profiles/k{i % 20}", profile(f"k{i % 20}", [f"n={i}"]))
    if mode == "acked":
        deadline, i, acked = time.monotonic() + float(sys.argv[3]), 0, 0
        while time.monotonic() < deadline:
            name = f"a{i}"
            try:
                status, _, _ = call(apis[i % len(apis)], "PUT", f"/api/v1/profiles/{name}",
                                    profile(name, [f"n={i}"]))
            except OSError as e:
                status = type(e).__name__
            if status in (200, 201):
                acked += 1
                print("ack", name, flush=True)
            else:
                print("nack", name, status, flush=True)
            i += 1
        print(f"acked: {acked} of {i} writes", file=sys.stderr)
        return
    n = int(sys.argv[3])

    def distinct(i):
        sock = apis[i % len(apis)]
        status, _, data = call(sock, "PUT", f"/api/v1/profiles/d{i}", profile(f"d{i}", [f"w={i}"]))
        if status != 201:
            errors.append(f"d{i}: {status} {data!r}")

    def same(i):
        sock = apis[i % len(apis)]
        while True:
            status, etag, data = call(sock, "GET", "/api/v1/profiles/shared")
            if status != 200:
                errors.append(f"GET shared: {status} {data!r}")
                return
            args = json.loads(data)["boot"].get("args", []) + [f"w={i}"]
            status, _, data = call(sock, "PUT", "/api/v1/profiles/shared", profile("shared", args),
                                   {"If-Match": etag})
            if status == 200:
                return
            if status != 412:
                errors.append(f"PUT shared: {status} {data!r}")
                return
            with lock:
                retries[0] += 1

    fn = distinct if mode == "distinct" else same
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{mode}: {n} writers, {retries[0]} retries after 412, {len(errors)} errors")
    for e in errors[:5]:
        print("error:", e)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
