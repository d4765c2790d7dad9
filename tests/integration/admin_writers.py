"""Concurrent admin API writers over bootcfgd's unix socket.

  admin_writers.py SOCKET distinct N   N threads each create their own profile
  admin_writers.py SOCKET same N       N threads each append their mark to one profile's args
                                       with GET + PUT If-Match, retrying on 412
  admin_writers.py SOCKET forever      write profiles until killed (for kill -9 rounds)
Prints one line of counts; exits 1 on any unexpected status.
"""
import http.client
import json
import socket
import sys
import threading


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def call(path, method, target, body=None, headers=None):
    c = UnixConnection(path)
    c.request(method, target, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("ETag"), data


def profile(pid, args):
    return json.dumps({"id": pid, "boot": {"kernel": "/assets/k", "args": args}})


def main():
    sock, mode = sys.argv[1], sys.argv[2]
    errors, retries = [], [0]
    lock = threading.Lock()
    if mode == "forever":
        i = 0
        while True:
            i += 1
            call(sock, "PUT", f"/api/v1/profiles/k{i % 20}", profile(f"k{i % 20}", [f"n={i}"]))
    n = int(sys.argv[3])

    def distinct(i):
        status, _, data = call(sock, "PUT", f"/api/v1/profiles/d{i}", profile(f"d{i}", [f"w={i}"]))
        if status != 201:
            errors.append(f"d{i}: {status} {data!r}")

    def same(i):
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
