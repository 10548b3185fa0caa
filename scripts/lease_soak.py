#!/usr/bin/env python3
"""Leader lease soak for scripts/lease-soak (stdlib only).

A leader with leader-lease-ms, one follower and three sentinels (down-after 2000 ms,
lease 1500 ms) on loopback; a writer SETs in a loop for --seconds while the sentinels are
restarted one at a time (SIGTERM, start again on their rewritten config): no write may be
refused. Then two of the three sentinels are killed (kill -9): writes must be refused
within the lease (plus a margin for the check's own polling), and accepted again once
they are back. Prints each phase and exits non-zero when a target is missed.
"""
import argparse
import os
import shutil
import tempfile
import threading
import time

from failover_drill import Cluster, Conn, free_port, now, try_call, wait_for

DOWN_AFTER_MS = 2000
LEASE_MS = DOWN_AFTER_MS - 500


class Writer(threading.Thread):
    """SETs lease:<n> on the leader in a loop; records acknowledgements and refusals."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = False
        self.acked = 0
        self.refusals = []  # (time, error text)
        self.lock = threading.Lock()

    def run(self):
        conn = None
        n = 0
        while not self.stop:
            try:
                if conn is None:
                    conn = Conn(self.port, timeout=2.0)
                n += 1
                r = conn.call("SET", "lease:%d" % (n % 100000), str(n))
                with self.lock:
                    if r == "OK":
                        self.acked += 1
                    else:
                        self.refusals.append((now(), str(r)))
            except (OSError, ConnectionError) as e:
                with self.lock:
                    self.refusals.append((now(), "connection: %s" % e))
                conn = None
                time.sleep(0.05)

    def refusals_since(self, t):
        with self.lock:
            return [x for x in self.refusals if x[0] >= t]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--sentinel", required=True)
    ap.add_argument("--seconds", type=int, default=600)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="fc-lease-soak-")
    cl = Cluster(args.server, args.sentinel, False, tmp, LEASE_MS, DOWN_AFTER_MS)
    failed = []
    try:
        lp, fp = free_port(), free_port()
        cl.start_node("leader", lp)
        cl.start_node("f1", fp, "--replicaof", "127.0.0.1", str(lp))
        sps = [free_port() for _ in range(3)]
        for i, sp in enumerate(sps):
            cl.start_sentinel("s%d" % i, sp, lp)
        wait_for(lambda: try_call(lp, "SET", "lease:probe", "1") == "OK", 30,
                 "the leader to hold its lease")
        print("[%s] lease held; soak for %d s, restarting a sentinel every %d s"
              % (time.strftime("%H:%M:%S"), args.seconds, max(args.seconds // 12, 5)), flush=True)
        w = Writer(lp)
        w.start()
        start = now()
        every = max(args.seconds // 12, 5)
        restarts = 0
        while now() - start < args.seconds:
            time.sleep(min(every, max(0.0, args.seconds - (now() - start))))
            if now() - start >= args.seconds:
                break
            i = restarts % 3
            cl.restart_sentinel("s%d" % i, sps[i])
            restarts += 1
            print("  +%4d s  restarted s%d; acked %d, refused %d"
                  % (now() - start, i, w.acked, len(w.refusals)), flush=True)
        soak_refusals = w.refusals_since(start)
        print("soak: %d s, %d sentinel restarts, %d writes acknowledged, %d refused (target 0)"
              % (args.seconds, restarts, w.acked, len(soak_refusals)), flush=True)
        if soak_refusals:
            failed.append("writes refused during the soak: %s" % soak_refusals[:5])
        # A majority of the sentinels gone.
        killed = now()
        for i in (0, 1):
            cl.procs["s%d" % i].kill()
        wait_for(lambda: w.refusals_since(killed), 10, "a refusal after killing 2 of 3 sentinels")
        first = w.refusals_since(killed)[0]
        took_ms = (first[0] - killed) * 1000
        print("killed 2 of 3 sentinels: writes refused after %d ms (lease %d ms): %s"
              % (took_ms, LEASE_MS, first[1]), flush=True)
        if took_ms > LEASE_MS + 200 or "No leader lease" not in first[1]:
            failed.append("refusal after %d ms: %s" % (took_ms, first[1]))
        back = now()
        for i in (0, 1):
            cl.restart_sentinel("s%d" % i, sps[i])
        acked_before = w.acked

        def accepting():
            return w.acked > acked_before + 10

        wait_for(accepting, 20, "writes accepted again with the sentinels back")
        print("sentinels back: writes accepted again after %d ms" % ((now() - back) * 1000), flush=True)
        w.stop = True
        w.join(5)
    finally:
        cl.stop_all()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("targets: %s" % ("met" if not failed else "NOT met: " + "; ".join(failed)))
    raise SystemExit(0 if not failed else 1)


if __name__ == "__main__":
    main()
