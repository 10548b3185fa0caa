#!/usr/bin/env python3
"""Helpers for scripts/bench-replication (stdlib only).

  lag LEADER_PORT SECONDS F1 F2...   sample leader offset minus each follower's every
                                     50 ms; print max and p99 lag in bytes
  writes PORT SECONDS                SET in a loop; print count and max/p99 latency (ms)
"""
import socket
import sys
import time


def cmd(sock, *args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)
    return read_reply(sock.makefile("rb"))


def read_reply(f):
    line = f.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-", b":"):
        return rest
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    raise RuntimeError("unexpected reply %r" % line)


def conn(port):
    s = socket.create_connection(("127.0.0.1", int(port)))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def offset(sock):
    info = cmd(sock, "INFO", "replication").decode()
    for line in info.split("\r\n"):
        if line.startswith("master_repl_offset:"):
            return int(line.split(":")[1])
    return 0


def lag(leader, seconds, followers):
    l = conn(leader)
    fs = [conn(p) for p in followers]
    samples = []
    end = time.time() + float(seconds)
    while time.time() < end:
        lo = offset(l)
        for f in fs:
            samples.append(max(0, lo - offset(f)))
        time.sleep(0.05)
    samples.sort()
    if not samples:
        print("lag max=0 p99=0")
        return
    print("lag max=%d p99=%d" % (samples[-1], samples[int(len(samples) * 0.99) - 1 if len(samples) > 1 else 0]))


def writes(port, seconds):
    s = conn(port)
    f = s.makefile("rb")
    lat = []
    end = time.time() + float(seconds)
    i = 0
    while time.time() < end:
        t = time.perf_counter()
        s.sendall(b"*3\r\n$3\r\nSET\r\n$6\r\nprobe:\r\n$%d\r\n%d\r\n" % (len(str(i)), i))
        read_reply(f)
        lat.append((time.perf_counter() - t) * 1000)
        i += 1
    lat.sort()
    print("writes n=%d max_ms=%.2f p99_ms=%.2f" % (len(lat), lat[-1], lat[int(len(lat) * 0.99) - 1]))


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "lag":
        lag(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif what == "writes":
        writes(sys.argv[2], sys.argv[3])
