#!/usr/bin/env python3
"""Hostile clients against a running bootcfgd on 127.0.0.1:PORT.

  storm PORT IDLE READ_TIMEOUT_S IDLE_TIMEOUT_S PID: IDLE idle connections plus slow-header and
      slow-body clients; normal requests must all be answered meanwhile (latencies printed);
      slow clients must be closed by the server after its timeouts, and no idle one may still
      hold a descriptor in bootcfgd after the idle timeout.
  shed PORT MAX PID: MAX connections held open, then more: each extra one gets a 503 and a close,
      bootcfgd's open files stay bounded, and a normal request works once the holders leave.
  abort PORT PATH N: N downloads of PATH, each reset (RST) by the client after the first bytes;
      bootcfgd must keep serving.
Prints one line per check; exits 1 if any failed.

"""
import resource
import os
import socket
import struct

import sys
import time

failures = 0


def check(ok, what):
    global failures
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures += 1


def connect(port, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_reply(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    while len(body) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


def timed_requests(port, n):
    """n requests on fresh connections; returns sorted latencies in ms, or None on a failure."""
    lat = []
    for i in range(n):
        t0 = time.perf_counter()
        with connect(port, timeout=2.0) as s:
            s.sendall(b"GET /ipxe?mac=52:54:00:12:34:56 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = read_reply(s)
        if not reply.startswith(b"HTTP/1.1 200"):
            print(f"request {i}: {reply[:60]!r}")
            return None
        lat.append((time.perf_counter() - t0) * 1000)
    return sorted(lat)


def pct(lat, p):
    return lat[min(len(lat) - 1, int(len(lat) * p / 100))]


def closed_by_server(socks, deadline):
    """How many of socks the server closes (EOF or reset) before the deadline."""
    open_socks = set(socks)
    closed = 0
    while open_socks and time.monotonic() < deadline:
        for s in list(open_socks):
            s.setblocking(False)
            try:
                data = s.recv(4096)
                if data == b"" or data.startswith(b"HTTP/1.1 4"):
                    closed += 1
                    open_socks.discard(s)
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
                open_socks.discard(s)
        time.sleep(0.05)
    return closed


def storm(port, idle_count, read_timeout, idle_timeout, pid):
    base_fds = open_fds(pid)
    before = timed_requests(port, 200)
    check(before is not None, "baseline: 200 requests answered")
    t_start = time.monotonic()
    idle = [connect(port) for _ in range(idle_count)]
    slow_header = []
    for _ in range(20):
        s = connect(port)
        s.sendall(b"GET /ipxe?mac=52:54:00:12:34:56 HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        slow_header.append(s)
    slow_body = []
    for _ in range(20):
        s = connect(port)
        s.sendall(b"GET /ipxe HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nab")
        slow_body.append(s)
    # Keep the slow-header clients trickling one byte at a time while normal traffic runs.
    during = []
    t_end = time.monotonic() + 1.0
    while time.monotonic() < t_end:
        for s in slow_header:
            try:
                s.send(b"a")
            except OSError:
                pass
        lat = timed_requests(port, 50)
        if lat is None:
            during = None
            break
        during += lat
    check(during is not None and len(during) >= 50,
          f"{idle_count} idle + 40 slow clients: every normal request answered")
    if before and during:
        during.sort()
        print(f"latency ms  baseline p50 {pct(before, 50):.2f} p99 {pct(before, 99):.2f}  "
              f"with {idle_count} idle + 40 slow: p50 {pct(during, 50):.2f} p99 {pct(during, 99):.2f}")
    # Bodies are refused at once, not read slowly.
    refused = 0
    for s in slow_body:
        s.settimeout(2.0)
        try:
            if s.recv(4096).startswith(b"HTTP/1.1 413"):
                refused += 1
        except OSError:
            pass
    check(refused == len(slow_body), f"slow-body clients answered 413 at once ({refused}/{len(slow_body)})")
    # Slow headers: closed once the read timeout runs out, however steadily they trickle.
    closed = closed_by_server(slow_header, t_start + read_timeout + 2.0)
    check(closed == len(slow_header), f"slow-header clients closed after -read-timeout ({closed}/{len(slow_header)})")
    # The kernel hands bootcfgd a connection once it sends something or after a second of
    # silence (TCP_DEFER_ACCEPT); beyond its queue of pending handshakes, silent ones are never
    # handed over at all. Either way none may still hold a descriptor after the idle timeout.
    closed = closed_by_server(idle, t_start + 1.0 + idle_timeout + 3.0)
    fds = open_fds(pid)
    check(fds <= base_fds + 5,
          f"no idle connection held past -idle-timeout: {closed}/{len(idle)} closed by bootcfgd, "
          f"the others never accepted ({fds} open files, {base_fds} before)")
    for s in idle + slow_header + slow_body:
        s.close()
    after = timed_requests(port, 50)
    check(after is not None, "requests answered after the storm")


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def shed(port, max_conn, pid):
    base_fds = open_fds(pid)
    holders = [connect(port) for _ in range(max_conn)]
    # A connection counts once accepted, and the kernel hands over a silent one only after a
    # second: the holders start a request (and never finish it).
    for s in holders:
        s.sendall(b"GET /")
    time.sleep(0.5)
    refused = 0
    for _ in range(50):
        with connect(port) as s:
            s.settimeout(3.0)
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            except OSError:
                pass
            try:
                reply = read_reply(s)
                tail = s.recv(10)
            except OSError:
                reply, tail = b"", b"x"
            if reply.startswith(b"HTTP/1.1 503") and b"too many connections" in reply and tail == b"":
                refused += 1
    check(refused == 50, f"beyond -max-connections={max_conn}: 503 and close ({refused}/50)")
    fds = open_fds(pid)
    check(fds <= base_fds + max_conn + 5, f"bootcfgd open files bounded ({fds}, base {base_fds})")
    for s in holders:
        s.close()
    time.sleep(0.3)
    check(timed_requests(port, 5) is not None, "after the holders leave, requests are answered")


def aborted_downloads(port, path, n):
    """n downloads of a large file, each reset by the client after the first bytes."""
    for _ in range(n):
        s = connect(port)
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        s.recv(65536)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()  # RST: the server's next sendfile() hits a dead socket
    time.sleep(0.5)
    check(timed_requests(port, 5) is not None, f"{n} downloads reset mid-file: still serving")


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    mode, port = sys.argv[1], int(sys.argv[2])
    if mode == "storm":
        storm(port, int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6]))
    elif mode == "shed":
        shed(port, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "abort":
        aborted_downloads(port, sys.argv[3], int(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {mode}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
