"""Job functions for the RQ interoperability check (scripts/interop_apps.py rq): an
`rq worker` imports them by dotted name, so they live in a module of their own."""


def add(a, b):
    return a + b


def fail(message):
    raise ValueError(message)
