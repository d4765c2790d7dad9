#!/usr/bin/env python3
"""Plays systemd's side of sd_notify for a test: binds a datagram socket (a path, or "@name" for
the abstract namespace), prints each message as one line with "|" for newlines, and on each
READY=1 checks at once that the port named in STATUS accepts a request (/healthz -> 200).
Usage: notify_listener.py SOCKET OUTFILE"""
import re
import socket
import sys
import urllib.request

path, out = sys.argv[1], sys.argv[2]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind("\0" + path[1:] if path.startswith("@") else path)
with open(out, "a", buffering=1) as f:
    f.write("LISTENING\n")
    while True:
        msg = sock.recv(4096).decode()
        line = msg.strip().replace("\n", "|")
        if "READY=1" in msg:
            m = re.search(r"STATUS=serving (http://\S+)", msg)
            try:
                with urllib.request.urlopen(m.group(1) + "/healthz", timeout=2) as r:
                    line += f" [port open: {r.status}]"
            except Exception as e:  # noqa: BLE001 - any failure is the finding
                line += f" [port not answering: {e}]"
        f.write(line + "\n")
