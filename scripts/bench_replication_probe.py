#!/usr/bin/env python3
"""Helpers for scripts/bench-replication (stdlib only).

  lag LEADER_PORT SECONDS F1 F2...   sample leader offset minus each follower's every
                                     50 ms; print max and p99 lag in bytes and in ms
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


def pct(sorted_values, p):
    return sorted_values[max(0, int(len(sorted_values) * p) - 1)]


def lag(leader, seconds, followers):
    """Lag in bytes (leader offset minus follower offset), and in ms: the bytes divided
    by the stream's rate over the last 50 ms window (how long the leader took to produce
    what the follower has not applied yet). Samples while the leader is idle are skipped."""
    l = conn(leader)
    fs = [conn(p) for p in followers]
    lag_bytes, lag_ms = [], []
    end = time.time() + float(seconds)
    prev = None
    while time.time() < end:
        t = time.perf_counter()
        lo = offset(l)
        rate = None
        if prev is not None and t > prev[0] and lo > prev[1]:
            rate = (lo - prev[1]) / (t - prev[0])
        prev = (t, lo)
        # Only samples taken while the leader is writing count (the load may end
        # before the sampling period does).
        for f in fs:
            b = max(0, lo - offset(f))
            if rate:
                lag_bytes.append(b)
                lag_ms.append(b / rate * 1000)
        time.sleep(0.05)
    lag_bytes.sort()
    lag_ms.sort()
    if not lag_bytes:
        print("lag max=0 p99=0")
        return
    ms = " | ms max=%.1f p99=%.1f" % (lag_ms[-1], pct(lag_ms, 0.99)) if lag_ms else ""
    print("bytes max=%d p99=%d%s" % (lag_bytes[-1], pct(lag_bytes, 0.99), ms))


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
    print("writes n=%d max_ms=%.2f p99_ms=%.2f" % (len(lat), lat[-1], pct(lat, 0.99)))


if __name__ == "__main__":
    what = sys.argv[1]
    if what == "lag":
        lag(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif what == "writes":
        writes(sys.argv[2], sys.argv[3])
