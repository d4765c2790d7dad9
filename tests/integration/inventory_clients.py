#!/usr/bin/env python3
"""Load for the inventory tests.

  inventory_clients.py storm URL MACHINES [BOOTS] [THREADS]
      each machine (52:54:01:xx:xx:xx, its own MAC) fetches /ipxe BOOTS times (default 2),
      THREADS keep-alive connections at once; prints "sent N failed F"
  inventory_clients.py acked ADMIN_URL COUNT OUT
      sets machines 52:54:02:00:xx:xx to state "acked" one after another through the admin API
      and appends each acknowledged (200) id to OUT, flushed, until COUNT or the server is gone
"""
import http.client
import json
import sys
import threading
import urllib.parse


def mac(prefix, i):
    return f"52:54:{prefix:02x}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"


def storm(url, machines, boots, threads):
    u = urllib.parse.urlsplit(url)
    sent = [0] * threads
    failed = [0] * threads

    def worker(t):
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        for i in range(t, machines, threads):
            for _ in range(boots):
                try:
                    conn.request("GET", f"/ipxe?mac={mac(1, i)}")
                    r = conn.getresponse()
                    r.read()
                    sent[t] += 1
                    if r.status != 200:
                        failed[t] += 1
                except (OSError, http.client.HTTPException):
                    failed[t] += 1
                    conn.close()
                    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    ts = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    print(f"sent {sum(sent)} failed {sum(failed)}")


def acked(admin, count, out):
    u = urllib.parse.urlsplit(admin)
    with open(out, "a") as f:
        for i in range(count):
            m = mac(2, i)
            try:
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
                conn.request("PATCH", "/api/v1/machines/" + m, body=json.dumps({"state": "acked"}),
                             headers={"Content-Type": "application/json"})
                r = conn.getresponse()
                r.read()
                conn.close()
            except (OSError, http.client.HTTPException):
                return
            if r.status == 200:
                f.write(m + "\n")
                f.flush()


if __name__ == "__main__":
    if sys.argv[1] == "storm":
        storm(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]) if len(sys.argv) > 4 else 2,
              int(sys.argv[5]) if len(sys.argv) > 5 else 8)
    else:
        acked(sys.argv[2], int(sys.argv[3]), sys.argv[4])
