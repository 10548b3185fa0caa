#!/usr/bin/env python3
"""Software built on Redis scripting, run unchanged against the server (by scripts/interop).

    python scripts/interop_apps.py --port 7000 limits     # the `limits` rate-limiting library
    python scripts/interop_apps.py --port 7000 sidekiq    # a Sidekiq-style scheduled-set poller
    python scripts/interop_apps.py --port 7000 rq         # RQ: enqueue, `rq worker --burst`, results
    python scripts/interop_apps.py --port 7000 pottery    # pottery's HyperLogLog

Prints one line per step and exits non-zero on the first failure (with the step and the
exception). All waits are bounded. Set FC_VERBOSE=1 for full tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
import time
import traceback
import uuid

import redis

SOCKET_TIMEOUT = 5.0


def eq(actual, expected, what: str = ""):
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


def wait_until(predicate, timeout: float, interval: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def ok(msg: str):
    print(f"ok    {msg}", flush=True)


# ------------------------------------------------------------------------ limits
# limits' Redis storage keeps every strategy in Lua scripts (register_script: EVALSHA,
# SCRIPT LOAD + EVALSHA on NOSCRIPT): moving window (a list of timestamps, LINDEX binary
# search), fixed window (INCRBY + EXPIRE), sliding window counter (two counters, PTTL,
# RENAME), and reset() (KEYS + DEL with unpack()).
def check_limits(host: str, port: int):
    import limits
    from limits import RateLimitItemPerSecond, storage, strategies

    prefix = f"LIMITS-interop-{uuid.uuid4().hex[:8]}"
    st = storage.RedisStorage(f"redis://{host}:{port}/0", key_prefix=prefix,
                              socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
    eq(st.check(), True, "storage.check() (PING)")
    raw = redis.Redis(host=host, port=port, socket_timeout=SOCKET_TIMEOUT, decode_responses=True)
    item = RateLimitItemPerSecond(5, 1)  # 5 per 1 second

    for name, cls in [
        ("moving window", strategies.MovingWindowRateLimiter),
        ("fixed window", strategies.FixedWindowRateLimiter),
        ("sliding window counter", strategies.SlidingWindowCounterRateLimiter),
    ]:
        lim = cls(st)
        ident = name.replace(" ", "-")
        t0 = time.time()
        eq(lim.test(item, ident), True, f"{name}: test() before any hit")
        eq(lim.hit(item, ident, cost=2), True, f"{name}: hit(cost=2)")
        for i in range(3):
            eq(lim.hit(item, ident), True, f"{name}: hit {i + 3} of 5")
        eq(lim.hit(item, ident), False, f"{name}: 6th hit refused")
        eq(lim.test(item, ident), False, f"{name}: test() at the limit")
        eq(lim.hit(item, ident), False, f"{name}: 7th hit refused")
        stats = lim.get_window_stats(item, ident)
        eq(stats.remaining, 0, f"{name}: get_window_stats().remaining at the limit")
        assert t0 - 0.5 <= stats.reset_time <= time.time() + 1.5, \
            f"{name}: reset_time {stats.reset_time} not within the 1 s window (now {time.time()})"
        other = f"{ident}-other"
        eq(lim.hit(item, other, cost=5), True, f"{name}: another identifier has its own budget")
        eq(lim.hit(item, other, cost=6), False, f"{name}: cost above the limit refused")
        # The window passes (the sliding counter weighs the previous window in: up to 2 s).
        wait_until(lambda: lim.test(item, ident), timeout=3.0, interval=0.05,
                   what=f"{name}: window to reset")
        eq(lim.hit(item, ident), True, f"{name}: hit after the window reset")
        stats = lim.get_window_stats(item, ident)
        assert 0 <= stats.remaining <= 4, f"{name}: remaining after reset and one hit: {stats.remaining}"
        if name != "sliding window counter":
            eq(stats.remaining, 4, f"{name}: remaining after reset and one hit")
        lim.clear(item, ident)
        eq(lim.get_window_stats(item, ident).remaining, 5, f"{name}: remaining after clear()")
        ok(f"{name}: 5/s allowed, 6th refused, stats at the limit, reset after the window, clear()")

    # Scripts the server forgot are reloaded.
    raw.script_flush()
    lim = strategies.MovingWindowRateLimiter(st)
    eq(lim.hit(item, "after-flush"), True, "moving window hit after SCRIPT FLUSH")
    ok("after SCRIPT FLUSH the scripts are loaded again (NOSCRIPT, SCRIPT LOAD, EVALSHA)")

    left = raw.keys(f"{prefix}:*")
    assert left, "no limits keys to reset"
    removed = st.reset()
    eq(removed, len(left), "reset() count (Lua KEYS + DEL)")
    eq(raw.keys(f"{prefix}:*"), [], "keys after reset()")
    ok(f"storage.reset() removed {removed} keys through a script calling KEYS and DEL")

    # The asyncio flavour (limits.aio) on redis.asyncio.
    from limits.aio import storage as astorage, strategies as astrategies

    async def run_async():
        ast = astorage.RedisStorage(f"async+redis://{host}:{port}/0", implementation="redispy",
                                    key_prefix=prefix, socket_timeout=SOCKET_TIMEOUT)
        for name, cls in [
            ("moving window", astrategies.MovingWindowRateLimiter),
            ("fixed window", astrategies.FixedWindowRateLimiter),
            ("sliding window counter", astrategies.SlidingWindowCounterRateLimiter),
        ]:
            lim = cls(ast)
            ident = "async-" + name.replace(" ", "-")
            for i in range(5):
                eq(await lim.hit(item, ident), True, f"async {name}: hit {i + 1} of 5")
            eq(await lim.hit(item, ident), False, f"async {name}: 6th hit refused")
            eq((await lim.get_window_stats(item, ident)).remaining, 0, f"async {name}: remaining")
        await ast.reset()

    asyncio.run(asyncio.wait_for(run_async(), timeout=20))
    ok("limits.aio (redis.asyncio): moving, fixed and sliding window counter refuse the 6th hit")
    print(f"limits {limits.__version__}")


# ----------------------------------------------------------------------- sidekiq
# Sidekiq's scheduler (Sidekiq::Scheduled::Enq) polls the "schedule" and "retry" sorted
# sets (score = when the job is due) with a script that takes the earliest due job,
# removes it and hands it back, one job per call, until none is due. This one (written
# here from that description) also pushes the job onto its queue list, which it finds
# in the job's JSON, and registers the queue in the "queues" set the way a client push does.
ZPOPBYSCORE_PUSH = """
local job = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 1)[1]
if not job then
  return false
end
if redis.call('ZREM', KEYS[1], job) == 0 then
  return false
end
local queue = cjson.decode(job)['queue']
redis.call('SADD', KEYS[2], queue)
redis.call('LPUSH', ARGV[2] .. queue, job)
return job
"""


def check_sidekiq(host: str, port: int):
    r = redis.Redis(host=host, port=port, socket_timeout=SOCKET_TIMEOUT, decode_responses=True)
    ns = f"interop:sidekiq:{uuid.uuid4().hex[:8]}:"
    schedule, queues, qprefix = ns + "schedule", ns + "queues", ns + "queue:"
    now = time.time()

    def job(jid, queue, at):
        return json.dumps({"class": "HardWorker", "args": [jid], "jid": jid, "queue": queue, "at": at},
                          separators=(",", ":"), sort_keys=True)

    jobs = {
        "due-1": job("due-1", "default", now - 60),
        "due-2": job("due-2", "critical", now - 30),
        "due-3": job("due-3", "default", now - 1),
        "later": job("later", "default", now + 3600),
    }
    r.zadd(schedule, {jobs["due-1"]: now - 60, jobs["due-2"]: now - 30,
                      jobs["due-3"]: now - 1, jobs["later"]: now + 3600})

    sha = r.script_load(ZPOPBYSCORE_PUSH)
    eq(sha, hashlib.sha1(ZPOPBYSCORE_PUSH.encode()).hexdigest(), "SCRIPT LOAD returns the SHA1 of the body")
    eq(r.script_exists(sha), [True], "SCRIPT EXISTS after SCRIPT LOAD")
    ok(f"SCRIPT LOAD -> {sha}")

    moved = []
    for _ in range(10):  # bounded: 3 due jobs
        popped = r.evalsha(sha, 2, schedule, queues, repr(now), qprefix)
        if popped is None:
            break
        moved.append(json.loads(popped)["jid"])
    eq(moved, ["due-1", "due-2", "due-3"], "jobs EVALSHA moved, earliest first, then nil")
    eq(r.lrange(qprefix + "default", 0, -1), [jobs["due-3"], jobs["due-1"]], "queue:default (LPUSH order)")
    eq(r.lrange(qprefix + "critical", 0, -1), [jobs["due-2"]], "queue:critical")
    eq(sorted(r.smembers(queues)), ["critical", "default"], "queues set")
    eq(r.zrange(schedule, 0, -1, withscores=True), [(jobs["later"], now + 3600)], "future job left in the set")
    ok("EVALSHA moved the 3 due jobs to their queues in due order; the future job stayed; nil when none is due")

    # A worker takes jobs off the queue's other end (BRPOP): first due, first out.
    eq(r.brpop([qprefix + "default"], timeout=1), (qprefix + "default", jobs["due-1"]), "BRPOP oldest job")

    # Sidekiq's client reloads on NOSCRIPT (SCRIPT FLUSH, failover, restart).
    r.script_flush()
    try:
        r.evalsha(sha, 2, schedule, queues, repr(now + 7200), qprefix)
    except redis.exceptions.NoScriptError:
        pass
    else:
        raise AssertionError("EVALSHA after SCRIPT FLUSH did not raise NoScriptError")
    eq(r.script_load(ZPOPBYSCORE_PUSH), sha, "SCRIPT LOAD again gives the same SHA")
    popped = r.evalsha(sha, 2, schedule, queues, repr(now + 7200), qprefix)
    eq(json.loads(popped)["jid"], "later", "EVALSHA once the job is due (clock moved on)")
    eq(r.zcard(schedule), 0, "schedule empty")
    eq(r.evalsha(sha, 2, schedule, queues, repr(now + 7200), qprefix), None, "EVALSHA on an empty set")
    ok("after SCRIPT FLUSH: NOSCRIPT, SCRIPT LOAD (same SHA), EVALSHA moves the now-due job")
    r.delete(schedule, queues, qprefix + "default", qprefix + "critical")


# ------------------------------------------------------------------------ RQ
# RQ keeps jobs in hashes and lists, registries in sorted sets, and (since 1.12) every
# job's results in a stream (`rq:results:<id>`, XADD with MAXLEN, read with XREVRANGE).
# The worker is the real `rq worker --burst` process, importing interop_rq_jobs.
def check_rq(host: str, port: int):
    import subprocess

    from rq import Queue
    from rq.job import JobStatus

    r = redis.Redis(host=host, port=port, socket_timeout=SOCKET_TIMEOUT)
    name = f"interop-{uuid.uuid4().hex[:8]}"
    q = Queue(name, connection=r)
    good = q.enqueue("interop_rq_jobs.add", 20, 22)
    bad = q.enqueue("interop_rq_jobs.fail", "boom")
    eq(q.count, 2, "jobs queued")
    ok(f"enqueued 2 jobs on queue {name}")
    here = os.path.dirname(os.path.abspath(__file__))
    rq_bin = os.path.join(os.path.dirname(sys.executable), "rq")
    proc = subprocess.run([rq_bin, "worker", "--burst", "--url", f"redis://{host}:{port}/0", name],
                          cwd=here, capture_output=True, text=True, timeout=60)
    eq(proc.returncode, 0, f"rq worker --burst exit status (output: {proc.stdout[-800:]}{proc.stderr[-800:]})")
    ok("rq worker --burst processed the queue and exited")
    good.refresh()
    bad.refresh()
    eq(good.get_status(), JobStatus.FINISHED, "good job status")
    eq(good.return_value(), 42, "good job return value (read from its results stream)")
    eq(bad.get_status(), JobStatus.FAILED, "failing job status")
    assert "boom" in (bad.latest_result().exc_string or ""), "failing job's exception in its result"
    results_key = f"rq:results:{good.id}"
    eq(r.type(results_key), b"stream", "results are kept in a stream")
    eq(r.xlen(results_key), 1, "one result entry")
    ok("results read back through the results streams: 42, and the ValueError of the failing job")


# ------------------------------------------------------------------------ pottery
# pottery's HyperLogLog is a Python set-like over PFADD/PFCOUNT/PFMERGE.
def check_pottery(host: str, port: int):
    from pottery import HyperLogLog

    r = redis.Redis(host=host, port=port, socket_timeout=SOCKET_TIMEOUT)
    key = f"interop:pottery:{uuid.uuid4().hex[:8]}"
    visitors = HyperLogLog({"alice", "bob"}, redis=r, key=key + ":a")
    visitors.add("carol")
    visitors.update({"alice", "dave"})
    eq(len(visitors), 4, "cardinality after add/update")
    eq("bob" in visitors, True, "membership (PFADD probe)")
    eq("zoe" in visitors, False, "non-membership")
    others = HyperLogLog({f"user{i}" for i in range(1000)}, redis=r, key=key + ":b")
    n = len(others)
    assert 980 <= n <= 1020, f"1000 distinct elements counted as {n}"
    union = visitors.union(others, redis=r)
    m = len(union)
    assert n + 3 <= m <= n + 5, f"union counted {m}"
    eq(r.pfcount(key + ":a"), 4, "PFCOUNT of pottery's key")
    eq(r.get(key + ":a")[:4], b"HYLL", "the key is a Redis HyperLogLog string")
    ok(f"pottery HyperLogLog: add/update/contains, 1000 elements -> {n}, union -> {m}")
    r.delete(key + ":a", key + ":b")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("check", choices=["limits", "sidekiq", "rq", "pottery"])
    args = ap.parse_args()
    fn = {"limits": check_limits, "sidekiq": check_sidekiq, "rq": check_rq, "pottery": check_pottery}[args.check]
    try:
        fn(args.host, args.port)
    except Exception as e:  # noqa: BLE001 - report and fail
        if os.environ.get("FC_VERBOSE") == "1":
            lines = traceback.format_exc().rstrip().splitlines()
        else:
            frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
            lines = [f"line {f.lineno}: {f.line}" for f in frames[1:]]
            lines.append(f"{type(e).__module__}.{type(e).__qualname__}: {e}")
        print("FAIL  " + "\n      ".join(lines), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
