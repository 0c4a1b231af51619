"""Live stream figures: publish-to-delivery latency on one process and across two through Redis,
and 10,000 events to one subscriber with the server's memory before and after.

Starts real ``pliers serve`` processes on a fresh PostgreSQL database and a claimed Redis database:

    .venv/bin/python benchmarks/bench_stream.py [--events 200] [--subscribers 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import ClientConnection, connect

from pliers.testing import redis as redis_db
from pliers.testing import services
from pliers.testing.postgres import with_database

SETTLE = 0.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@asynccontextmanager
async def server(database_url: str, redis_url: str) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "PLIERS_DATABASE_URL": database_url,
        "PLIERS_REDIS_URL": redis_url,
        "PLIERS_LOG_LEVEL": "warning",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", "from pliers.cli import main; main()", "serve"),
        *("--port", str(port)),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base) as http:
            for _ in range(300):
                try:
                    if (await http.get("/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{base} did not start")
        yield base, process.pid
    finally:
        process.terminate()
        await process.wait()


def ws_url(base: str) -> str:
    return base.replace("http://", "ws://") + "/v1/events/stream"


async def subscribed(url: str, **fields: Any) -> ClientConnection:
    ws = await connect(url, max_size=None)
    await ws.send(json.dumps({"type": "subscribe", **fields}))
    confirmed = json.loads(await ws.recv())
    assert confirmed["type"] == "subscription_confirmed", confirmed
    return ws


async def latency(publish_base: str, subscribe_base: str, subscribers: int, events: int) -> None:
    kind = f"bench.latency{uuid.uuid4().hex[:8]}"
    clients = [
        await subscribed(ws_url(subscribe_base), filter={"eventTypes": [kind]})
        for _ in range(subscribers)
    ]
    samples: list[float] = []
    sent_at: dict[int, float] = {}

    async def receive(ws: ClientConnection) -> None:
        for _ in range(events):
            message = json.loads(await ws.recv())
            samples.append(time.perf_counter() - sent_at[message["data"]["payload"]["n"]])

    readers = [asyncio.create_task(receive(ws)) for ws in clients]
    async with httpx.AsyncClient(base_url=publish_base) as http:
        for n in range(events):
            event = {"type": kind, "aggregateId": f"agg-{n}", "payload": {"n": n}}
            sent_at[n] = time.perf_counter()
            response = await http.post("/v1/events/events", json={"event": event})
            assert response.status_code == 201, response.text
            await asyncio.sleep(0.02)
    await asyncio.wait_for(asyncio.gather(*readers), 60)
    for ws in clients:
        await ws.close()
    ms = sorted(s * 1000 for s in samples)
    q = statistics.quantiles(ms, n=100)
    print(
        f"  {len(ms)} deliveries ({events} events x {subscribers} subscribers): "
        f"p50 {q[49]:.1f} ms  p95 {q[94]:.1f} ms  p99 {q[98]:.1f} ms  max {ms[-1]:.1f} ms"
    )


async def bulk(base: str, pid: int, total: int) -> None:
    kind = f"bench.bulk{uuid.uuid4().hex[:8]}"
    before = rss_kib(pid)
    ws = await subscribed(ws_url(base), filter={"eventTypes": [kind]})
    positions: list[int] = []

    async def receive() -> None:
        while len(positions) < total:
            positions.append(json.loads(await ws.recv())["data"]["position"])

    reader = asyncio.create_task(receive())
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for start in range(0, total, 100):
            batch = [
                {"type": kind, "aggregateId": f"bulk-{n}", "payload": {"n": n, "pad": "x" * 200}}
                for n in range(start, min(start + 100, total))
            ]
            response = await http.post("/v1/events/events/batch", json={"events": batch})
            assert response.status_code == 201, response.text
    await asyncio.wait_for(reader, 120)
    elapsed = time.perf_counter() - started
    await ws.close()
    await asyncio.sleep(SETTLE)
    after = rss_kib(pid)
    lost = total - len(set(positions))
    in_order = positions == sorted(positions)
    print(
        f"  {len(positions)} of {total} events received, {lost} lost, "
        f"in order: {in_order}, {total / elapsed:.0f} events/s end to end"
    )
    print(
        f"  server RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB, "
        f"growth {(after - before) / 1024:.1f} MiB"
    )


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--bulk", type=int, default=10_000)
    args = parser.parse_args()

    admin_url = services.postgres_admin_url()
    name = f"pliers_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(admin_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    redis_server = services.redis_url()
    index, token = await redis_db.claim_database(redis_server)
    database_url = with_database(admin_url, name)
    redis_url = redis_db.with_index(redis_server, index)
    try:
        async with server(database_url, redis_url) as (a, a_pid):
            print(f"one process (PostgreSQL + Redis), {args.subscribers} subscribers:")
            await latency(a, a, args.subscribers, args.events)
            async with server(database_url, redis_url) as (b, _):
                print(f"two processes through Redis, publish on A, {args.subscribers} on B:")
                await latency(a, b, args.subscribers, args.events)
            print(f"{args.bulk} events streamed to one subscriber:")
            await bulk(a, a_pid, args.bulk)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        await redis_db.release_database(redis_server, index, token)


if __name__ == "__main__":
    asyncio.run(main())
