#!/usr/bin/env python3
"""Celery with Redis as broker and result backend (run by scripts/interop).

The same module is the worker's app and the client:

    FC_CELERY_URL=redis://127.0.0.1:7000/3 celery -A interop_celery worker --pool solo   # worker
    FC_CELERY_URL=redis://127.0.0.1:7000/3 python scripts/interop_celery.py               # client

The client waits (bounded) for the worker to answer a remote-control ping (broadcast over
pub/sub), runs one task round trip, and checks that a task's exception comes back through
the result backend. Exits non-zero on failure.
"""

from __future__ import annotations

import os
import sys
import time

from celery import Celery

URL = os.environ.get("FC_CELERY_URL", "redis://127.0.0.1:6379/3")
app = Celery("interop_celery", broker=URL, backend=URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=300,
    broker_connection_retry_on_startup=True,
    broker_connection_max_retries=3,
    broker_transport_options={"socket_timeout": 5, "socket_connect_timeout": 5},
    redis_socket_timeout=5,
    redis_socket_connect_timeout=5,
    worker_hijack_root_logger=False,
)


@app.task
def add(x, y):
    return x + y


@app.task
def fail(message):
    raise ValueError(message)


def main() -> int:
    deadline = time.monotonic() + 45
    replies = []
    while not replies and time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0)
    if not replies:
        print("FAIL  no worker answered a remote-control ping within 45 s")
        return 1
    print(f"ok    worker answered ping: {replies}", flush=True)

    t0 = time.monotonic()
    result = add.delay(2, 40)
    value = result.get(timeout=30)
    if value != 42 or result.status != "SUCCESS":
        print(f"FAIL  add(2, 40) returned {value!r} with status {result.status}")
        return 1
    print(f"ok    add.delay(2, 40).get() == 42 in {(time.monotonic() - t0) * 1000:.0f} ms (task id {result.id})",
          flush=True)

    bad = fail.delay("boom")
    try:
        bad.get(timeout=30)
    except ValueError as e:
        if str(e) != "boom":
            print(f"FAIL  fail.delay('boom') raised ValueError({e!s}) instead of ValueError('boom')")
            return 1
    else:
        print("FAIL  fail.delay('boom').get() did not raise")
        return 1
    if bad.status != "FAILURE":
        print(f"FAIL  status of the failed task: {bad.status}")
        return 1
    print("ok    a task's ValueError comes back through the result backend (status FAILURE)", flush=True)

    results = [add.delay(i, i) for i in range(5)]
    values = [r.get(timeout=30) for r in results]
    if values != [0, 2, 4, 6, 8]:
        print(f"FAIL  five tasks returned {values}")
        return 1
    print("ok    five more round trips", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
