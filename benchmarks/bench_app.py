"""CPU per publish of the app itself, in process: no HTTP server, no client on the same cores.

    .venv/bin/python benchmarks/bench_app.py [--requests 20000] [--rounds 3]

For A/B work on the request path, where wrk's figures move with everything else on the machine.
The app (``create_app``, every middleware, a key checked on each request) on a fresh PostgreSQL
database is called directly as an ASGI app by 50 concurrent tasks, each request a publish of one
event; the figure is this process's CPU time (user + system) per request. Two kinds of rounds
alternate:

- ``with the store``: the whole publish, PostgreSQL included;
- ``store answers at once``: the event store's ``append`` answers without the database, so what is
  left is the web layer and the domain (stamping, validation, the answer).

HTTP parsing by uvicorn is not in either figure (about 30 µs of server CPU per request on this
kind of machine, for a trivial ASGI app served to wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import secrets
import statistics
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import uvloop
from _harness import Row, print_table, scratch_database

CONCURRENCY = 50
PAYLOAD = {"formId": "form-1", "name": "Contact Form", "values": {"email": "a@example.com"}}


async def call(app: Any, path: str, body: bytes, key: str) -> tuple[int, bytes]:
    """One POST straight into the ASGI app: (status, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", f"Bearer {key}".encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    given = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # the client never leaves
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def publishes(app: Any, key: str, bodies: list[bytes], count: int) -> float:
    """CPU µs per publish of ``count`` publishes by :data:`CONCURRENCY` tasks."""

    async def worker(offset: int) -> None:
        for i in range(count // CONCURRENCY):
            status, answer = await call(
                app, "/v1/events/events", bodies[(offset + i) % len(bodies)], key
            )
            assert status == 201, answer

    before = cpu_seconds()
    await asyncio.gather(*(worker(w * 7) for w in range(CONCURRENCY)))
    return (cpu_seconds() - before) / count * 1e6


async def main(requests: int, rounds: int) -> None:
    async with scratch_database() as url:
        admin = secrets.token_hex(24)
        os.environ.update(
            PLIERS_DATABASE_URL=url, PLIERS_ADMIN_KEY=admin, PLIERS_LOG_LEVEL="warning"
        )
        from pliers.api.app import create_app
        from pliers.events.model import AppendResult, NewEvent
        from pliers.settings import load_settings

        app = create_app(load_settings())
        async with app.router.lifespan_context(app):
            made = json.dumps({"name": "bench", "scopes": ["events:write"]}).encode()
            status, answer = await call(app, "/v1/keys", made, admin)
            assert status == 201, answer
            key = json.loads(answer)["data"]["key"]
            bodies = [
                json.dumps(
                    {
                        "event": {
                            "type": "bench.published",
                            "aggregateId": f"agg-{uuid.uuid4().hex[:12]}",
                            "payload": PAYLOAD,
                        }
                    }
                ).encode()
                for _ in range(500)
            ]
            store = app.state.runtime.store
            now = datetime.now(UTC)

            async def at_once(events: Sequence[NewEvent]) -> list[AppendResult]:
                return [AppendResult(str(uuid.uuid4()), 1, 1, now) for _ in events]

            await publishes(app, key, bodies, 5000)  # warm-up: connections, statements, caches
            real: list[float] = []
            stubbed: list[float] = []
            for _ in range(rounds):
                real.append(await publishes(app, key, bodies, requests))
                store.append = at_once
                try:
                    stubbed.append(await publishes(app, key, bodies, requests))
                finally:
                    del store.append
    full, web = statistics.median(real), statistics.median(stubbed)
    print_table(
        f"App CPU per publish, in process, {CONCURRENCY} concurrent requests "
        f"(median of {rounds} alternating rounds of {requests:,})",
        [
            Row("publish, with the store (PostgreSQL)", f"{full:.0f} µs", "-", "-", "-", None),
            Row("publish, store answers at once", f"{web:.0f} µs", "-", "-", "-", None),
            Row("the store's share", f"{full - web:.0f} µs", "-", "-", "-", None),
        ],
    )
    print(
        f"rounds: with the store {[round(v) for v in real]}, at once {[round(v) for v in stubbed]}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=20_000, help="publishes per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each kind")
    args = parser.parse_args()
    uvloop.run(main(args.requests, args.rounds))  # the loop `pliers serve` runs on
