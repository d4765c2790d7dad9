#!/usr/bin/env python3
"""Writes through one bootcfgd replica's admin API, read on another (scripts/bench-etcd).

  replica_latency.py latency ADMIN_A URL_B MAC GROUP ROUNDS
      each round PUTs GROUP (selecting MAC) on A with the other of two profiles, then polls
      B's /ipxe over one keep-alive connection until it names that profile's flavour; prints
      "p50_ms p99_ms max_ms rounds" (from A's reply to B serving it)
  replica_latency.py stream ADMIN RATE SECONDS
      PUTs groups w0..w99 (MACs 52:54:ff:00:00:XX) at RATE per second for SECONDS; prints
      "writes failed"
"""
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def connect(url):
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def put(conn, kind, name, doc):
    conn.request("PUT", f"/api/v1/{kind}/{name}", body=json.dumps(doc),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    r.read()
    return r.status


def latency(admin, url_b, mac, group, rounds):
    a, b = connect(admin), connect(url_b)
    times = []
    for i in range(rounds):
        profile = "p%d" % (i % 2)
        status = put(a, "groups", group, {"id": group, "profile": profile, "selector": {"mac": mac}})
        if status not in (200, 201):
            sys.exit(f"replica_latency: PUT {group} answered {status}")
        start = time.monotonic()
        want = ("os.flavor=%d" % (i % 2)).encode()
        while True:
            b.request("GET", "/ipxe?mac=" + mac)
            if want in b.getresponse().read():
                break
            if time.monotonic() - start > 10:
                sys.exit(f"replica_latency: {group} not served by {url_b} after 10 s")
        times.append((time.monotonic() - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print("%.2f %.2f %.2f %d" % (statistics.median(times), p99, times[-1], len(times)))


def stream(admin, rate, seconds):
    conn = connect(admin)
    writes = failed = 0
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        # Each round of the 100 groups moves them all to the next profile: every write is a
        # change (a write of the bytes already stored changes nothing and reaches no replica).
        i = writes % 100
        status = put(conn, "groups", f"w{i}",
                     {"id": f"w{i}", "profile": "p%d" % ((writes // 100) % 4),
                      "selector": {"mac": "52:54:ff:00:00:%02x" % i}})
        writes += 1
        failed += status not in (200, 201)
        next_at = start + writes / rate
        time.sleep(max(0, next_at - time.monotonic()))
    print(writes, failed)


if __name__ == "__main__":
    if sys.argv[1] == "latency":
        latency(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        stream(sys.argv[2], float(sys.argv[3]), float(sys.argv[4]))
