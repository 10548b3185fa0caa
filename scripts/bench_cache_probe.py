#!/usr/bin/env python3
"""Helpers for scripts/bench-cache (stdlib only).

  peak PORT SECONDS                 sample used_memory every 20 ms; print the peak
  invalidation LEADER FOLLOWER N    N tracking clients (RESP3, CLIENT TRACKING on) on the
                                    follower read a key; a writer SETs it on the leader;
                                    time from sending the write to each client's push.
                                    Prints p50/p99/max in ms over all clients and rounds.
"""
import asyncio
import socket
import sys
import time


def enc(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def peak(port, seconds):
    s = socket.create_connection(("127.0.0.1", int(port)))
    f = s.makefile("rb")
    best = 0
    end = time.time() + float(seconds)
    while time.time() < end:
        s.sendall(enc("INFO", "memory"))
        n = int(f.readline()[1:])
        body = f.read(n + 2).decode()
        for line in body.split("\r\n"):
            if line.startswith("used_memory:"):
                best = max(best, int(line.split(":")[1]))
        time.sleep(0.02)
    print(best)


async def read_frame(r):
    """Reads one RESP2/RESP3 frame; returns a nested Python value."""
    line = await r.readline()
    t, rest = line[:1], line[1:-2]
    if t in (b"+", b"-", b":", b"_", b"#", b","):
        return rest
    if t == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = await r.readexactly(n + 2)
        return data[:-2]
    if t in (b"*", b">", b"~"):
        n = int(rest)
        return [await read_frame(r) for _ in range(max(n, 0))]
    if t == b"%":
        n = int(rest)
        return [await read_frame(r) for _ in range(2 * n)]
    raise RuntimeError("unexpected %r" % line)


async def invalidation(leader, follower, nclients, rounds=100):
    clients = []
    for _ in range(nclients):
        r, w = await asyncio.open_connection("127.0.0.1", int(follower))
        w.write(enc("HELLO", "3") + enc("CLIENT", "TRACKING", "on"))
        await w.drain()
        await read_frame(r)
        await read_frame(r)
        clients.append((r, w))
    lr, lw = await asyncio.open_connection("127.0.0.1", int(leader))
    lw.write(enc("SET", "inv:key", "0"))
    await lw.drain()
    await read_frame(lr)
    await asyncio.sleep(0.5)
    lat = []
    for i in range(rounds):
        # Every client reads the key (so it is tracked), then one write on the leader.
        for r, w in clients:
            w.write(enc("GET", "inv:key"))
        for r, w in clients:
            await w.drain()
            while True:
                f = await read_frame(r)
                if not (isinstance(f, list) and f and f[0] == b"invalidate"):
                    break
        t0 = time.perf_counter()
        lw.write(enc("SET", "inv:key", str(i)))
        await lw.drain()

        async def wait_push(r):
            while True:
                f = await read_frame(r)
                if isinstance(f, list) and f and f[0] == b"invalidate":
                    return time.perf_counter() - t0

        got = await asyncio.wait_for(asyncio.gather(*(wait_push(r) for r, _ in clients)), 10)
        lat += got
        await read_frame(lr)
    lat.sort()
    pct = lambda p: lat[max(0, int(len(lat) * p) - 1)] * 1000
    print("p50=%.2fms p99=%.2fms max=%.2fms n=%d" % (pct(0.5), pct(0.99), lat[-1] * 1000, len(lat)))


def main():
    if sys.argv[1] == "peak":
        peak(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "invalidation":
        asyncio.run(invalidation(sys.argv[2], sys.argv[3], int(sys.argv[4])))


if __name__ == "__main__":
    main()
