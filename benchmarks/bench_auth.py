"""What authentication costs a publish: the key check per request against a publish's server CPU.

    .venv/bin/python benchmarks/bench_auth.py [--requests 3000] [--concurrency 20]

1. The check alone, in process: the authentication middleware resolving a remembered key and the
   route's scope check, around an endpoint that does nothing, against that endpoint called bare
   (200,000 calls each). This is what every request with a key pays.
2. A publish, end to end: `pliers serve` (one worker) on a fresh PostgreSQL database, once with
   authentication off and once with a key (events:write), driven with httpx at ``--concurrency``;
   the server's CPU time per publish comes from /proc.

The figure the project holds itself to: (1) is under 5% of a publish's server CPU (2, key on).
Needs PostgreSQL at PLIERS_TEST_DATABASE_URL (default 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from _harness import pliers_server, scratch_database

from pliers.api.auth import Authentication, requires
from pliers.keys import KeyRequest, KeyService
from pliers.keys.model import ADMIN
from pliers.storage import open_backend

CALLS = 200_000


async def check_alone() -> tuple[float, float]:
    """(µs per call with the key check, µs per call without), on a remembered key."""
    with tempfile.TemporaryDirectory() as folder:
        adapters = await open_backend(f"sqlite:///{Path(folder) / 'bench.db'}")
        try:
            keys = KeyService(adapters.keys, admin_key=None, cache_seconds=3600)
            _, secret = await keys.create(
                KeyRequest(name="bench", scopes=["events:write"]), by=ADMIN
            )

            async def endpoint() -> None:
                return None

            guarded = requires("events:write")(endpoint)

            async def inner(scope: Any, receive: Any, send: Any) -> None:
                await guarded()

            app = Authentication(inner)
            scope = {
                "type": "http",
                "method": "POST",
                "path": "/v1/events/events",
                "query_string": b"",
                "headers": [
                    (b"host", b"pliers.test"),
                    (b"content-type", b"application/json"),
                    (b"authorization", f"Bearer {secret}".encode()),
                ],
                "app": SimpleNamespace(state=SimpleNamespace(runtime=SimpleNamespace(keys=keys))),
            }
            await app(scope, None, None)  # remember the key

            started = time.perf_counter()
            for _ in range(CALLS):
                await app(scope, None, None)
            with_check = (time.perf_counter() - started) / CALLS * 1e6
            started = time.perf_counter()
            for _ in range(CALLS):
                await endpoint()
            bare = (time.perf_counter() - started) / CALLS * 1e6
            return with_check, bare
        finally:
            await adapters.close()


async def publish_cpu(requests: int, concurrency: int, with_key: bool) -> float:
    """Server CPU (µs) per publish."""
    admin = secrets.token_hex(24)
    env = {"PLIERS_ADMIN_KEY": admin} if with_key else {}
    async with scratch_database() as url, pliers_server(url, **env) as base:
        headers: dict[str, str] = {}
        async with httpx.AsyncClient(base_url=str(base), timeout=60) as client:
            if with_key:
                made = await client.post(
                    "/v1/keys",
                    json={"name": "bench", "scopes": ["events:write"]},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                headers = {"Authorization": f"Bearer {made.json()['data']['key']}"}
            queue = list(range(requests))

            async def worker() -> None:
                while queue:
                    queue.pop()
                    event = {"type": "bench.auth", "aggregateId": f"a-{uuid.uuid4().hex[:12]}"}
                    response = await client.post(
                        "/v1/events/events", json={"event": event}, headers=headers
                    )
                    assert response.status_code == 201, response.text

            await asyncio.gather(*(worker() for _ in range(concurrency)))  # warm up
            queue = list(range(requests))
            before = base.cpu_seconds()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return (base.cpu_seconds() - before) / requests * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()

    with_check, bare = await check_alone()
    check = with_check - bare
    print(f"key check per request (middleware + scope), remembered key: {check:.2f} µs")
    off = await publish_cpu(args.requests, args.concurrency, with_key=False)
    on = await publish_cpu(args.requests, args.concurrency, with_key=True)
    print(f"server CPU per publish, authentication off: {off:.0f} µs")
    print(f"server CPU per publish, with a key:         {on:.0f} µs ({(on - off) / off:+.1%})")
    share = check / on
    print(f"key check / publish: {share:.1%} ({'under' if share < 0.05 else 'OVER'} 5%)")


if __name__ == "__main__":
    asyncio.run(main())
