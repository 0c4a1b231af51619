"""What logging and metrics cost per request, against the cost of a publish, in the same run.

    .venv/bin/python benchmarks/bench_observe.py [--requests 20000] [--publishes 3000]
        [--backend sqlite|postgres]

Every request passes through one ASGI middleware (``pliers.api.observe.RequestObserver``): it
reads or makes the request id, sets the request context, writes the access line and counts the
request in the Prometheus metrics. Its cost is measured apart, around an application that answers
at once (so nothing else is counted): CPU time per request with the observer minus without, with
the access line formatted as JSON and as text (written to /dev/null), and with prometheus-client
in memory (one process) and in multiprocess mode (``--workers N``: values in mmapped files).

A publish is then measured the same way, through the whole app on a fresh store: CPU time of this
process per ``POST /v1/events/events`` (the store's driver included, the database server not).
The figure that matters is the ratio: the observer's cost as a share of a publish's.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

Message = dict[str, Any]
App = Callable[
    [dict[str, Any], Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]


def _scope(
    path: str, method: str = "GET", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers or [(b"host", b"bench")],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }


async def _call(app: App, scope: dict[str, Any], body: bytes = b"") -> int:
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def _answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 201, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})


async def _cpu_per_call(app: App, scope: dict[str, Any], n: int, body: bytes = b"") -> float:
    for _ in range(min(n // 10, 500)):  # warm up
        await _call(app, scope, body)
    started = time.process_time()
    for _ in range(n):
        await _call(app, scope, body)
    return (time.process_time() - started) / n


def _log_to_devnull(fmt: str) -> logging.Handler:
    from pliers.logs import formatter

    handler = logging.StreamHandler(open(os.devnull, "w"))  # noqa: SIM115
    handler.setFormatter(formatter(fmt))  # type: ignore[arg-type]
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    logging.getLogger("pliers").setLevel(logging.INFO)
    return handler


async def observer_cost(requests: int) -> dict[str, float]:
    from starlette.routing import Route

    from pliers.api.observe import RequestObserver

    route = Route("/v1/events/events", _answer, methods=["POST"])

    async def routed(scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope["route"] = route  # what the router does for the observer to read
        await _answer(scope, receive, send)

    scope = _scope(
        "/v1/events/events", "POST", [(b"host", b"bench"), (b"x-request-id", b"bench-1")]
    )
    bare = min([await _cpu_per_call(routed, scope, requests) for _ in range(3)])
    figures: dict[str, float] = {"bare": bare}
    for fmt in ("json", "text"):
        _log_to_devnull(fmt)
        observed = RequestObserver(routed)  # type: ignore[arg-type]
        cost = min([await _cpu_per_call(observed, scope, requests) for _ in range(3)])
        figures[f"observer ({fmt} access line)"] = cost - bare
    quiet = RequestObserver(routed, access_log=False)  # type: ignore[arg-type]
    cost = min([await _cpu_per_call(quiet, scope, requests) for _ in range(3)])
    figures["observer (no access line)"] = cost - bare
    return figures


async def publish_cost(publishes: int, backend: str) -> float:
    from pliers.api.app import create_app
    from pliers.testing import running_runtime

    logging.getLogger("pliers").setLevel(logging.WARNING)  # the publish alone
    if backend == "postgres":
        sys.path.insert(0, str(Path(__file__).parent))
        from _harness import scratch_database

        async with scratch_database() as url, running_runtime(url) as rt:
            return await _publishes(create_app(runtime=rt), publishes)
    with tempfile.TemporaryDirectory() as d:
        async with running_runtime(f"sqlite:///{d}/bench.db") as rt:
            return await _publishes(create_app(runtime=rt), publishes)


async def _publishes(app: Any, n: int) -> float:
    scope = _scope(
        "/v1/events/events", "POST", [(b"host", b"bench"), (b"content-type", b"application/json")]
    )
    counter = iter(range(10**9))
    total = 0.0
    for _ in range(min(n // 10, 200)):
        body = json.dumps({"event": {"type": "bench.warm", "aggregateId": f"w{next(counter)}"}})
        assert await _call(app, scope, body.encode()) == 201
    started = time.process_time()
    for _ in range(n):
        body = json.dumps(
            {"event": {"type": "bench.published", "aggregateId": f"a{next(counter)}"}}
        )
        assert await _call(app, scope, body.encode()) == 201
    total = time.process_time() - started
    return total / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--publishes", type=int, default=3_000)
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()

    rows: list[tuple[str, float]] = []
    figures = asyncio.run(observer_cost(args.requests))
    rows += [(f"{name}, metrics in memory", us) for name, us in figures.items() if name != "bare"]
    with tempfile.TemporaryDirectory() as d:
        # multiprocess mode is chosen when prometheus-client is imported: start it again
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = d
        for name in [m for m in sys.modules if m.startswith(("prometheus_client", "pliers"))]:
            del sys.modules[name]
        importlib.invalidate_caches()
        figures = asyncio.run(observer_cost(args.requests))
        rows += [
            (f"{name}, metrics multiprocess", us) for name, us in figures.items() if name != "bare"
        ]
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    publish = asyncio.run(publish_cost(args.publishes, args.backend))

    print(f"CPU per publish ({args.backend}, whole app, this process): {publish * 1e6:8.1f} µs")
    print(f"{'per-request cost of logging + metrics':<62} {'µs':>8} {'of a publish':>13}")
    for name, cost in rows:
        print(f"{name:<62} {cost * 1e6:8.2f} {cost / publish:12.1%}")


if __name__ == "__main__":
    main()
