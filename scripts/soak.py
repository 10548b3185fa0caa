#!/usr/bin/env python3
"""Soak test driver for scripts/soak (stdlib only).

A leader, two followers and three sentinels on loopback under a mixed workload from many
clients for N minutes, with a random fault every 20-40 s; then a consistency check.

  soak.py --server BIN --sentinel BIN [--minutes 5] [--seed N] [--clients 8]
          [--rate 2000] [--keep] [--faults kill,partition,stop,sentinel] [--interval 20-40]

Topology. Every node X listens on its own port P_X and has a fault proxy Q_X in front of
it (failover_drill.Proxy with per-source cutting, below). Nodes run with
`--replica-announce-port Q_X`, the sentinels monitor Q_leader, and followers are started
with `--replicaof 127.0.0.1 Q_leader`: the sentinels learn every follower as Q_X from the
leader's INFO, so every node-to-node and sentinel-to-node link goes through the proxy of
the node it reaches, whichever node leads. Sentinels talk to each other directly.
Clients find the leader through `SENTINEL get-master-addr-by-name` on any sentinel and
connect to the node behind that proxy directly (they sit on the leader's side of a
partition, as the failover drill's writer does), re-asking every 0.5 s and after errors.

Faults (one at a time; the next waits for the previous one's recovery; the kind is drawn
from a seeded shuffled bag, so every kind comes once per four faults; node faults
alternate, in a seeded order, between the current leader and a random follower):
  kill       kill -9 a node; a follower is restarted after 2-5 s (same port) as a follower
             of the current leader; a leader is restarted (no replicaof, as its own config
             would say) only once the sentinels name a new leader, plus 1-3 s, and must
             be converted into a follower by the sentinels;
  partition  cut node X off: its proxy Q_X drops every connection and refuses new ones,
             and the other proxies drop and refuse connections whose source socket
             belongs to X's process (found through /proc/<pid>/fd and /proc/net/tcp),
             so a partitioned follower also loses its link to the leader; healed after
             2-6 s;
  stop       SIGSTOP for 2-6 s, then SIGCONT;
  sentinel   kill -9 a sentinel, restarted after 1-3 s with the same (rewritten) config.
A partition or stop of the leader is held until all sentinels name another leader
(bounded 30 s), so the old leader never comes back while a follower still follows it (a
known race of asynchronous replication + WAIT that no Sentinel setup closes).

Workload: SET/GET/INCR/DEL/EXPIRE, HSET/HINCRBY, LPUSH/RPOP, SADD/SREM, ZADD/ZINCRBY,
MULTI/EXEC, and SET soak:acked:<client>:<n> <value> followed by WAIT 1 100: every write
WAIT acknowledged with count >= 1 is recorded with its exact value (unique keys, never
overwritten, deleted or expired).

At the end: workload stopped, everything healed, then (bounded 60 s) one leader named by
all sentinels with both followers' links up and equal offsets; every WAIT-acknowledged
write must be on the leader with its value; DEBUG DIGEST of each follower must equal the
leader's; VmRSS of every process sampled after warm-up and at the end (growth per hour,
reported only, with a warning when a node holds far more used_memory than another with
the same data); every process log scanned for Rust panics / stock crash reports; any
process exiting on its own is a failure; a +switch-master (from any sentinel) naming a
node that is down at that moment (killed, stopped, partitioned) is a failure; more
+switch-master than leader faults, or sentinels taking > 10 s to agree after a leader
fault, are warnings. Exit status 0 only if every check passed.
Work dir (logs, configs, timeline.log, sentinel-events.log) kept on failure.
"""
import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no scripts/__pycache__ from importing failover_drill
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from failover_drill import shutdown_both, NAME, Conn, Proxy, try_call  # noqa: E402

T0 = time.monotonic()
PRINT_LOCK = threading.Lock()
TIMELINE = None  # file object, set in main


def now():
    return time.monotonic()


def out(msg):
    """A timeline line: console + timeline.log."""
    line = "[%+8.1fs] %s" % (now() - T0, msg)
    with PRINT_LOCK:
        print(line, flush=True)
        if TIMELINE:
            TIMELINE.write(line + "\n")
            TIMELINE.flush()


def until(cond, timeout, step=0.05):
    """Polls cond() until true (returns True) or timeout seconds passed (False)."""
    end = now() + timeout
    while True:
        try:
            if cond():
                return True
        except (OSError, ConnectionError, ValueError):
            pass
        if now() >= end:
            return False
        time.sleep(step)


def pick_port(used):
    """A free loopback port below the kernel's ephemeral range, so that no outgoing
    connection can take it while a killed node is down (nodes restart on the same port)."""
    low = 32768
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low = int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    hi = max(low - 1, 11000)
    for _ in range(1000):
        p = random.randint(10000, hi)
        if p in used:
            continue
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            s.close()
        used.add(p)
        return p
    raise SystemExit("soak: no free port")


def info(port, section="replication", timeout=1.0):
    r = try_call(port, "INFO", section, timeout=timeout)
    if not isinstance(r, bytes):
        return {}
    d = {}
    for line in r.decode(errors="replace").split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            d[k] = v
    return d


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def socket_ports_of(pid):
    """Local TCP ports of every socket process pid holds."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return set()
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    parts = line.split()
                    if len(parts) > 9 and parts[9] in inodes:
                        ports.add(int(parts[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


class NodeProxy(Proxy):
    """failover_drill.Proxy plus: connections are remembered with their client's source
    port (to cut those coming from a partitioned process), and closed when done."""

    def __init__(self, target, refuse):
        self.refuse = refuse  # callable(source_port) -> bool
        self.pairs = {}  # client socket -> (server socket, source port)
        super().__init__(target)

    def refused(self, addr):
        return self.refuse(addr[1])

    def connected(self, c, s, addr):
        done = [0]
        with self.lock:
            self.pairs[c] = (s, addr[1])
        for a, b in ((c, s), (s, c)):
            threading.Thread(target=self.relay, args=(a, b, c, done), daemon=True).start()

    def relay(self, a, b, client, done):
        self.pipe(a, b)
        with self.lock:
            done[0] += 1
            last = done[0] == 2
            if last:
                self.pairs.pop(client, None)
        if last:
            a.close()
            b.close()

    def _shut(self, which):
        with self.lock:
            victims = [(c, s) for c, (s, port) in self.pairs.items() if which(port)]
        for c, s in victims:
            shutdown_both(c, s)

    def cut(self):
        self.blocked = True
        self._shut(lambda port: True)

    def drop_from(self, ports):
        self._shut(lambda port: port in ports)


class Proc:
    """A node or a sentinel: its process, log, and whether an exit is expected."""

    def __init__(self, name, port, log_path):
        self.name, self.port, self.log_path = name, port, log_path
        self.proc = None
        self.expect_exit = False
        self.starts = 0
        self.stopped = False  # SIGSTOPped by us

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Soak:
    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.server, self.sentinel_bin = args.server, args.sentinel
        self.used_ports = set()
        self.partitioned = set()  # names of partitioned nodes
        self.part_lock = threading.Lock()
        self.nodes, self.sentinels = [], []
        for i in range(3):
            n = Proc("n%d" % i, pick_port(self.used_ports), os.path.join(tmp, "n%d.log" % i))
            n.proxy = NodeProxy(n.port, self.refuser(n))
            self.nodes.append(n)
        for i in range(3):
            s = Proc("s%d" % i, pick_port(self.used_ports), os.path.join(tmp, "s%d.log" % i))
            s.conf = os.path.join(tmp, "s%d.conf" % i)
            self.sentinels.append(s)
        self.by_q = {n.proxy.port: n for n in self.nodes}
        self.failures = []
        self.warnings = []
        self.unexpected_exits = []
        self.rss = {}  # name -> list of (t, pid, kb)
        self.stop_clients = False

    # ------------------------------------------------------------------ processes
    def refuser(self, owner):
        def refuse(src_port):
            with self.part_lock:
                others = [n for n in self.nodes if n.name in self.partitioned and n is not owner]
            for n in others:
                if n.alive() and src_port in socket_ports_of(n.pid):
                    return True
            return False
        return refuse

    def _log_marker(self, p, what):
        with open(p.log_path, "ab") as f:
            f.write(("\n=== soak [%+.1fs]: %s ===\n" % (now() - T0, what)).encode())

    def _popen(self, p, argv, cwd):
        log = open(p.log_path, "ab")
        env = dict(os.environ, RUST_BACKTRACE="1")
        try:
            p.proc = subprocess.Popen(argv, cwd=cwd, stdout=log, stderr=log,
                                      stdin=subprocess.DEVNULL, env=env)
        finally:
            log.close()
        p.starts += 1
        p.expect_exit = False
        p.stopped = False

    def start_node(self, n, replicaof=None):
        d = os.path.join(self.tmp, n.name)
        os.makedirs(d, exist_ok=True)
        argv = [self.server, "--port", str(n.port), "--bind", "127.0.0.1", "--save", "",
                "--repl-diskless-sync-delay", "0", "--enable-debug-command", "yes",
                "--replica-announce-ip", "127.0.0.1",
                "--replica-announce-port", str(n.proxy.port)]
        if replicaof is not None:
            argv += ["--replicaof", "127.0.0.1", str(replicaof)]
        return self._spawn(n, argv, d)

    def _spawn(self, p, argv, cwd):
        """Starts a node or sentinel, retrying twice when it does not answer PING."""
        for attempt in range(1, 4):
            self._log_marker(p, "start #%d (attempt %d): %s" % (p.starts + 1, attempt, " ".join(argv)))
            self._popen(p, argv, cwd)
            if until(lambda: try_call(p.port, "PING", timeout=0.5) == "PONG" or not p.alive(), 15, 0.05) and p.alive():
                return True
            p.expect_exit = True
            if p.alive():
                p.proc.kill()
            p.proc.wait(5)
            time.sleep(1)
        self.fail("%s could not be started on port %d (see %s)" % (p.name, p.port, p.log_path))
        return False

    def start_sentinel(self, s, monitor_port=None):
        if monitor_port is not None:
            with open(s.conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\n" % s.port)
                f.write("sentinel monitor %s 127.0.0.1 %d 2\n" % (NAME, monitor_port))
                f.write("sentinel down-after-milliseconds %s 500\n" % NAME)
                f.write("sentinel failover-timeout %s 10000\n" % NAME)
        argv = [self.sentinel_bin, s.conf]
        if os.path.basename(self.sentinel_bin) == "redis-server":
            argv.append("--sentinel")
        return self._spawn(s, argv, self.tmp)

    def kill(self, p):
        p.expect_exit = True
        if p.alive():
            try:
                p.proc.send_signal(signal.SIGCONT)
                p.proc.kill()
            except OSError:
                pass
        try:
            p.proc.wait(10)
        except subprocess.TimeoutExpired:
            pass
        p.stopped = False

    def stop_all(self):
        for p in self.nodes + self.sentinels:
            if p.alive():
                p.expect_exit = True
                try:
                    p.proc.send_signal(signal.SIGCONT)
                    p.proc.kill()
                except OSError:
                    pass
        for p in self.nodes + self.sentinels:
            if p.proc:
                try:
                    p.proc.wait(5)
                except subprocess.TimeoutExpired:
                    pass

    def fail(self, msg):
        self.failures.append(msg)
        out("FAIL: " + msg)

    def warn(self, msg):
        self.warnings.append(msg)
        out("WARN: " + msg)

    def check_exits(self):
        """A process that exited without us killing it is a failure; it is restarted so
        the soak goes on."""
        for p in self.nodes + self.sentinels:
            if p.proc is not None and not p.expect_exit and p.proc.poll() is not None:
                code = p.proc.returncode
                self.unexpected_exits.append((p.name, code))
                self.fail("%s (pid %d) exited on its own with status %s; log tail:\n%s"
                          % (p.name, p.pid, code, tail(p.log_path, 2000)))
                p.expect_exit = True
                if p in self.sentinels:
                    self.start_sentinel(p)
                else:
                    leader = self.named_leader()
                    self.start_node(p, leader.proxy.port if leader and leader is not p else None)

    # ------------------------------------------------------------------ cluster view
    def named_leader(self, timeout=0.3, order=None):
        """The node one (reachable) sentinel names, or None."""
        for s in (order or self.sentinels):
            r = try_call(s.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME, timeout=timeout)
            if isinstance(r, list) and len(r) == 2 and r[1] is not None:
                try:
                    return self.by_q.get(int(r[1]))
                except ValueError:
                    continue
        return None

    def all_named(self):
        """What each sentinel names (node or None)."""
        res = []
        for s in self.sentinels:
            r = try_call(s.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", NAME, timeout=0.5)
            node = None
            if isinstance(r, list) and len(r) == 2 and r[1] is not None:
                try:
                    node = self.by_q.get(int(r[1]))
                except ValueError:
                    pass
            res.append(node)
        return res

    def health(self, offsets=False):
        """(ok, leader, text): every sentinel names the same leader, it is a master with
        two connected followers, both followers follow its proxy with the link up (and,
        with offsets=True, all three report the same master_repl_offset)."""
        named = self.all_named()
        if any(n is None for n in named):
            return False, None, "a sentinel names no leader: %s" % [n.name if n else None for n in named]
        if len(set(named)) != 1:
            return False, None, "sentinels disagree: %s" % [n.name for n in named]
        leader = named[0]
        li = info(leader.port)
        if li.get("role") != "master":
            return False, leader, "named leader %s reports role %s" % (leader.name, li.get("role"))
        parts = []
        offs = [li.get("master_repl_offset")]
        for f in self.nodes:
            if f is leader:
                continue
            fi = info(f.port)
            if (fi.get("role") != "slave" or fi.get("master_port") != str(leader.proxy.port)
                    or fi.get("master_link_status") != "up"):
                return False, leader, "%s: role %s master_port %s link %s" % (
                    f.name, fi.get("role"), fi.get("master_port"), fi.get("master_link_status"))
            parts.append(f.name)
            offs.append(fi.get("master_repl_offset"))
        if li.get("connected_slaves") != "2":
            return False, leader, "leader %s has %s connected followers" % (leader.name, li.get("connected_slaves"))
        if offsets and len(set(offs)) != 1:
            return False, leader, "offsets differ: %s" % offs
        return True, leader, "leader %s, followers %s link up" % (leader.name, " ".join(parts))

    def sample_rss(self):
        t = now()
        for p in self.nodes + self.sentinels:
            if p.alive() and not p.stopped:
                kb = vm_rss_kb(p.pid)
                if kb is not None:
                    used = info(p.port, "memory", timeout=0.5).get("used_memory") if p in self.nodes else None
                    self.rss.setdefault(p.name, []).append((t, p.pid, kb, used))


def tail(path, n):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - n))
            return "".join("    | " + l + "\n" for l in f.read().decode(errors="replace").splitlines())
    except OSError:
        return "    | (no log)\n"


# ---------------------------------------------------------------------- workload
TRANSIENT = ("READONLY", "LOADING", "MASTERDOWN", "EXECABORT", "NOREPLICAS", "UNBLOCKED",
             "TRYAGAIN", "NOSCRIPT")


class Transient(Exception):
    pass


class Client(threading.Thread):
    """One client: finds the leader through the sentinels, connects to it directly and
    runs a weighted random mix of commands, at most `rate` per second."""

    OPS = [("set", 20), ("get", 15), ("incr", 10), ("del", 3), ("expire", 4), ("hset", 6),
           ("hincrby", 6), ("lpush", 5), ("rpop", 5), ("sadd", 4), ("srem", 3), ("zadd", 4),
           ("zincrby", 4), ("multi", 4), ("acked", 8)]

    def __init__(self, soak, idx, seed, rate):
        super().__init__(daemon=True, name="client-%d" % idx)
        self.soak, self.idx = soak, idx
        self.rng = random.Random(seed * 7919 + idx)
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.ops = 0
        self.errors = 0  # connection errors and transient error replies
        self.unexpected = 0
        self.examples = []
        self.acked = []  # (key, value, t, node name)
        self.wait_zero = 0  # WAIT answered 0 (not recorded)
        self.n = 0
        names, weights = zip(*self.OPS)
        self.names, self.cum = names, []
        acc = 0
        for w in weights:
            acc += w
            self.cum.append(acc)

    def check(self, r, cmd):
        if isinstance(r, RuntimeError):
            msg = str(r)
            if msg.split(" ", 1)[0] in TRANSIENT:
                raise Transient(msg)
            self.unexpected += 1
            if len(self.examples) < 5:
                self.examples.append("%s -> %s" % (cmd, msg))
        return r

    def op(self, c, node):
        rng = self.rng
        x = rng.random() * self.cum[-1]
        name = self.names[next(i for i, v in enumerate(self.cum) if x < v)]
        k = rng.randrange(500)
        if name == "set":
            val = "v%d-%s" % (self.idx, "x" * rng.randrange(1, 200))
            self.check(c.call("SET", "soak:str:%d" % k, val), "SET")
        elif name == "get":
            self.check(c.call("GET", "soak:str:%d" % k), "GET")
        elif name == "incr":
            self.check(c.call("INCR", "soak:cnt:%d" % k), "INCR")
        elif name == "del":
            self.check(c.call("DEL", "soak:str:%d" % k), "DEL")
        elif name == "expire":
            key = rng.choice(("soak:str:%d", "soak:cnt:%d")) % k
            self.check(c.call("EXPIRE", key, str(rng.randint(1, 5))), "EXPIRE")
        elif name == "hset":
            self.check(c.call("HSET", "soak:h:%d" % (k % 100), "f%d" % rng.randrange(20),
                              "v" * rng.randrange(1, 50)), "HSET")
        elif name == "hincrby":
            self.check(c.call("HINCRBY", "soak:h:%d" % (k % 100), "c%d" % rng.randrange(20),
                              str(rng.randint(-5, 10))), "HINCRBY")
        elif name == "lpush":
            self.check(c.call("LPUSH", "soak:l:%d" % (k % 50), "e%d" % rng.randrange(1000)), "LPUSH")
        elif name == "rpop":
            self.check(c.call("RPOP", "soak:l:%d" % (k % 50)), "RPOP")
        elif name == "sadd":
            self.check(c.call("SADD", "soak:s:%d" % (k % 50), "m%d" % rng.randrange(100)), "SADD")
        elif name == "srem":
            self.check(c.call("SREM", "soak:s:%d" % (k % 50), "m%d" % rng.randrange(100)), "SREM")
        elif name == "zadd":
            self.check(c.call("ZADD", "soak:z:%d" % (k % 50), str(rng.randint(0, 1000)),
                              "m%d" % rng.randrange(100)), "ZADD")
        elif name == "zincrby":
            self.check(c.call("ZINCRBY", "soak:z:%d" % (k % 50), str(rng.randint(1, 5)),
                              "m%d" % rng.randrange(100)), "ZINCRBY")
        elif name == "multi":
            c.send("MULTI")
            c.send("INCR", "soak:cnt:%d" % k)
            c.send("HINCRBY", "soak:h:%d" % (k % 100), "c%d" % rng.randrange(20), "1")
            c.send("LPUSH", "soak:l:%d" % (k % 50), "t%d" % k)
            c.send("ZINCRBY", "soak:z:%d" % (k % 50), "1", "m%d" % rng.randrange(100))
            c.send("EXEC")
            replies = [c.read() for _ in range(6)]
            for r in replies[:5]:
                self.check(r, "MULTI/EXEC (queued)")
            r = self.check(replies[5], "EXEC")
            if not (isinstance(r, list) and len(r) == 4):
                # A null EXEC is only expected after WATCH, which we never send.
                self.unexpected += 1
                if len(self.examples) < 5:
                    self.examples.append("EXEC -> %r" % (r,))
        else:
            self.n += 1
            key = "soak:acked:%d:%d" % (self.idx, self.n)
            val = "%d:%d:%08x:%s" % (self.idx, self.n, rng.getrandbits(32), "a" * rng.randrange(0, 64))
            r = self.check(c.call("SET", key, val), "SET acked")
            if r != "OK":
                raise Transient("SET answered %r" % (r,))
            w = self.check(c.call("WAIT", "1", "100"), "WAIT")
            if isinstance(w, int) and w >= 1:
                self.acked.append((key, val, now(), node.name))
            else:
                self.wait_zero += 1
        self.ops += 1

    def run(self):
        soak = self.soak
        conn, node, last_check = None, None, 0.0
        next_t = now()
        while not soak.stop_clients:
            if self.interval:
                next_t += self.interval
                d = next_t - now()
                if d > 0:
                    time.sleep(d)
                elif d < -1.0:
                    next_t = now()
            try:
                if conn is not None and now() - last_check > 0.5:
                    last_check = now()
                    order = soak.sentinels[:]
                    self.rng.shuffle(order)
                    named = soak.named_leader(order=order)
                    if named is not None and named is not node:
                        conn.close()
                        conn = None
                if conn is None:
                    order = soak.sentinels[:]
                    self.rng.shuffle(order)
                    node = soak.named_leader(order=order)
                    if node is None:
                        time.sleep(0.1)
                        continue
                    conn = Conn(node.port, timeout=2.0)
                    last_check = now()
                self.op(conn, node)
            except (OSError, ConnectionError, ValueError, Transient):
                self.errors += 1
                if conn is not None:
                    conn.close()
                conn = None
                time.sleep(0.05)
        if conn is not None:
            conn.close()


# ---------------------------------------------------------------------- sentinel events
class EventWatcher:
    """PSUBSCRIBE * on every sentinel (re-subscribing after restarts); every event goes to
    sentinel-events.log, each +switch-master once to the timeline."""

    def __init__(self, soak, path):
        self.soak = soak
        self.f = open(path, "a")
        self.lock = threading.Lock()
        self.switches = []  # (t, from name, to name)
        self.bad_switches = []  # (t, sentinel, payload, node, why): a switch to a down node
        self.seen = {}  # payload -> t
        for s in soak.sentinels:
            threading.Thread(target=self.watch, args=(s,), daemon=True).start()

    def watch(self, s):
        while True:
            try:
                c = Conn(s.port, timeout=2)
                c.call("PSUBSCRIBE", "*")
                c.s.settimeout(None)
                while True:
                    m = c.read()
                    if isinstance(m, list) and len(m) == 4 and m[0] == b"pmessage":
                        self.event(s, m[2].decode(errors="replace"), m[3].decode(errors="replace"))
            except (OSError, ConnectionError, ValueError):
                time.sleep(0.2)

    def name_of(self, port):
        try:
            n = self.soak.by_q.get(int(port))
        except ValueError:
            return "?"
        return n.name if n else "?"

    def event(self, s, channel, payload):
        t = now()
        bad = None
        with self.lock:
            self.f.write("[%+8.3fs] %s %s %s\n" % (t - T0, s.name, channel, payload))
            self.f.flush()
            if channel != "+switch-master":
                return
            p = payload.split()
            to = self.soak.by_q.get(int(p[4])) if len(p) == 5 and p[4].isdigit() else None
            if to is not None:
                # Every sentinel's switch (not only the first of a kind): none may name a
                # node that is down (killed, stopped or cut off by us) at that moment.
                down = ("killed" if not to.alive() else "SIGSTOPped" if to.stopped
                        else "partitioned" if to.name in self.soak.partitioned else None)
                if down:
                    bad = (t, s.name, payload, to.name, down)
                    self.bad_switches.append(bad)
            last = self.seen.get(payload)
            self.seen[payload] = t
            first = last is None or t - last >= 20
            if first:
                frm, to_name = (self.name_of(p[2]), self.name_of(p[4])) if len(p) == 5 else ("?", "?")
                self.switches.append((t, frm, to_name))
        if first:
            out("+switch-master %s (%s -> %s, seen first by %s)" % (payload, frm, to_name, s.name))
        if bad:
            self.soak.fail("sentinel %s switched to %s, which is down (%s): +switch-master %s"
                           % (bad[1], bad[3], bad[4], bad[2]))


# ---------------------------------------------------------------------- faults
def wait_switch_away(soak, node, timeout=30):
    """Until every sentinel names a leader other than node; returns seconds or None."""
    t = now()
    ok = until(lambda: all(n is not None and n is not node for n in soak.all_named()), timeout, 0.1)
    if ok and now() - t > 10:
        # A failover takes ~1.5 s here; its config reaches the other sentinels through
        # hellos within ~2 s more.
        soak.warn("the sentinels took %.1f s to all name a leader other than %s" % (now() - t, node.name))
    return (now() - t) if ok else None


def hold_leader_fault(soak, node, what, t_start, duration):
    """Keep a leader fault on at least `duration` s and until the sentinels moved away."""
    dt = wait_switch_away(soak, node)
    if dt is None:
        soak.fail("no failover within 30 s of %s on the leader %s" % (what, node.name))
    else:
        out("  all sentinels name %s (%.1f s after the fault)" % (soak.named_leader().name if soak.named_leader() else "?", now() - t_start))
    rest = duration - (now() - t_start)
    if rest > 0:
        time.sleep(rest)


def fault_kill(soak, rng, node, is_leader, t_start):
    soak.kill(node)
    if is_leader:
        dt = wait_switch_away(soak, node)
        if dt is None:
            soak.fail("no failover within 30 s of kill -9 of the leader %s" % node.name)
        else:
            out("  all sentinels name %s (%.1f s after kill -9)" % (soak.named_leader().name if soak.named_leader() else "?", now() - t_start))
        time.sleep(rng.uniform(1, 3))
        soak._log_marker(node, "restarted after kill -9 (was leader)")
        soak.start_node(node)
        out("  %s restarted (no replicaof; the sentinels must convert it)" % node.name)
    else:
        time.sleep(rng.uniform(2, 5))
        leader = soak.named_leader()
        soak._log_marker(node, "restarted after kill -9 (was follower)")
        soak.start_node(node, leader.proxy.port if leader and leader is not node else None)
        out("  %s restarted as a follower of %s" % (node.name, leader.name if leader else "?"))


def fault_partition(soak, rng, node, is_leader, t_start):
    duration = rng.uniform(2, 6)
    with soak.part_lock:
        soak.partitioned.add(node.name)
    node.proxy.cut()
    ports = socket_ports_of(node.pid)
    for other in soak.nodes:
        if other is not node:
            other.proxy.drop_from(ports)
    if is_leader:
        hold_leader_fault(soak, node, "a partition", t_start, duration)
    else:
        time.sleep(duration)
    with soak.part_lock:
        soak.partitioned.discard(node.name)
    node.proxy.heal()
    out("  partition of %s healed after %.1f s" % (node.name, now() - t_start))


def fault_stop(soak, rng, node, is_leader, t_start):
    duration = rng.uniform(2, 6)
    node.stopped = True
    node.proc.send_signal(signal.SIGSTOP)
    if is_leader:
        hold_leader_fault(soak, node, "SIGSTOP", t_start, duration)
    else:
        time.sleep(duration)
    node.proc.send_signal(signal.SIGCONT)
    node.stopped = False
    out("  SIGCONT to %s after %.1f s" % (node.name, now() - t_start))


def fault_sentinel(soak, rng, s, t_start):
    soak.kill(s)
    time.sleep(rng.uniform(1, 3))
    soak._log_marker(s, "restarted after kill -9")
    soak.start_sentinel(s)
    out("  %s restarted with its rewritten config" % s.name)


def inject(soak, rng, k, bag, kinds, roles):
    if not bag:
        # Every kind once per len(kinds) faults, in a seeded random order.
        bag.extend(kinds)
        rng.shuffle(bag)
    kind = bag.pop()
    rec = {"n": k, "kind": kind, "t": now() - T0}
    t_start = now()
    if kind == "sentinel":
        s = rng.choice(soak.sentinels)
        rec.update(target=s.name, role="sentinel")
        out("fault #%d: kill -9 sentinel %s, restart with the same config" % (k, s.name))
        fault_sentinel(soak, rng, s, t_start)
    else:
        leader = soak.named_leader()
        followers = [n for n in soak.nodes if n is not leader]
        if not roles:
            # Node faults alternate between the leader and a follower, in a seeded order.
            roles.extend(["leader", "follower"])
            rng.shuffle(roles)
        want = roles.pop()
        node = leader if (leader is not None and want == "leader") else rng.choice(followers)
        is_leader = node is leader
        role = "leader" if is_leader else "follower"
        rec.update(target=node.name, role=role)
        label = {"kill": "kill -9", "partition": "partition (proxy cut)", "stop": "SIGSTOP"}[kind]
        out("fault #%d: %s of %s (%s, pid %d)" % (k, label, node.name, role, node.pid))
        {"kill": fault_kill, "partition": fault_partition, "stop": fault_stop}[kind](
            soak, rng, node, is_leader, t_start)
    rec["fault_s"] = now() - t_start
    last = [""]

    def healthy():
        ok, _, text = soak.health()
        last[0] = text
        return ok
    if until(healthy, 60, 0.25):
        rec["recovered_s"] = now() - t_start
        out("  recovered: %s (%.1f s after the fault started)" % (last[0], rec["recovered_s"]))
    else:
        rec["recovered_s"] = None
        soak.fail("fault #%d (%s of %s): cluster not healthy 60 s after the fault ended: %s"
                  % (k, kind, rec["target"], last[0]))
    return rec


# ---------------------------------------------------------------------- checks
PANIC = re.compile(rb"panic|REDIS BUG REPORT|stack overflow|Segmentation fault", re.I)


def scan_logs(soak):
    hits = []
    for p in soak.nodes + soak.sentinels:
        try:
            with open(p.log_path, "rb") as f:
                for i, line in enumerate(f, 1):
                    if PANIC.search(line):
                        hits.append("%s.log:%d: %s" % (p.name, i, line.decode(errors="replace").rstrip()[:300]))
        except OSError:
            pass
    return hits


def check_acked(soak, leader, clients):
    entries = [e for c in clients for e in c.acked]
    missing, wrong = [], []
    c = Conn(leader.port, timeout=10)
    try:
        for i in range(0, len(entries), 500):
            chunk = entries[i:i + 500]
            vals = c.call("MGET", *[k for k, _, _, _ in chunk])
            if not isinstance(vals, list):
                raise ConnectionError("MGET answered %r" % (vals,))
            for e, v in zip(chunk, vals):
                if v is None:
                    missing.append(e)
                elif v.decode(errors="replace") != e[1]:
                    wrong.append((e, v))
    finally:
        c.close()
    return entries, missing, wrong


def compare_digests(soak, leader):
    """(equal, {name: digest}), retried for 20 s: offsets keep moving a little after the
    workload stops (sentinel hellos are published through the leader, keys with a TTL
    expire), so a mismatch only counts if it persists."""
    last = {}
    end = now() + 20
    while now() < end:
        d = {}
        for n in soak.nodes:
            v = try_call(n.port, "DEBUG", "DIGEST", timeout=10)  # a status reply
            d[n.name] = v.decode(errors="replace") if isinstance(v, bytes) else (
                v if isinstance(v, str) else repr(v))
        last = d
        if all(re.fullmatch(r"[0-9a-f]{40}", v) for v in d.values()) and len(set(d.values())) == 1:
            return True, d
        time.sleep(0.5)
    return False, last


def digest_differences(soak, limit=10):
    """The first keys whose DEBUG DIGEST-VALUE differs between the nodes (or that exist on
    only some), each with its type and TTL per node: what a digest mismatch is made of."""
    per_node = {}
    for n in soak.nodes:
        c = Conn(n.port, timeout=10)
        try:
            keys, cursor = set(), b"0"
            while True:
                r = c.call("SCAN", cursor, "COUNT", "1000")
                cursor, batch = r[0], r[1]
                keys.update(batch)
                if cursor == b"0":
                    break
            digests = {}
            keys = sorted(keys)
            for i in range(0, len(keys), 500):
                chunk = keys[i:i + 500]
                for k, d in zip(chunk, c.call("DEBUG", "DIGEST-VALUE", *chunk)):
                    digests[k] = d
            per_node[n.name] = digests
        finally:
            c.close()
    names = [n.name for n in soak.nodes]
    every = sorted(set().union(*(d.keys() for d in per_node.values())))
    diffs = [k for k in every if len({per_node[nm].get(k) for nm in names}) != 1]
    lines = ["%d keys differ" % len(diffs)]
    for k in diffs[:limit]:
        parts = []
        for n in soak.nodes:
            t = try_call(n.port, "TYPE", k, timeout=5)
            ttl = try_call(n.port, "PTTL", k, timeout=5)
            parts.append("%s %s ttl=%s" % (n.name, t.decode() if isinstance(t, bytes) else t, ttl))
        lines.append("  %s: %s" % (k.decode(errors="replace"), "; ".join(parts)))
    return lines


def fmt_mb(kb):
    return "%.1f" % (kb / 1024.0)


# ---------------------------------------------------------------------- main
def run(args, tmp):
    global TIMELINE
    TIMELINE = open(os.path.join(tmp, "timeline.log"), "a")
    rng = random.Random(args.seed)
    soak = Soak(args, tmp)
    clients = []
    faults = []
    try:
        out("seed %d (rerun with SOAK_SEED=%d), %.1f min, %d clients at <= %s ops/s, work dir %s"
            % (args.seed, args.seed, args.minutes, args.clients, args.rate or "unlimited", tmp))
        out("server %s, sentinel %s" % (args.server, args.sentinel))
        n0, n1, n2 = soak.nodes
        if not soak.start_node(n0):
            return soak, clients, faults, None
        for n in (n1, n2):
            if not soak.start_node(n, n0.proxy.port):
                return soak, clients, faults, None
        if not until(lambda: all(info(n.port).get("master_link_status") == "up" for n in (n1, n2)), 30, 0.1):
            soak.fail("followers did not sync with the leader within 30 s")
            return soak, clients, faults, None
        for s in soak.sentinels:
            if not soak.start_sentinel(s, n0.proxy.port):
                return soak, clients, faults, None

        def discovered():
            for s in soak.sentinels:
                r = try_call(s.port, "SENTINEL", "REPLICAS", NAME)
                o = try_call(s.port, "SENTINEL", "SENTINELS", NAME)
                if not (isinstance(r, list) and len(r) == 2 and isinstance(o, list) and len(o) == 2):
                    return False
            return True
        if not until(discovered, 30, 0.2):
            soak.fail("sentinels did not discover 2 followers and 2 peers within 30 s")
            return soak, clients, faults, None
        for n in soak.nodes:
            out("%s: port %d behind proxy %d, pid %d" % (n.name, n.port, n.proxy.port, n.pid))
        for s in soak.sentinels:
            out("%s: port %d, pid %d" % (s.name, s.port, s.pid))
        watcher = EventWatcher(soak, os.path.join(tmp, "sentinel-events.log"))
        per_client = (args.rate / float(args.clients)) if args.rate else 0
        clients = [Client(soak, i, args.seed, per_client) for i in range(args.clients)]
        for c in clients:
            c.start()
        t_work = now()
        t_end = t_work + args.minutes * 60
        out("workload started (%d clients); soak ends at %+.0fs" % (len(clients), t_end - T0))
        warmup = min(20.0, args.minutes * 60 / 4)
        lo, hi = args.interval
        next_fault = t_work + rng.uniform(lo, hi)
        next_rss = t_work + warmup
        next_beat = t_work + 30
        k = 0
        bag, roles = [], []
        while now() < t_end:
            time.sleep(0.25)
            soak.check_exits()
            t = now()
            if t >= next_rss:
                soak.sample_rss()
                next_rss = t + 10
            if t >= next_beat:
                next_beat = t + 30
                ops = sum(c.ops for c in clients)
                ld = soak.named_leader()
                out("progress: %d ops (%.0f/s), %d WAIT-acked, %d errors, leader %s"
                    % (ops, ops / (t - t_work), sum(len(c.acked) for c in clients),
                       sum(c.errors for c in clients), ld.name if ld else "?"))
            if t >= next_fault and t_end - t > min(20, lo):
                k += 1
                rec = inject(soak, rng, k, bag, args.faults, roles)
                faults.append(rec)
                gap = rng.uniform(lo, hi)
                next_fault = max(t + gap, now() + 5)
        # ------------------------------------------------------------ final phase
        out("soak time over; stopping the workload")
        soak.stop_clients = True
        for c in clients:
            c.join(5)
        for n in soak.nodes:
            with soak.part_lock:
                soak.partitioned.clear()
            n.proxy.heal()
            if n.alive() and n.stopped:
                n.proc.send_signal(signal.SIGCONT)
                n.stopped = False
        soak.check_exits()
        last = [""]
        leader = [None]

        def converged():
            ok, ld, text = soak.health(offsets=True)
            last[0], leader[0] = text, ld
            return ok
        t_conv = now()
        conv_ok = until(converged, 60, 0.25)
        if conv_ok:
            out("converged in %.1f s: %s, offsets equal" % (now() - t_conv, last[0]))
        else:
            soak.fail("no convergence within 60 s: %s" % last[0])
        soak.sample_rss()
        final = {"conv_ok": conv_ok, "leader": leader[0], "switches": watcher.switches,
                 "bad_switches": watcher.bad_switches}
        if len(watcher.switches) > sum(1 for r in faults if r["role"] == "leader"):
            soak.warn("%d +switch-master for %d leader faults (extra failovers; see sentinel-events.log)"
                      % (len(watcher.switches), sum(1 for r in faults if r["role"] == "leader")))
        if leader[0] is not None:
            ld = leader[0]
            try:
                entries, missing, wrong = check_acked(soak, ld, clients)
            except (OSError, ConnectionError) as e:
                entries, missing, wrong = [e_ for c in clients for e_ in c.acked], None, None
                soak.fail("could not read the WAIT-acknowledged writes from %s: %s" % (ld.name, e))
            final.update(entries=entries, missing=missing, wrong=wrong)
            if missing or wrong:
                soak.fail("%d WAIT-acknowledged writes missing and %d with a wrong value on the leader %s"
                          % (len(missing), len(wrong), ld.name))
                for key, val, t, node in (missing + [e for e, _ in wrong])[:20]:
                    out("  lost: %s (acked at %+.1fs by %s)" % (key, t - T0, node))
            eq, digests = compare_digests(soak, ld)
            final.update(digest_equal=eq, digests=digests)
            if not eq:
                soak.fail("DEBUG DIGEST differs after 20 s: %s" % digests)
                try:
                    for line in digest_differences(soak):
                        out(line)
                except (OSError, ConnectionError, ValueError, TypeError, IndexError) as e:
                    out("could not list the differing keys: %r" % (e,))
            final["dbsize"] = {n.name: try_call(n.port, "DBSIZE", timeout=5) for n in soak.nodes}
        else:
            final.update(entries=[e for c in clients for e in c.acked], missing=None, wrong=None,
                         digest_equal=False, digests={}, dbsize={})
        return soak, clients, faults, final
    finally:
        soak.stop_clients = True
        soak.stop_all()


def summary(args, tmp, soak, clients, faults, final):
    hits = scan_logs(soak)
    if hits:
        soak.fail("%d panic / crash lines in process logs" % len(hits))
        for h in hits[:20]:
            print("    " + h)
    unexpected = sum(c.unexpected for c in clients)
    if unexpected:
        ex = [e for c in clients for e in c.examples][:10]
        soak.fail("%d unexpected error replies, e.g. %s" % (unexpected, ex))
    print("\n==== soak summary ====")
    print("seed %d, %.1f min, server %s, sentinel %s" % (args.seed, args.minutes, args.server, args.sentinel))
    if faults:
        print("\n| # | at | fault | target | role | fault held (s) | healthy again after (s) |")
        print("|---:|---:|---|---|---|---:|---:|")
        for r in faults:
            print("| %d | %+.0fs | %s | %s | %s | %.1f | %s |" % (
                r["n"], r["t"], r["kind"], r["target"], r["role"], r["fault_s"],
                "%.1f" % r["recovered_s"] if r.get("recovered_s") is not None else "NEVER"))
    if final is None:
        print("\nsetup failed; no workload results")
        return 1
    leader_faults = sum(1 for r in faults if r["role"] == "leader")
    sw = final["switches"]
    ops = sum(c.ops for c in clients)
    errs = sum(c.errors for c in clients)
    entries = final["entries"]
    missing, wrong = final["missing"], final["wrong"]
    lost = None if missing is None else len(missing) + len(wrong)

    def st(ok):
        return "PASS" if ok else "FAIL"
    print("\n| check | result | status |")
    print("|---|---|---|")
    print("| workload | %d ops, %d connection/transient errors, %d unexpected error replies, %d WAIT answered 0 | %s |"
          % (ops, errs, unexpected, sum(c.wait_zero for c in clients), st(unexpected == 0 and ops > 0)))
    print("| faults | %d (%s); %d on the leader | %s |" % (
        len(faults), ", ".join("%s %d" % (k, sum(1 for r in faults if r["kind"] == k))
                              for k in ("kill", "partition", "stop", "sentinel")),
        leader_faults, st(all(r.get("recovered_s") is not None for r in faults))))
    bad = final.get("bad_switches") or []
    print("| +switch-master | %d (leader faults: %d; to a node that was down: %d) | %s |" % (
        len(sw), leader_faults, len(bad),
        "FAIL" if bad else "PASS" if len(sw) == leader_faults else "WARN"))
    print("| WAIT-acknowledged writes | %d acked, %s lost | %s |" % (
        len(entries), "?" if lost is None else lost, st(lost == 0)))
    ld = final.get("leader")
    print("| convergence | %s | %s |" % (
        ("leader %s, followers link up, offsets equal" % ld.name) if final["conv_ok"] else "not converged",
        st(final["conv_ok"])))
    dg = final.get("digests") or {}
    print("| DEBUG DIGEST | %s | %s |" % (
        ", ".join("%s %s" % (k, v[:12]) for k, v in sorted(dg.items())),
        st(final.get("digest_equal"))))
    print("| DBSIZE | %s | - |" % ", ".join("%s %s" % kv for kv in sorted((final.get("dbsize") or {}).items())))
    print("| panics in logs | %d | %s |" % (len(hits), st(not hits)))
    print("| processes exiting on their own | %d %s | %s |" % (
        len(soak.unexpected_exits), soak.unexpected_exits or "", st(not soak.unexpected_exits)))
    print("\n| process | starts | RSS after warm-up (MB) | RSS at end (MB) | over (s) | RSS growth (MB/h) | used_memory after warm-up / at end (MB) |")
    print("|---|---:|---:|---:|---:|---:|---:|")

    def um(v):
        return "%.1f" % (int(v) / 1048576.0) if v and v.isdigit() else "-"
    for p in soak.nodes + soak.sentinels:
        samples = soak.rss.get(p.name, [])
        if not samples:
            print("| %s | %d | - | - | - | - | - |" % (p.name, p.starts))
            continue
        end_t, end_pid, end_kb, end_used = samples[-1]
        # Baseline: the first sample of the final process (the run's warm-up sample unless
        # it was restarted; then its first sample after the restart).
        base = next(s for s in samples if s[1] == end_pid)
        dt = end_t - base[0]
        growth = "%.1f" % ((end_kb - base[2]) / 1024.0 / dt * 3600) if dt >= 30 else "n/a (restarted)"
        used = "%s / %s" % (um(base[3]), um(end_used)) if p in soak.nodes else "-"
        print("| %s | %d | %s | %s | %.0f | %s | %s |" % (
            p.name, p.starts, fmt_mb(base[2]), fmt_mb(end_kb), dt, growth, used))
    # Same dataset everywhere (digests equal), so used_memory should be close; a leader far
    # above its followers holds something else (e.g. stream queued for departed followers).
    ld_used = {p.name: soak.rss[p.name][-1][3] for p in soak.nodes if soak.rss.get(p.name)}
    if final.get("digest_equal") and all(v and v.isdigit() for v in ld_used.values()) and len(ld_used) == 3:
        least = min(int(v) for v in ld_used.values())
        for name, v in sorted(ld_used.items()):
            if int(v) - least > max(16 << 20, least // 2):
                soak.warnings.append("%s used_memory %.1f MB at the end, the smallest node %.1f MB, with the same "
                          "dataset (equal digests): memory held besides the data" % (name, int(v) / 1048576.0, least / 1048576.0))
    if soak.warnings:
        print("\nwarnings:")
        for w in soak.warnings:
            print("  " + w)
    if soak.failures:
        print("\nFAILED (%d):" % len(soak.failures))
        for f in soak.failures:
            print("  - " + f.split("\n")[0])
        return 1
    print("\nall checks passed")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--server", required=True)
    ap.add_argument("--sentinel", required=True)
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--rate", type=float, default=2000, help="total ops/s cap (0: unlimited)")
    ap.add_argument("--keep", action="store_true", help="keep the work dir even on success")
    ap.add_argument("--faults", default="kill,partition,stop,sentinel",
                    help="comma-separated fault kinds to draw from")
    ap.add_argument("--interval", default="20-40", help="seconds between faults, MIN-MAX")
    args = ap.parse_args()
    args.faults = [f for f in args.faults.split(",") if f]
    bad = [f for f in args.faults if f not in ("kill", "partition", "stop", "sentinel")]
    if bad or not args.faults:
        ap.error("--faults: unknown kind(s) %s" % bad)
    try:
        lo, hi = (float(x) for x in args.interval.split("-"))
        assert 0 < lo <= hi
    except (ValueError, AssertionError):
        ap.error("--interval: expected MIN-MAX seconds, e.g. 20-40")
    args.interval = (lo, hi)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2 ** 31)
    tmp = tempfile.mkdtemp(prefix="fc-soak-", dir=os.environ.get("TMPDIR"))

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    # Also when started with SIGINT ignored (a background job of a non-interactive shell).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    code = 1
    try:
        soak, clients, faults, final = run(args, tmp)
        code = summary(args, tmp, soak, clients, faults, final)
    except KeyboardInterrupt:
        print("\ninterrupted", flush=True)
        code = 130
    finally:
        if code == 0 and not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("work dir kept: %s" % tmp, flush=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
