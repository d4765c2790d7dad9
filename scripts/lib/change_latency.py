#!/usr/bin/env python3
"""Time from renaming a changed group file into place to bootcfgd serving the change.

Each round writes the group with the other of two profiles to a hidden temp file, renames it
over the group file (as editors and config tools do) and polls /ipxe for that machine over one
keep-alive connection until the answer names the new profile's flavour. Prints
"median_ms max_ms rounds" on stdout.

  change_latency.py URL GROUP_FILE MAC [ROUNDS]
"""
import http.client
import json
import os
import statistics
import sys
import time
import urllib.parse


def main():
    url, path, mac = sys.argv[1], sys.argv[2], sys.argv[3]
    rounds = int(sys.argv[4]) if len(sys.argv) > 4 else 20
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    with open(path) as f:
        group = json.load(f)
    times = []
    for i in range(rounds):
        profile = "p1" if group["profile"] == "p0" else "p0"
        group["profile"] = profile
        tmp = os.path.join(os.path.dirname(path), ".change-latency.tmp")
        with open(tmp, "w") as f:
            json.dump(group, f)
        want = ("os.flavor=%s" % profile[1:]).encode()
        start = time.monotonic()
        os.rename(tmp, path)
        while True:
            conn.request("GET", "/ipxe?mac=" + mac)
            body = conn.getresponse().read()
            if want in body:
                break
            if time.monotonic() - start > 10:
                sys.exit("change_latency: %s not served after 10 s" % path)
        times.append((time.monotonic() - start) * 1000)
        time.sleep(0.2)  # apart: each round is one change, not a burst
    print("%.1f %.1f %d" % (statistics.median(times), max(times), len(times)))


if __name__ == "__main__":
    main()
