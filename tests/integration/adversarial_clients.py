"""Raw-socket clients for adversarial.sh: what curl will not send (smuggling shapes, missing or
doubled Host, headers without their body) and fd-exhaustion scenarios. Prints one line per
check; exits 1 on any failure."""
import os
import socket
import sys
import time

FAILED = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        FAILED.append(what)


def exchange(port, data, timeout=5.0, tls=None):
    """Sends data, returns every byte the server sends until it closes (or the timeout)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        out = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()


def statuses(reply):
    return [int(line.split()[1]) for line in reply.split(b"\r\n")
            if line.startswith(b"HTTP/1.") and len(line.split()) > 1]


def framing(port, token):
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n" if token else b""
    for coding in [b"chunkedx", b"gzip", b"chunked, gzip", b"identity", b"x" * 40]:
        req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + auth + b"Transfer-Encoding: " + coding +
               b"\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n")
        got = statuses(exchange(port, req))
        check(got == [501], "Transfer-Encoding %r: one 501, nothing smuggled (got %s)" % (coding, got))
    for name, head in [("no Host", b"GET /healthz HTTP/1.1\r\n" + auth + b"\r\n"),
                       ("two Host", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n" + auth + b"\r\n"),
                       ("two Host, HTTP/1.0", b"GET /healthz HTTP/1.0\r\nHost: a\r\nHost: b\r\n" + auth + b"\r\n")]:
        got = statuses(exchange(port, head))
        check(got == [400], "%s: 400 (got %s)" % (name, got))
    got = statuses(exchange(port, b"GET /healthz HTTP/1.0\r\n" + auth + b"\r\n"))
    check(got and got[0] in (200, 404), "HTTP/1.0 without Host is fine (got %s)" % got)


def auth_before_body(port, count):
    """Unauthenticated clients announce a large body: each gets 401 at once, none is read."""
    socks = []
    t0 = time.monotonic()
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"PUT /api/v1/groups/x%d HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 1000000\r\n\r\n" % i + b"{" * 1000)
        socks.append(s)
    answered = 0
    for s in socks:
        try:
            data = s.recv(4096)
            if data.startswith(b"HTTP/1.1 401"):
                answered += 1
        except OSError:
            pass
        s.close()
    check(answered == count, "%d unauthenticated PUTs with 1 MB bodies announced: %d answered 401 "
          "before any body was sent (%.1f s)" % (count, answered, time.monotonic() - t0))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def admin_flood(machine_port, admin_port, pid, count):
    """Many idle unauthenticated admin connections: the admin listener keeps at most its cap, the
    machine listener keeps answering, and nothing spins."""
    socks = []
    for _ in range(count):
        try:
            socks.append(socket.create_connection(("127.0.0.1", admin_port), timeout=5))
        except OSError:
            pass
    time.sleep(0.5)
    open_now = 0
    for s in socks:
        s.setblocking(False)
        try:
            data = s.recv(1024)
            if data.startswith(b"HTTP/1.1 503") or data == b"":
                continue
        except BlockingIOError:
            pass
        except OSError:
            continue
        open_now += 1
    fds = len(os.listdir("/proc/%d/fd" % pid))
    check(open_now <= 70, "%d idle admin connections: %d kept open by bootcfgd (cap 64)" % (count, open_now))
    check(fds < 200, "bootcfgd holds %d file descriptors" % fds)
    got = statuses(exchange(machine_port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))
    check(got == [200], "machine listener answers during the admin flood (got %s)" % got)
    for s in socks:
        s.close()


def exhaust(machine_port, admin_port, pid, count, hold_seconds):
    """Idle machine connections until accept() fails with EMFILE; then both accept loops back off
    (CPU stays low), and a reload in that state keeps every config (checked by the caller)."""
    socks = []
    for _ in range(count):
        try:
            socks.append(socket.create_connection(("127.0.0.1", machine_port), timeout=2))
        except OSError:
            break
    # Pending connections on both listeners that bootcfgd cannot accept.
    extra = []
    for port in (machine_port, admin_port):
        for _ in range(3):
            try:
                extra.append(socket.create_connection(("127.0.0.1", port), timeout=2))
            except OSError:
                pass
    time.sleep(0.3)
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(hold_seconds)
    used = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    check(used < 0.5, "out of file descriptors for %.1f s: bootcfgd used %.0f%% of a core" % (hold_seconds, used * 100))
    return socks + extra


def main():
    mode = sys.argv[1]
    if mode == "framing":
        framing(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "")
    elif mode == "auth-before-body":
        auth_before_body(int(sys.argv[2]), int(sys.argv[3]))
    elif mode == "admin-flood":
        admin_flood(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    elif mode == "exhaust":
        # Holds the connections until stdin closes, so the caller can reload meanwhile.
        socks = exhaust(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), 2.0)
        print("exhausted", flush=True)
        sys.stdin.read()
        for s in socks:
            s.close()
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    main()
