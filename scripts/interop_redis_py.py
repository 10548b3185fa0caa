#!/usr/bin/env python3
"""redis-py interoperability suite for ferrocache (run by scripts/interop).

    python scripts/interop_redis_py.py --port 7000 [--host 127.0.0.1]

Every section runs even if an earlier one failed; the exit status is non-zero
if any section failed. All waits are bounded by explicit deadlines.
Set FC_VERBOSE=1 for full tracebacks.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import traceback
import uuid

import redis
import redis.asyncio
from redis.exceptions import LockError, LockNotOwnedError

SOCKET_TIMEOUT = 5.0


def wait_until(predicate, timeout: float, interval: float = 0.01, what: str = "condition"):
    """Poll predicate() until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def eq(actual, expected, what: str = ""):
    assert actual == expected, f"{what}: expected {expected!r}, got {actual!r}"


class Suite:
    def __init__(self, host: str, port: int):
        self.host = host
        self.port = port
        self.prefix = f"interop:{uuid.uuid4().hex[:8]}:"
        self.passed = 0
        self.failed: list[str] = []

    def client(self, **kw) -> redis.Redis:
        kw.setdefault("protocol", 2)
        return redis.Redis(
            host=self.host,
            port=self.port,
            socket_timeout=SOCKET_TIMEOUT,
            socket_connect_timeout=SOCKET_TIMEOUT,
            decode_responses=True,
            **kw,
        )

    def k(self, name: str) -> str:
        return self.prefix + name

    def run(self):
        sections = [
            ("strings", self.test_strings),
            ("ttl", self.test_ttl),
            ("transactions", self.test_transactions),
            ("pubsub", self.test_pubsub),
            ("resp3", self.test_resp3),
            ("lock", self.test_lock),
            ("lock-asyncio", self.test_lock_asyncio),
        ]
        for name, fn in sections:
            start = time.monotonic()
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - report every failure and keep going
                self.failed.append(name)
                print(f"  FAIL  redis-py {name}")
                if os.environ.get("FC_VERBOSE") == "1":
                    lines = traceback.format_exc().rstrip().splitlines()
                else:  # only the frames of this file, plus the exception
                    frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename == __file__]
                    lines = [f"line {f.lineno}: {f.line}" for f in frames[1:]]
                    lines.append(f"{type(e).__module__}.{type(e).__qualname__}: {e}")
                print("\n".join("        | " + line for line in lines), flush=True)
            else:
                self.passed += 1
                print(f"  PASS  redis-py {name} ({(time.monotonic() - start) * 1000:.0f} ms)", flush=True)
        print(f"redis-py: {self.passed} passed, {len(self.failed)} failed")
        return not self.failed

    # ------------------------------------------------------------------ strings
    def test_strings(self):
        r = self.client()
        k = self.k
        eq(r.ping(), True, "PING")
        eq(r.set(k("s"), "hello"), True, "SET")
        eq(r.get(k("s")), "hello", "GET")
        eq(r.get(k("nope")), None, "GET missing")
        eq(r.set(k("s"), "other", nx=True), None, "SET NX on existing key")
        eq(r.set(k("s"), "world", xx=True), True, "SET XX on existing key")
        eq(r.get(k("s")), "world", "GET after SET XX")

        eq(r.incr(k("n")), 1, "INCR new key")
        eq(r.incr(k("n")), 2, "INCR")
        eq(r.incrby(k("n"), 40), 42, "INCRBY")
        eq(r.decr(k("n")), 41, "DECR")
        try:
            r.incr(k("s"))
        except redis.ResponseError as e:
            assert "not an integer" in str(e), f"INCR on non-integer: unexpected error text {e!s}"
        else:
            raise AssertionError("INCR on a non-integer value did not raise")

        eq(r.mset({k("m1"): "v1", k("m2"): "v2", k("m3"): "v3"}), True, "MSET")
        eq(r.mget([k("m1"), k("nope"), k("m3")]), ["v1", None, "v3"], "MGET")

        eq(r.append(k("ap"), "Hello"), 5, "APPEND new key")
        eq(r.append(k("ap"), " World"), 11, "APPEND")
        eq(r.get(k("ap")), "Hello World", "GET after APPEND")
        eq(r.getrange(k("ap"), 0, 4), "Hello", "GETRANGE 0 4")
        eq(r.getrange(k("ap"), -5, -1), "World", "GETRANGE -5 -1")
        eq(r.getrange(k("ap"), 20, 30), "", "GETRANGE out of range")
        eq(r.strlen(k("ap")), 11, "STRLEN")

        eq(r.setex(k("ex"), 100, "temp"), True, "SETEX")
        eq(r.get(k("ex")), "temp", "GET after SETEX")
        ttl = r.ttl(k("ex"))
        assert 98 <= ttl <= 100, f"TTL after SETEX 100: {ttl}"

        # binary-safe values
        rb = redis.Redis(host=self.host, port=self.port, socket_timeout=SOCKET_TIMEOUT, protocol=2)
        blob = bytes(range(256)) + b"\r\n\x00end"
        eq(rb.set(k("bin"), blob), True, "SET binary")
        eq(rb.get(k("bin")), blob, "GET binary")

        eq(r.delete(k("m1"), k("m2"), k("nope")), 2, "DEL counts deleted keys")
        eq(r.exists(k("m1"), k("m3")), 1, "EXISTS")

    # ---------------------------------------------------------------------- ttl
    def test_ttl(self):
        r = self.client()
        k = self.k
        r.set(k("t"), "v")
        eq(r.ttl(k("t")), -1, "TTL without expiry")
        eq(r.ttl(k("nope")), -2, "TTL missing key")
        eq(r.pttl(k("nope")), -2, "PTTL missing key")
        eq(r.expire(k("t"), 100), True, "EXPIRE")
        ttl = r.ttl(k("t"))
        assert 98 <= ttl <= 100, f"TTL after EXPIRE 100: {ttl}"
        pttl = r.pttl(k("t"))
        assert 98_000 <= pttl <= 100_000, f"PTTL after EXPIRE 100: {pttl}"
        eq(r.persist(k("t")), True, "PERSIST")
        eq(r.ttl(k("t")), -1, "TTL after PERSIST")
        eq(r.persist(k("t")), False, "PERSIST without expiry")
        eq(r.expire(k("nope"), 10), False, "EXPIRE missing key")

        # A key with px=100 must disappear (lazily on access, or actively).
        t0 = time.monotonic()
        eq(r.set(k("short"), "v", px=100), True, "SET PX 100")
        pttl = r.pttl(k("short"))
        assert 0 < pttl <= 100, f"PTTL after SET PX 100: {pttl}"
        wait_until(lambda: r.get(k("short")) is None, timeout=3.0, what="px=100 key to expire")
        elapsed = time.monotonic() - t0
        assert elapsed >= 0.09, f"px=100 key vanished too early ({elapsed * 1000:.0f} ms)"
        eq(r.exists(k("short")), 0, "EXISTS after expiry")
        eq(r.ttl(k("short")), -2, "TTL after expiry")

        # Setting a key again clears its TTL.
        r.set(k("re"), "v", ex=100)
        r.set(k("re"), "v2")
        eq(r.ttl(k("re")), -1, "SET clears TTL")

    # ------------------------------------------------------------- transactions
    def test_transactions(self):
        r = self.client()
        other = self.client()
        k = self.k

        pipe = r.pipeline(transaction=True)
        pipe.set(k("tx"), "1").incr(k("tx")).incrby(k("tx"), 10).get(k("tx"))
        eq(pipe.execute(), [True, 2, 12, "12"], "MULTI/EXEC results")

        # Errors inside EXEC are returned per command, the rest still applies.
        pipe = r.pipeline(transaction=True)
        pipe.set(k("txs"), "abc").incr(k("txs")).set(k("txs2"), "ok")
        results = pipe.execute(raise_on_error=False)
        eq(results[0], True, "EXEC[0]")
        assert isinstance(results[1], redis.ResponseError), f"EXEC[1] should be an error: {results[1]!r}"
        eq(results[2], True, "EXEC[2]")
        eq(r.get(k("txs2")), "ok", "command after failing one in EXEC applied")

        # WATCH without conflict succeeds.
        r.set(k("w"), "0")
        with r.pipeline() as p:
            p.watch(k("w"))
            cur = int(p.get(k("w")))
            p.multi()
            p.set(k("w"), str(cur + 1))
            eq(p.execute(), [True], "EXEC after WATCH without conflict")
        eq(r.get(k("w")), "1", "value after uncontended WATCH/EXEC")

        # WATCH with a conflicting write from another client aborts EXEC.
        with r.pipeline() as p:
            p.watch(k("w"))
            other.set(k("w"), "conflict")
            p.multi()
            p.set(k("w"), "mine")
            try:
                p.execute()
            except redis.WatchError:
                pass
            else:
                raise AssertionError("EXEC after conflicting write did not raise WatchError")
        eq(r.get(k("w")), "conflict", "value after aborted transaction")

        # transaction() helper retries until it wins.
        def bump(p):
            cur = int(p.get(k("w2")) or 0)
            p.multi()
            p.set(k("w2"), cur + 1)

        r.transaction(bump, k("w2"))
        eq(r.get(k("w2")), "1", "transaction() helper")

    # ------------------------------------------------------------------- pubsub
    def test_pubsub(self):
        sub_client = self.client()
        pub = self.client()
        chan = self.k("chan")
        pattern = self.k("news.*")

        ps = sub_client.pubsub()
        try:
            ps.subscribe(chan)
            msg = self._next_message(ps, "subscribe")
            eq((msg["channel"], msg["data"]), (chan, 1), "subscribe confirmation")

            # PUBLISH returns the number of receivers once the subscription is registered.
            eq(pub.publish(chan, "hello"), 1, "PUBLISH receiver count")
            msg = self._next_message(ps, "message")
            eq((msg["channel"], msg["data"]), (chan, "hello"), "message")

            ps.psubscribe(pattern)
            msg = self._next_message(ps, "psubscribe")
            eq((msg["channel"], msg["data"]), (pattern, 2), "psubscribe confirmation")

            target = self.k("news.tech")
            eq(pub.publish(target, "rust"), 1, "PUBLISH to pattern")
            msg = self._next_message(ps, "pmessage")
            eq((msg["pattern"], msg["channel"], msg["data"]), (pattern, target, "rust"), "pmessage")

            # The plain subscription still works alongside the pattern.
            eq(pub.publish(chan, "again"), 1, "PUBLISH to channel (no pattern match)")
            msg = self._next_message(ps, "message")
            eq(msg["data"], "again", "message after psubscribe")

            eq(pub.publish(self.k("other"), "nobody"), 0, "PUBLISH with no subscribers")

            ps.unsubscribe(chan)
            msg = self._next_message(ps, "unsubscribe")
            eq((msg["channel"], msg["data"]), (chan, 1), "unsubscribe confirmation")
            ps.punsubscribe(pattern)
            msg = self._next_message(ps, "punsubscribe")
            eq((msg["channel"], msg["data"]), (pattern, 0), "punsubscribe confirmation")
            eq(pub.publish(chan, "late"), 0, "PUBLISH after unsubscribe")
        finally:
            ps.close()

    @staticmethod
    def _next_message(ps, expected_type: str, timeout: float = 3.0):
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {expected_type!r} message within {timeout}s")
            msg = ps.get_message(timeout=min(remaining, 0.5))
            if msg is None:
                continue
            if msg["type"] != expected_type:
                raise AssertionError(f"expected a {expected_type!r} message, got {msg!r}")
            return msg

    # -------------------------------------------------------------------- resp3
    def test_resp3(self):
        r3 = self.client(protocol=3)
        k = self.k
        eq(r3.ping(), True, "PING over RESP3")
        eq(r3.set(k("r3"), "three"), True, "SET over RESP3")
        eq(r3.get(k("r3")), "three", "GET over RESP3")
        eq(r3.get(k("nope")), None, "GET missing over RESP3 (null)")
        eq(r3.incr(k("r3n")), 1, "INCR over RESP3")
        eq(r3.mget([k("r3"), k("nope")]), ["three", None], "MGET over RESP3")
        eq(r3.expire(k("r3"), 50), True, "EXPIRE over RESP3")
        ttl = r3.ttl(k("r3"))
        assert 49 <= ttl <= 50, f"TTL over RESP3: {ttl}"
        conn = r3.connection_pool.get_connection()
        try:
            eq(int(conn.protocol), 3, "negotiated protocol")
        finally:
            r3.connection_pool.release(conn)

        # The same data must be visible from a RESP2 client.
        eq(self.client().get(k("r3")), "three", "RESP2 client sees RESP3 write")


    # --------------------------------------------------------------------- lock
    # redis-py's Lock: SET NX PX to acquire, then Lua scripts (register_script: EVALSHA,
    # SCRIPT LOAD and EVALSHA again on NOSCRIPT) to release, extend and reacquire.
    def test_lock(self):
        r = self.client()
        other = self.client()
        name = self.k("lock")

        lock = r.lock(name, timeout=5, sleep=0.05, blocking_timeout=1)
        eq(lock.acquire(), True, "acquire")
        eq((lock.locked(), lock.owned()), (True, True), "locked()/owned() after acquire")
        pttl = r.pttl(name)
        assert 4000 < pttl <= 5000, f"PTTL after acquire with timeout=5: {pttl}"
        rival = other.lock(name, timeout=5, sleep=0.05)
        eq(rival.acquire(blocking=False), False, "second client, non-blocking acquire of a held lock")
        t0 = time.monotonic()
        eq(rival.acquire(blocking_timeout=0.2), False, "second client, acquire with blocking_timeout=0.2")
        assert time.monotonic() - t0 < 2, "blocking_timeout=0.2 took over 2 s"
        eq(rival.owned(), False, "owned() of the client that lost")

        eq(lock.extend(10), True, "extend(10)")
        pttl = r.pttl(name)
        assert 14000 < pttl <= 15000, f"PTTL after extend(10) of a 5 s lock: {pttl}"
        eq(lock.extend(2, replace_ttl=True), True, "extend(2, replace_ttl=True)")
        pttl = r.pttl(name)
        assert 1000 < pttl <= 2000, f"PTTL after extend(2, replace_ttl=True): {pttl}"
        eq(lock.reacquire(), True, "reacquire()")
        pttl = r.pttl(name)
        assert 4000 < pttl <= 5000, f"PTTL after reacquire() (timeout=5): {pttl}"

        # register_script reloads a script the server has forgotten.
        eq(r.script_flush(), True, "SCRIPT FLUSH")
        eq(lock.extend(1), True, "extend(1) after SCRIPT FLUSH (NOSCRIPT, then SCRIPT LOAD + EVALSHA)")
        lock.release()
        eq(r.exists(name), 0, "key gone after release()")
        eq((lock.locked(), lock.owned()), (False, False), "locked()/owned() after release")

        # As a context manager; blocking acquire of a lock that is released meanwhile.
        with r.lock(name, timeout=5, blocking_timeout=1):
            eq(other.lock(name, timeout=1).acquire(blocking=False), False, "acquire inside `with`")
        eq(r.exists(name), 0, "key gone after the with block")

        # Expiry: a 300 ms lock expires and another client takes it (blocking, bounded).
        short = r.lock(name, timeout=0.3, sleep=0.05)
        eq(short.acquire(blocking=False), True, "acquire a 300 ms lock")
        t0 = time.monotonic()
        taker = other.lock(name, timeout=5, sleep=0.05, blocking_timeout=3)
        eq(taker.acquire(), True, "second client acquires once the 300 ms lock expired")
        waited = time.monotonic() - t0
        assert 0.15 <= waited < 3, f"second client got the lock after {waited:.2f}s (expected ~0.3 s)"
        eq(short.owned(), False, "owned() of the expired lock")
        # (release() forgets the token even when it raises, so it goes last.)
        for what, call in [
            ("extend(1)", lambda: short.extend(1)),
            ("reacquire()", short.reacquire),
            ("release()", short.release),
        ]:
            try:
                call()
            except LockNotOwnedError:
                pass
            else:
                raise AssertionError(f"{what} of a lock taken by another client did not raise LockNotOwnedError")
        eq(taker.owned(), True, "the new holder still owns it")
        taker.release()
        eq(r.exists(name), 0, "key gone after the new holder's release()")

        # A lock that expired with nobody taking it: release() raises LockNotOwnedError too.
        gone = r.lock(name, timeout=0.1)
        eq(gone.acquire(blocking=False), True, "acquire a 100 ms lock")
        wait_until(lambda: not r.exists(name), timeout=3.0, what="100 ms lock to expire")
        try:
            gone.release()
        except LockNotOwnedError:
            pass
        else:
            raise AssertionError("release() of an expired lock did not raise LockNotOwnedError")
        try:
            r.lock(name).release()
        except LockError:
            pass
        else:
            raise AssertionError("release() of a never-acquired lock did not raise LockError")

    def test_lock_asyncio(self):
        asyncio.run(asyncio.wait_for(self._lock_asyncio(), timeout=30))

    async def _lock_asyncio(self):
        def aclient():
            return redis.asyncio.Redis(
                host=self.host,
                port=self.port,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                decode_responses=True,
                protocol=2,
            )

        r, other = aclient(), aclient()
        name = self.k("alock")
        try:
            lock = r.lock(name, timeout=5, sleep=0.05, blocking_timeout=1)
            eq(await lock.acquire(), True, "async acquire")
            eq((await lock.locked(), await lock.owned()), (True, True), "async locked()/owned()")
            eq(await other.lock(name, timeout=5).acquire(blocking=False), False, "async rival acquire")
            eq(await lock.extend(10), True, "async extend(10)")
            pttl = await r.pttl(name)
            assert 14000 < pttl <= 15000, f"PTTL after async extend(10): {pttl}"
            eq(await lock.reacquire(), True, "async reacquire()")
            pttl = await r.pttl(name)
            assert 4000 < pttl <= 5000, f"PTTL after async reacquire(): {pttl}"
            eq(await r.script_flush(), True, "SCRIPT FLUSH")
            eq(await lock.extend(1), True, "async extend(1) after SCRIPT FLUSH")
            await lock.release()
            eq(await r.exists(name), 0, "key gone after async release()")

            async with r.lock(name, timeout=5, blocking_timeout=1):
                eq(await r.exists(name), 1, "key exists inside `async with`")
            eq(await r.exists(name), 0, "key gone after `async with`")

            short = r.lock(name, timeout=0.3, sleep=0.05)
            eq(await short.acquire(blocking=False), True, "async acquire a 300 ms lock")
            taker = other.lock(name, timeout=5, sleep=0.05, blocking_timeout=3)
            eq(await taker.acquire(), True, "second async client acquires once it expired")
            for what, call in [("extend(1)", lambda: short.extend(1)), ("release()", short.release)]:
                try:
                    await call()
                except LockNotOwnedError:
                    pass
                else:
                    raise AssertionError(f"async {what} of a lost lock did not raise LockNotOwnedError")
            await taker.release()
            eq(await r.exists(name), 0, "key gone after the new holder's release()")
        finally:
            await r.aclose()
            await other.aclose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    return 0 if Suite(args.host, args.port).run() else 1


if __name__ == "__main__":
    sys.exit(main())
