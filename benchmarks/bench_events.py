"""Event Engine throughput and latency on PostgreSQL, against a bare asyncpg reference.

    .venv/bin/python benchmarks/bench_events.py [--requests 2000]

The load comes from an aiohttp client in this process (`pip install -e '.[bench]'`). The
throughput at concurrency 50 is also measured with wrk when it is installed (`apt-get install
wrk`), because a Python client saturates before the server does; then wrk's figure is the one
checked against the target.
Starts `pliers serve` (one worker) on a fresh PostgreSQL database and measures over HTTP, in one
run: publish latency at concurrency 1 and 50, events per second at concurrency 50, reading a
1,000-event aggregate, and appending a 1,000-event batch. The same workloads done by a bare asyncpg
loop against the same table (plain INSERT/SELECT, no HTTP, no validation, no lock) give the
reference limit; ratios are printed next to the targets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import uuid
from dataclasses import dataclass

import aiohttp
import asyncpg
from _harness import (
    line,
    percentiles,
    pliers_server,
    run_concurrently,
    scratch_database,
    timed,
    wrk_available,
    wrk_post,
)

INSERT = (
    "INSERT INTO events (id, type, aggregate_id, sequence_number, payload) "
    "VALUES ($1, $2, $3, $4, $5::jsonb)"
)
PAYLOAD = {"formId": "form-1", "name": "Contact Form", "values": {"email": "a@example.com"}}


def event(aggregate: str | None = None) -> dict[str, object]:
    return {
        "type": "bench.published",
        "aggregateId": aggregate or f"agg-{uuid.uuid4().hex[:12]}",
        "payload": PAYLOAD,
    }


@dataclass
class Figures:
    single: list[float]
    concurrent: list[float]
    rate: float
    batch: list[float]
    read: list[float]


async def bench_http(base: str, requests: int) -> Figures:
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base, connector=connector) as client:

        async def publish(_: int) -> None:
            async with client.post("/v1/events/events", json={"event": event()}) as response:
                assert response.status == 201, await response.text()
                await response.read()

        await run_concurrently(200, 10, publish)  # warm-up: pool, caches, JIT-free paths
        single, _ = await run_concurrently(requests // 2, 1, publish)
        concurrent, wall = await run_concurrently(requests * 2, 50, publish)

        batch_times = []
        for _ in range(10):
            aggregate = f"batch-{uuid.uuid4().hex[:8]}"
            body = {"events": [event(aggregate) for _ in range(1000)]}

            async def batch(body: dict[str, object] = body) -> None:
                async with client.post("/v1/events/events/batch", json=body) as response:
                    assert response.status == 201
                    await response.read()

            batch_times.append(await timed(batch))
        read_times = []
        for _ in range(30):

            async def read() -> None:
                async with client.get(f"/v1/events/events/aggregates/{aggregate}") as response:
                    body = await response.read()
                assert len(json.loads(body)["data"]["events"]) == 1000

            read_times.append(await timed(read))
    return Figures(single, concurrent, len(concurrent) / wall, batch_times, read_times)


async def bench_asyncpg(url: str, requests: int) -> Figures:
    pool = await asyncpg.create_pool(url, min_size=20, max_size=20)
    payload = json.dumps(PAYLOAD)
    try:

        async def insert(_: int) -> None:
            await pool.execute(
                INSERT, str(uuid.uuid4()), "bench.raw", f"raw-{uuid.uuid4().hex[:12]}", 1, payload
            )

        await run_concurrently(200, 10, insert)
        single, _ = await run_concurrently(requests // 2, 1, insert)
        concurrent, wall = await run_concurrently(requests * 2, 50, insert)

        batch_times = []
        for _ in range(10):
            aggregate = f"rawbatch-{uuid.uuid4().hex[:8]}"
            rows = [
                (str(uuid.uuid4()), "bench.raw", aggregate, i + 1, payload) for i in range(1000)
            ]

            async def batch(rows: list[tuple[object, ...]] = rows) -> None:
                async with pool.acquire() as conn, conn.transaction():
                    await conn.executemany(INSERT, rows)

            batch_times.append(await timed(batch))
        read_times = []
        for _ in range(30):

            async def read() -> None:
                rows = await pool.fetch(
                    "SELECT * FROM events WHERE aggregate_id = $1 ORDER BY sequence_number",
                    aggregate,
                )
                assert len(rows) == 1000
                [json.loads(r["payload"]) for r in rows]

            read_times.append(await timed(read))
    finally:
        await pool.close()
    return Figures(single, concurrent, len(concurrent) / wall, batch_times, read_times)


async def main(requests: int) -> None:
    async with scratch_database() as url:
        async with pliers_server(url) as base:
            http = await bench_http(base, requests)
            served = None
            if wrk_available():
                bodies = [{"event": event()} for _ in range(200)]
                served = wrk_post(f"{base}/v1/events/events", bodies, seconds=8)
        raw = await bench_asyncpg(url, requests)

    print(
        f"Event Engine on PostgreSQL, one worker; {requests // 2} sequential and "
        f"{requests * 2} concurrent publishes"
    )
    print(line("pliers publish, concurrency 1", http.single))
    print(line("pliers publish, concurrency 50", http.concurrent))
    print(line("asyncpg insert, concurrency 1", raw.single))
    print(line("asyncpg insert, concurrency 50", raw.concurrent))
    ratio = http.rate / raw.rate
    print(
        f"{'events/s at concurrency 50 (aiohttp)':<44} pliers {http.rate:8.0f}   "
        f"asyncpg {raw.rate:8.0f}   ratio {ratio:.2f}"
    )
    if served is None:
        print("wrk not installed (apt-get install wrk): the aiohttp client's rate is the figure")
    else:
        assert served.errors == 0, f"{served.errors} publishes failed under wrk"
        ratio = served.rate / raw.rate
        print(
            f"{'events/s at concurrency 50 (wrk)':<44} pliers {served.rate:8.0f}   "
            f"asyncpg {raw.rate:8.0f}   ratio {ratio:.2f}   "
            f"(p50 {served.p50:.2f} ms, p99 {served.p99:.2f} ms)"
        )
    print(line("pliers GET 1,000-event aggregate", http.read))
    print(line("asyncpg SELECT 1,000 events", raw.read))
    print(line("pliers POST 1,000-event batch", http.batch))
    print(line("asyncpg executemany 1,000 rows", raw.batch))
    single = percentiles(http.single)
    checks = [
        ("publish p50 <= 3 ms", single["p50"] <= 3),
        ("publish p99 <= 15 ms", single["p99"] <= 15),
        ("events/s at c50 >= 50% of asyncpg", ratio >= 0.5),
        ("1,000-event read <= 15 ms (median)", statistics.median(http.read) <= 15),
        ("1,000-event batch <= 60 ms (median)", statistics.median(http.batch) <= 60),
    ]
    for name, passed in checks:
        print(f"target {name:<40} {'met' if passed else 'MISSED'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
