#!/usr/bin/env python3
"""Failover drill driver for scripts/failover-drill (stdlib only).

One run: a leader, two followers and three sentinels on loopback; a writer that finds the
leader through the sentinels and records every acknowledged write (and, with --wait,
every write also acknowledged by WAIT 1 100); one fault on the leader; then a report.
In partition mode there are two writers: one on the leader's side, which keeps writing
to it until it refuses a write (it cannot ask the sentinels), and one that follows the
sentinels; the old leader's acknowledgements after the new leader's first one are what
"two leaders" costs.

  failover_drill.py --server BIN --sentinel BIN --mode kill|partition|stop [--wait]
                    [--min-replicas] [--lease MS] [--json]

Modes: kill (kill -9 the leader, restart it after the switch), partition (every link to
the leader goes through a proxy that is cut, healed after the switch), stop (SIGSTOP for
5 s, then SIGCONT).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

NAME = "mymaster"


def now():
    return time.monotonic()


class Conn:
    """A minimal RESP2 client with timeouts."""

    def __init__(self, port, timeout=1.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.f = self.s.makefile("rb")

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass

    def send(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)

    def read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            return self.f.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError("bad reply %r" % line)

    def call(self, *args):
        self.send(*args)
        return self.read()


def try_call(port, *args, timeout=1.0):
    try:
        c = Conn(port, timeout)
        try:
            return c.call(*args)
        finally:
            c.close()
    except (OSError, ConnectionError):
        return None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def shutdown_both(*socks):
    """Shuts sockets down in both directions, ignoring ones already gone."""
    for x in socks:
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class Proxy:
    """A TCP proxy that can cut every connection and refuse new ones (a partition)."""

    def __init__(self, target):
        self.target = target
        self.blocked = False
        self.conns = []
        self.lock = threading.Lock()
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(128)
        self.port = self.ls.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                c, addr = self.ls.accept()
            except OSError:
                return
            if self.blocked or self.refused(addr):
                c.close()
                continue
            try:
                s = socket.create_connection(("127.0.0.1", self.target), timeout=1)
                s.settimeout(None)
            except OSError:
                c.close()
                continue
            self.connected(c, s, addr)

    def refused(self, addr):
        """Hook: refuse a connection from `addr` (none here)."""
        return False

    def connected(self, c, s, addr):
        """Hook: relay between client `c` and server `s` in both directions."""
        with self.lock:
            self.conns += [c, s]
        for a, b in ((c, s), (s, c)):
            threading.Thread(target=self.pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def pipe(a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        shutdown_both(a, b)

    def cut(self):
        self.blocked = True
        with self.lock:
            for c in self.conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.conns = []

    def heal(self):
        self.blocked = False


class Cluster:
    def __init__(self, server, sentinel, min_replicas, tmp, lease_ms=0, down_after_ms=None):
        self.server, self.sentinel, self.tmp = server, sentinel, tmp
        self.procs = {}
        self.min_replicas = min_replicas
        self.lease_ms = lease_ms
        self.down_after_ms = down_after_ms or DOWN_AFTER_MS

    def start_node(self, name, port, *extra):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        args = [self.server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--repl-diskless-sync-delay", "0"]
        # DEBUG DIGEST compares nodes; both servers refuse DEBUG unless enabled.
        args += ["--enable-debug-command", "yes"]
        if self.min_replicas:
            args += ["--min-replicas-to-write", "1", "--min-replicas-max-lag", "1"]
        if self.lease_ms:
            args += ["--leader-lease-ms", str(self.lease_ms)]
        args += list(extra)
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        self.procs[name] = subprocess.Popen(args, cwd=d, stdout=log, stderr=log)
        wait_for(lambda: try_call(port, "PING") == "PONG", 10, "%s up" % name)

    def start_sentinel(self, name, port, leader_port):
        conf = os.path.join(self.tmp, name + ".conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\n" % port)
            f.write("sentinel monitor %s 127.0.0.1 %d 2\n" % (NAME, leader_port))
            f.write("sentinel down-after-milliseconds %s %d\n" % (NAME, self.down_after_ms))
            f.write("sentinel failover-timeout %s 10000\n" % NAME)
        self.launch_sentinel(name, port)

    def launch_sentinel(self, name, port):
        """Starts sentinel `name` on its configuration file and waits until it answers."""
        conf = os.path.join(self.tmp, name + ".conf")
        log = open(os.path.join(self.tmp, name + ".log"), "ab")
        args = [self.sentinel, conf]
        if os.path.basename(self.sentinel) == "redis-server":
            args.append("--sentinel")
        self.procs[name] = subprocess.Popen(args, cwd=self.tmp, stdout=log, stderr=log)
        wait_for(lambda: try_call(port, "PING") == "PONG", 10, "%s up" % name)

    def restart_sentinel(self, name, port):
        """Stops a sentinel (SIGTERM, as an operator would) and starts it again on the
        configuration file it rewrote, so it keeps its id and what it learnt."""
        p = self.procs[name]
        p.terminate()
        p.wait(10)
        self.launch_sentinel(name, port)

    def stop_all(self):
        for p in self.procs.values():
            if p.poll() is None:
                try:
                    p.send_signal(signal.SIGCONT)
                    p.kill()
                except OSError:
                    pass
        for p in self.procs.values():
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                pass


def wait_for(cond, timeout, what):
    end = now() + timeout
    while now() < end:
        if cond():
            return True
        time.sleep(0.02)
    raise SystemExit("drill: timed out waiting for %s" % what)


class Writer(threading.Thread):
    """Writes <prefix><n> = n in a loop to whatever leader the sentinels name, or, pinned
    (a client on the leader's side of a partition, which cannot reach the sentinels),
    to the leader directly until it refuses a write, and then to whatever the sentinels
    name."""

    def __init__(self, sentinels, use_wait, pinned=None, prefix="drill:"):
        super().__init__(daemon=True)
        self.sentinels, self.use_wait, self.pinned = sentinels, use_wait, pinned
        self.prefix = prefix
        self.acked = []  # (t, key, port)
        self.wait_acked = []
        self.errors = 0
        self.stop = False
        self.lock = threading.Lock()

    def leader(self):
        for s in self.sentinels:
            r = try_call(s, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME, timeout=0.3)
            if isinstance(r, list) and len(r) == 2:
                return int(r[1])
        return None

    def run(self):
        n = 0
        conn, port = None, None
        while not self.stop:
            try:
                if conn is None:
                    port = self.pinned if self.pinned else self.leader()
                    if port is None:
                        time.sleep(0.05)
                        continue
                    conn = Conn(port, timeout=1.0)
                n += 1
                key = "%s%d" % (self.prefix, n)
                r = conn.call("SET", key, str(n))
                if r != "OK":
                    raise ConnectionError(str(r))
                t = now()
                with self.lock:
                    self.acked.append((t, key, port))
                if self.use_wait:
                    w = conn.call("WAIT", "1", "100")
                    if isinstance(w, int) and w >= 1:
                        with self.lock:
                            self.wait_acked.append((t, key, port))
            except (OSError, ConnectionError, RuntimeError, ValueError):
                self.errors += 1
                if conn:
                    conn.close()
                conn = None
                if self.pinned:
                    # On the leader's side of a partition: once it refuses, move on to
                    # whatever the sentinels name.
                    self.pinned = None
                time.sleep(0.05)
        if conn:
            conn.close()


class RedisPyWriter(Writer):
    """The same loop through redis-py's own Sentinel support (`Sentinel.master_for`),
    as an application would write: it must find the new leader by itself. Also reads
    through `slave_for`. Records the longest gap between acknowledged writes."""

    def run(self):
        import redis
        from redis.sentinel import Sentinel
        sentinel = Sentinel([("127.0.0.1", p) for p in self.sentinels], socket_timeout=0.5)
        master = sentinel.master_for(NAME, socket_timeout=0.5)
        replica = sentinel.slave_for(NAME, socket_timeout=0.5)
        self.reads = 0
        n = 0
        while not self.stop:
            n += 1
            try:
                key = "%s%d" % (self.prefix, n)
                if master.set(key, str(n)):
                    port = master.connection_pool.get_master_address()[1]
                    with self.lock:
                        self.acked.append((now(), key, int(port)))
                if n % 100 == 0 and replica.get("drill:1") is not None:
                    self.reads += 1
            except (redis.exceptions.RedisError, OSError):
                self.errors += 1
                time.sleep(0.05)

    def max_gap_ms(self):
        with self.lock:
            ts = [t for t, _, _ in self.acked]
        return round(max((b - a for a, b in zip(ts, ts[1:])), default=0) * 1000)


def switch_watcher(sentinels, events):
    """Timestamps the first +switch-master seen on any sentinel."""
    def watch(port):
        try:
            c = Conn(port, timeout=60)
            c.call("SUBSCRIBE", "+switch-master")
            while True:
                m = c.read()
                if isinstance(m, list) and len(m) == 3 and m[0] == b"message":
                    events.setdefault("switch", now())
                    events.setdefault("switch_payload", m[2].decode())
                    return
        except (OSError, ConnectionError):
            return
    for p in sentinels:
        threading.Thread(target=watch, args=(p,), daemon=True).start()


def info_fields(port, section):
    """The fields of one INFO section as a dict (None when the node does not answer)."""
    r = try_call(port, "INFO", section)
    if not isinstance(r, bytes):
        return None
    return dict(line.split(":", 1) for line in r.decode().split("\r\n") if ":" in line)


def info_field(port, section, field):
    return (info_fields(port, section) or {}).get(field)


# How long the old leader may take to rejoin as a follower of the new leader once it is
# back. A stock redis-sentinel converts a returned old master only from an INFO reply
# (every 10 s for a replica entry) at least 8 s after that entry first reported
# role:master and 8 s after it last went +sdown: about 10-11 s after the restart.
# Sentinels in TILT (entered when their timer stalls for over 2 s: a loaded CI machine,
# a slow fsync of the config they rewrite on +switch-master) take no action for 30 s,
# so one stall before that first conversion delays it to up to 11 + 30 + 10 = 51 s.
# 60 s covers that plus the resync; a rejoin past it is reported with the sentinels'
# view of the old leader (rejoin_diagnostics).
REJOIN_TIMEOUT = 60


def rejoin_diagnostics(sps, lp, alias, new_port, tmp):
    """Why the old leader at `lp` (known to the sentinels as `alias`: a proxy's port in
    partition mode) has not rejoined: its replication state, each sentinel's entry for it
    and TILT state, and the sentinels' events about it."""
    out = ["old leader INFO replication: %s" % {
        k: v for k, v in (info_fields(lp, "replication") or {}).items()
        if k in ("role", "master_host", "master_port", "master_link_status",
                 "master_sync_in_progress", "master_link_down_since_seconds")}]
    for i, sp in enumerate(sps):
        tilt = {k: v for k, v in (info_fields(sp, "sentinel") or {}).items() if "tilt" in k}
        entry = None
        r = try_call(sp, "SENTINEL", "REPLICAS", NAME)
        for rep in r if isinstance(r, list) else []:
            if isinstance(rep, list):
                d = {rep[j].decode(): rep[j + 1].decode(errors="replace")
                     for j in range(0, len(rep) - 1, 2)
                     if isinstance(rep[j], bytes) and isinstance(rep[j + 1], bytes)}
                if d.get("port") == str(alias):
                    entry = {k: d.get(k) for k in (
                        "flags", "role-reported", "role-reported-time", "info-refresh",
                        "last-ok-ping-reply", "s-down-time", "master-port",
                        "master-link-status")}
        master = try_call(sp, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME)
        master = master[1].decode() if isinstance(master, list) and len(master) == 2 else master
        out.append("s%d: master port %s (new leader %d), %s, entry for the old leader: %s"
                   % (i, master, new_port, tilt, entry))
        try:
            with open(os.path.join(tmp, "s%d.log" % i), "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            lines = []
        for line in lines:
            if ":%d " % alias in line or "switch-master" in line or "tilt" in line.lower():
                out.append("  s%d.log: %s" % (i, line))
    return out


def run(args):
    tmp = tempfile.mkdtemp(prefix="fc-drill-")
    cl = Cluster(args.server, args.sentinel, args.min_replicas, tmp, getattr(args, "lease", 0),
                 getattr(args, "down_after", None))
    timeline = []
    t0 = None

    def mark(what, t=None):
        timeline.append((now() if t is None else t, what))

    result = {"mode": args.mode, "wait": args.wait}
    try:
        lp, f1, f2 = free_port(), free_port(), free_port()
        cl.start_node("leader", lp)
        proxy = None
        target = lp
        if args.mode == "partition":
            proxy = Proxy(lp)
            target = proxy.port
        cl.start_node("f1", f1, "--replicaof", "127.0.0.1", str(target))
        cl.start_node("f2", f2, "--replicaof", "127.0.0.1", str(target))
        for p in (f1, f2):
            wait_for(lambda p=p: info_field(p, "replication", "master_link_status") == "up", 20, "follower sync")
        sps = [free_port() for _ in range(3)]
        for i, sp in enumerate(sps):
            cl.start_sentinel("s%d" % i, sp, target)
        wait_for(lambda: all(
            (lambda r: isinstance(r, list) and len(r) >= 2)(try_call(sp, "SENTINEL", "REPLICAS", NAME))
            and len(try_call(sp, "SENTINEL", "SENTINELS", NAME) or []) == 2 for sp in sps), 30, "sentinel discovery")
        events = {}
        if getattr(args, "client", "raw") == "redispy":
            writer = RedisPyWriter(sps, False)
        else:
            writer = Writer(sps, args.wait, pinned=lp if args.mode == "partition" else None)
        writers = [writer]
        if args.mode == "partition":
            # A second client on the sentinels' side, which follows them: its first
            # write on the new leader starts the time when two leaders could both
            # acknowledge writes.
            writers.append(Writer(sps, args.wait, prefix="drill-majority:"))
        for w in writers:
            w.start()
        time.sleep(2.0)
        switch_watcher(sps, events)
        time.sleep(0.2)
        t0 = now()
        mark("fault: %s" % args.mode)
        leader = cl.procs["leader"]
        if args.mode == "kill":
            leader.kill()
        elif args.mode == "stop":
            leader.send_signal(signal.SIGSTOP)
        else:
            proxy.cut()
        wait_for(lambda: "switch" in events, 30, "+switch-master")
        mark("+switch-master " + events["switch_payload"])
        new_port = int(events["switch_payload"].split()[-1])

        def first_new_ack():
            firsts = []
            for w in writers:
                with w.lock:
                    firsts += [t for t, _, p in w.acked if t > t0 and p == new_port][:1]
            return min(firsts, default=None)
        wait_for(lambda: first_new_ack() is not None, 20, "first write on the new leader")
        t_write = first_new_ack()
        mark("first acknowledged write on the new leader")
        if args.mode == "stop":
            rest = 5.0 - (now() - t0)
            if rest > 0:
                time.sleep(rest)
            leader.send_signal(signal.SIGCONT)
            mark("SIGCONT to the old leader")
        elif args.mode == "kill":
            cl.start_node("leader", lp)
            mark("old leader restarted")
        else:
            proxy.heal()
            mark("partition healed")
        # The old leader must rejoin as a follower of the new one with equal data.
        t_back = now()
        repointed = {}

        def rejoined():
            f = info_fields(lp, "replication") or {}
            if f.get("master_port") != str(new_port):
                return False
            repointed.setdefault("t", now())
            return f.get("master_link_status") == "up"
        rejoined_ok = True
        rejoin_ms = None
        try:
            wait_for(rejoined, REJOIN_TIMEOUT, "old leader rejoining")
            rejoin_ms = round((now() - t_back) * 1000)
            mark("old leader repointed to the new leader", repointed["t"])
            mark("old leader is a follower of the new leader (link up)")
        except SystemExit:
            rejoined_ok = False
            mark("old leader has not rejoined within %d s" % REJOIN_TIMEOUT)
            sys.stderr.write("drill: the old leader did not rejoin within %d s of coming back\n"
                             % REJOIN_TIMEOUT)
            for line in rejoin_diagnostics(sps, lp, target, new_port, tmp):
                sys.stderr.write("  %s\n" % line)
            sys.stderr.flush()
        # The leader the sentinels name now: another one than new_port means a second
        # failover after the one this drill caused (the old leader then follows that one).
        leader_at_end = writer.leader()
        time.sleep(1.0)
        for w in writers:
            w.stop = True
        for w in writers:
            w.join(5)
        acked = sorted(a for w in writers for a in w.acked)
        wait_acked = sorted(a for w in writers for a in w.wait_acked)
        # Compare after the stream settles.
        digest_equal = False
        end = now() + 10
        while now() < end:
            a = try_call(new_port, "DEBUG", "DIGEST")
            b = try_call(lp, "DEBUG", "DIGEST")
            if a is not None and a == b:
                digest_equal = True
                break
            time.sleep(0.1)
        # Which acknowledged writes does the new leader have?
        c = Conn(new_port, timeout=5)
        def missing(entries):
            lost = []
            for i in range(0, len(entries), 500):
                chunk = entries[i:i + 500]
                vals = c.call("MGET", *[k for _, k, _ in chunk])
                lost += [k for (_, k, _), v in zip(chunk, vals) if v is None]
            return lost
        lost = missing(acked)
        wait_lost = missing(wait_acked)
        c.close()
        old_after = [t for t, k, p in acked if p == lp and t > t0]
        # Two leaders at once: acknowledgements by the old leader after the new one's
        # first (t_write).
        old_after_new = [t for t in old_after if t > t_write]
        # Unavailability: the longest stretch after the fault with no write acknowledged.
        ack_times = sorted(t for t, k, p in acked if t > t0)
        edges = [t0] + ack_times
        unavailable = max((b - a for a, b in zip(edges, edges[1:])), default=0)
        result.update({
            "switch_ms": round((events["switch"] - t0) * 1000),
            "first_write_ms": round((t_write - t0) * 1000),
            "acked": len(acked),
            "lost": len(lost),
            "wait_acked": len(wait_acked) if args.wait else None,
            "wait_lost": len(wait_lost) if args.wait else None,
            "split_brain_ms": round((max(old_after) - t0) * 1000) if old_after else 0,
            "split_brain_writes": len(old_after),
            "old_after_new": len(old_after_new),
            "unavailable_ms": round(unavailable * 1000),
            "rejoined": rejoined_ok,
            "rejoin_ms": rejoin_ms,
            "new_leader": new_port,
            "leader_at_end": leader_at_end,
            "digest_equal": digest_equal,
            "timeline": [(round((t - t0) * 1000), w) for t, w in timeline],
        })
        if isinstance(writer, RedisPyWriter):
            result["max_gap_ms"] = writer.max_gap_ms()
            result["replica_reads"] = writer.reads
    except BaseException:
        # A drill that cannot finish shows why: its timeline and every process's log tail.
        for t, w in timeline:
            sys.stderr.write("  %+7d ms  %s\n" % (round((t - (t0 or t)) * 1000), w))
        for name in sorted(cl.procs):
            try:
                with open(os.path.join(tmp, name + ".log"), "rb") as f:
                    tail = f.read()[-3000:].decode(errors="replace")
            except OSError:
                continue
            sys.stderr.write("--- %s.log (tail) ---\n%s\n" % (name, tail))
        raise
    finally:
        cl.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return result


# The sentinels' down-after-milliseconds.
DOWN_AFTER_MS = 500
# The lease runs: sentinels PING once a second, so a lease must outlast that gap, and it
# must run out before a sentinel can see the leader down (down-after after its last valid
# reply, when the link breaks): down-after - 500 ms, with down-after 2000.
LEASE_DOWN_AFTER_MS = 2000
DRILL_LEASE_MS = LEASE_DOWN_AFTER_MS - 500

SUITE = [
    ("kill", {"wait": True, "min_replicas": False, "lease": 0}),
    ("kill", {"wait": True, "min_replicas": False, "lease": 0}),
    ("kill", {"wait": True, "min_replicas": False, "lease": 0}),
    ("partition", {"wait": True, "min_replicas": False, "lease": 0}),
    ("partition", {"wait": True, "min_replicas": True, "lease": 0}),
    ("stop", {"wait": True, "min_replicas": False, "lease": 0}),
]


LEASE_SETUPS = [
    # (label, server, sentinel, lease ms) with the binaries picked from args.
    ("ferrocache, lease %d ms" % DRILL_LEASE_MS, "server", "sentinel", DRILL_LEASE_MS),
    ("ferrocache + stock sentinels, lease %d ms" % DRILL_LEASE_MS, "server", "stock_sentinel", DRILL_LEASE_MS),
    ("ferrocache, no lease", "server", "sentinel", 0),
    ("stock", "stock_server", "stock_sentinel", 0),
]


def lease_suite(args, runs=5):
    """Partitions (the writer stays on the old leader's side) with the lease on and off,
    `runs` each, our sentinels and stock ones, and stock Redis: who acknowledges writes
    when, what is lost, how long no write is acknowledged."""
    rows = []
    for label, server, sentinel, lease in LEASE_SETUPS:
        for i in range(runs):
            a = argparse.Namespace(server=getattr(args, server), sentinel=getattr(args, sentinel),
                                   mode="partition", keep=False, client="raw", wait=True,
                                   min_replicas=False, lease=lease, down_after=LEASE_DOWN_AFTER_MS)
            print("\n== %s: partition run %d ==" % (label, i + 1), flush=True)
            r = run(a)
            for t, w in r["timeline"]:
                print("  %+7d ms  %s" % (t, w))
            rows.append((label, i + 1, r))
    print("\n| setup | run | fault -> +switch-master (ms) | acks by the old leader after the fault | ... after the new leader's first | acked | lost | WAIT-acked lost | longest time with no write acked (ms) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, i, r in rows:
        print("| %s | %d | %d | %d | %d | %d | %d | %d | %d |" % (
            label, i, r["switch_ms"], r["split_brain_writes"], r["old_after_new"], r["acked"],
            r["lost"], r["wait_lost"], r["unavailable_ms"]))
    leased = [r for label, i, r in rows if "lease" in label and "no lease" not in label]
    two_leaders = sum(r["split_brain_writes"] for r in leased)
    wait_lost = sum(r["wait_lost"] for label, i, r in rows if label.startswith("ferrocache"))
    print("\nacks by the old leader after the fault, lease on (all runs): %d (target 0)" % two_leaders)
    print("WAIT-acknowledged writes lost (ferrocache, all runs): %d (target 0)" % wait_lost)
    ok = two_leaders == 0 and wait_lost == 0
    print("targets: %s" % ("met" if ok else "NOT met"))
    return 0 if ok else 1


def suite(args):
    """Every mode for both sides (ours, then stock with the same settings); prints the
    timelines, a table and the targets."""
    sides = [("ferrocache", args.server, args.sentinel), ("stock", args.stock_server, args.stock_sentinel)]
    rows = []
    for side, server, sentinel in sides:
        for mode, opts in SUITE:
            a = argparse.Namespace(server=server, sentinel=sentinel, mode=mode, keep=False, client="raw", **opts)
            label = mode + (" +min-replicas" if opts["min_replicas"] else "") + (
                " +lease %d ms" % opts["lease"] if opts["lease"] else "")
            print("\n== %s: %s (writer with WAIT 1 100) ==" % (side, label), flush=True)
            r = run(a)
            for t, w in r["timeline"]:
                print("  %+7d ms  %s" % (t, w))
            rows.append((side, label, r))
    print("\n| side | mode | fault -> +switch-master (ms) | first write on new leader (ms) | acked | lost | WAIT-acked lost | split-brain writes (last ms) | old leader rejoined, digest equal |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for side, label, r in rows:
        print("| %s | %s | %d | %d | %d | %d | %d | %d (%d) | %s, %s |" % (
            side, label, r["switch_ms"], r["first_write_ms"], r["acked"], r["lost"],
            r["wait_lost"], r["split_brain_writes"], r["split_brain_ms"],
            "yes" if r["rejoined"] else "NO", "yes" if r["digest_equal"] else "NO"))
    def median_kill(side):
        v = sorted(r["switch_ms"] for s_, l, r in rows if s_ == side and l == "kill")
        return v[len(v) // 2]
    ours, stock = median_kill("ferrocache"), median_kill("stock")
    wait_lost = sum(r["wait_lost"] for s_, l, r in rows if s_ == "ferrocache")
    target = DOWN_AFTER_MS + 400
    ok = ours <= target and ours <= stock and wait_lost == 0
    print("\nmedian kill -9 -> +switch-master: ferrocache %d ms, stock %d ms (target <= down-after + 400 = %d ms and <= stock)" % (ours, stock, target))
    print("WAIT-acknowledged writes lost (ferrocache, all modes): %d (target 0)" % wait_lost)
    print("targets: %s" % ("met" if ok else "NOT met"))
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", action="store_true")
    ap.add_argument("--lease-suite", action="store_true",
                    help="partition runs with the lease on and off (5 each), ours and stock")
    ap.add_argument("--stock-server", default="redis-server")
    ap.add_argument("--stock-sentinel", default="redis-sentinel")
    ap.add_argument("--server", required=True)
    ap.add_argument("--sentinel", required=True)
    ap.add_argument("--mode", choices=["kill", "partition", "stop"], default="kill")
    ap.add_argument("--wait", action="store_true")
    ap.add_argument("--min-replicas", action="store_true")
    ap.add_argument("--lease", type=int, default=0, metavar="MS",
                    help="leader-lease-ms for the data nodes (Ferrocache only)")
    ap.add_argument("--down-after", type=int, default=DOWN_AFTER_MS, metavar="MS",
                    help="the sentinels' down-after-milliseconds")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--client", choices=["raw", "redispy"], default="raw")
    args = ap.parse_args()
    if args.lease_suite:
        sys.exit(lease_suite(args))
    if args.suite:
        sys.exit(suite(args))
    r = run(args)
    if args.json:
        print(json.dumps(r))
        return
    for t, w in r["timeline"]:
        print("  %+7d ms  %s" % (t, w))
    print("  switch %d ms, first write on new leader %d ms, acked %d, lost %d, "
          "WAIT-acked lost %s, split-brain writes %d (last at %d ms), rejoined %s (%s ms after "
          "coming back), digest equal %s"
          % (r["switch_ms"], r["first_write_ms"], r["acked"], r["lost"], r["wait_lost"],
             r["split_brain_writes"], r["split_brain_ms"], r["rejoined"], r["rejoin_ms"],
             r["digest_equal"]))


if __name__ == "__main__":
    main()
