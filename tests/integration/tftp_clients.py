#!/usr/bin/env python3
"""Raw TFTP clients for tftp.sh: what curl, tftp-hpa and atftp cannot send or show.

  first PORT NAME [MODE]        send one read request, print the server's first answer
  probe PORT NAME OUT           OVMF's size probe: tsize, then abort with error 8, then the
                                download (into OUT)
  limits PORT MAX               MAX+1 transfers left waiting: the last gets no answer; freed ones
  rate PORT COUNT               COUNT requests at once from one address: how many are answered
  relay SERVER PATTERN          a relay that drops packets (PATTERN: drop packet n when
                                n % a == b, "a:b"); prints its port, then what it dropped when
                                stdin closes
"""
import select
import socket
import struct
import sys
import threading


def rrq(name, mode=b"octet", options=()):
    packet = struct.pack("!H", 1) + name + b"\0" + mode + b"\0"
    for key, value in options:
        packet += key + b"\0" + value + b"\0"
    return packet


def describe(packet):
    op = struct.unpack("!H", packet[:2])[0]
    if op == 5:
        code = struct.unpack("!H", packet[2:4])[0]
        return "error %d %s" % (code, packet[4:].split(b"\0")[0].decode(errors="replace"))
    if op == 3:
        return "data %d %d" % (struct.unpack("!H", packet[2:4])[0], len(packet) - 4)
    if op == 6:
        fields = packet[2:].split(b"\0")[:-1]
        return "oack " + " ".join(f.decode() for f in fields)
    return "opcode %d" % op


def sock():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(2)
    return s


def first(port, name, mode=b"octet"):
    s = sock()
    s.sendto(rrq(name, mode), ("127.0.0.1", port))
    try:
        packet, peer = s.recvfrom(70000)
    except socket.timeout:
        print("no answer")
        return
    if packet[:2] == b"\0\3":  # do not leave a transfer waiting for its ACK
        s.sendto(b"\0\5\0\0stop\0", peer)
    print(describe(packet))


def probe(port, name, out):
    s = sock()
    s.sendto(rrq(name, options=[(b"tsize", b"0"), (b"blksize", b"1468")]), ("127.0.0.1", port))
    packet, peer = s.recvfrom(70000)
    print("probe:", describe(packet))
    s.sendto(b"\0\5\0\x08User aborted the transfer\0", peer)
    # Then the download itself, block by block.
    s = sock()
    s.sendto(rrq(name, options=[(b"blksize", b"1468")]), ("127.0.0.1", port))
    packet, peer = s.recvfrom(70000)
    assert packet[:2] == b"\0\6", describe(packet)
    s.sendto(b"\0\4\0\0", peer)
    data = b""
    while True:
        packet, _ = s.recvfrom(70000)
        block = packet[2:4]
        data += packet[4:]
        s.sendto(b"\0\4" + block, peer)
        if len(packet) - 4 < 1468:
            break
    with open(out, "wb") as f:
        f.write(data)


def limits(port, most):
    waiting = []
    for _ in range(most + 1):
        s = sock()
        s.settimeout(1)
        s.sendto(rrq(b"undionly.kpxe"), ("127.0.0.1", port))
        try:
            packet, peer = s.recvfrom(70000)
            waiting.append((s, peer))
            print("answered:", describe(packet))
        except socket.timeout:
            print("no answer")
    for s, peer in waiting:  # end them: the limit frees up
        s.sendto(b"\0\5\0\0done\0", peer)
    s = sock()
    s.sendto(rrq(b"undionly.kpxe"), ("127.0.0.1", port))
    packet, peer = s.recvfrom(70000)
    s.sendto(b"\0\5\0\0done\0", peer)
    print("after:", describe(packet))


def rate(port, count):
    s = sock()
    s.settimeout(1)
    for _ in range(count):
        s.sendto(rrq(b"missing.bin"), ("127.0.0.1", port))
    answered = 0
    try:
        while True:
            s.recvfrom(70000)
            answered += 1
    except socket.timeout:
        pass
    print(answered)


def relay(server, pattern):
    """Client <-> relay (one port) <-> server (port 69, then the transfer's own port)."""
    every, which = (int(x) for x in pattern.split(":"))
    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", 0))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind(("127.0.0.1", 0))
    state = {"client": None, "server": ("127.0.0.1", server), "n": 0, "dropped": []}
    stop = threading.Event()

    def run():
        while not stop.is_set():
            ready, _, _ = select.select([front, back], [], [], 0.1)
            for s in ready:
                packet, peer = s.recvfrom(70000)
                if s is front:
                    if packet[:2] == b"\0\1":  # a new transfer starts at port 69
                        state["client"], state["server"] = peer, ("127.0.0.1", server)
                    target, out = state["server"], back
                else:
                    state["server"] = peer  # the transfer's own port
                    target, out = state["client"], front
                n = state["n"]
                state["n"] += 1
                if n % every == which:
                    state["dropped"].append(describe(packet) if s is back else "client " + describe(packet))
                    continue
                out.sendto(packet, target)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    print(front.getsockname()[1], flush=True)
    sys.stdin.read()
    stop.set()
    t.join()
    print("dropped %d packets: %s" % (len(state["dropped"]), ", ".join(state["dropped"][:8])))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "first":
        name = args[1].replace("<NUL>", "\0").encode("latin-1")  # argv cannot carry a NUL
        first(int(args[0]), name, args[2].encode() if len(args) > 2 else b"octet")
    elif cmd == "probe":
        probe(int(args[0]), args[1].encode(), args[2])
    elif cmd == "limits":
        limits(int(args[0]), int(args[1]))
    elif cmd == "rate":
        rate(int(args[0]), int(args[1]))
    elif cmd == "relay":
        relay(int(args[0]), args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
