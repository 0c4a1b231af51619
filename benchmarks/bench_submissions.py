"""Submission throughput and latency of ``pliers serve`` on PostgreSQL, over HTTP.

Creates a fresh database, starts the server as a subprocess on it, creates a 20-field form and
measures, in one run:

- submission latency (p50/p95/p99) at concurrency 1,
- submissions per second at concurrency 50,
- plain event publishes per second at concurrency 50 (the store's own rate), and the ratio.

Targets: p50 <= 5 ms; submissions/s >= 60% of publishes/s.

    python benchmarks/bench_submissions.py [--sequential 1000] [--concurrent 3000]

PostgreSQL is found from PLIERS_TEST_DATABASE_URL (an admin URL), else 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROUNDS = 3
ADMIN_URL = (
    os.environ.get("PLIERS_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
)


def with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def twenty_field_form() -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {"name": "first_name", "type": "text", "required": True, "validation": {"minLength": 1}},
        {"name": "last_name", "type": "text", "required": True, "validation": {"maxLength": 100}},
        {"name": "email", "type": "email", "required": True},
        {"name": "website", "type": "url"},
        {"name": "phone", "type": "tel"},
        {"name": "company", "type": "text"},
        {"name": "job_title", "type": "text"},
        {"name": "postcode", "type": "text", "validation": {"pattern": r"^[A-Z0-9 ]{3,10}$"}},
        {"name": "bio", "type": "textarea", "validation": {"maxLength": 2000}},
        {"name": "age", "type": "integer", "validation": {"min": 18, "max": 130}},
        {"name": "score", "type": "number", "validation": {"min": 0, "max": 10}},
        {"name": "newsletter", "type": "boolean"},
        {"name": "birthday", "type": "date"},
        {"name": "arrival", "type": "datetime"},
        {"name": "slot", "type": "time"},
        {"name": "size", "type": "select", "options": ["S", "M", "L", "XL"]},
        {"name": "interests", "type": "multiselect", "options": ["music", "sport", "books"]},
        {"name": "contact_by", "type": "radio", "options": ["email", "phone"]},
        {"name": "terms", "type": "checkbox", "required": True},
        {"name": "comments", "type": "textarea"},
    ]
    validation = [
        {"field": "email", "type": "email"},
        {"field": "first_name", "type": "minLength", "value": 2},
    ]
    return {"name": "Benchmark form", "fields": fields, "validation": validation}


def submission_data(i: int) -> dict[str, Any]:
    return {
        "first_name": "Ada",
        "last_name": f"Lovelace {i}",
        "email": f"ada{i}@example.com",
        "website": "https://example.com/ada",
        "phone": "+44 20 7946 0958",
        "company": "Analytical Engines Ltd",
        "job_title": "Programmer",
        "postcode": "EC1A 1BB",
        "bio": "Wrote the first published algorithm. " * 3,
        "age": 36,
        "score": 9.5,
        "newsletter": True,
        "birthday": "1815-12-10",
        "arrival": "2026-11-25T16:00:00Z",
        "slot": "09:30",
        "size": "M",
        "interests": ["music", "books"],
        "contact_by": "email",
        "terms": True,
        "comments": "",
    }


async def wait_until_up(client: httpx.AsyncClient, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"pliers serve exited with {server.returncode}")
        try:
            if (await client.get("/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("pliers serve did not come up within 30 s")


async def run_concurrently(
    total: int, workers: int, call: Callable[[int], Awaitable[None]]
) -> float:
    """Run ``call(i)`` for i < total with ``workers`` in flight; returns the wall time."""
    counter = itertools.count()

    async def worker() -> None:
        while (i := next(counter)) < total:
            await call(i)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started


def percentile(sorted_values: list[float], p: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


async def measure(
    base_url: str, server: subprocess.Popen[bytes], sequential: int, concurrent: int
) -> None:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        await wait_until_up(client, server)
        created = await client.post("/v1/forms/forms", json=twenty_field_form())
        assert created.status_code == 201, created.text
        form_id = created.json()["data"]["id"]

        async def submit(i: int) -> None:
            response = await client.post(
                "/v1/submissions/submissions",
                json={"formId": form_id, "data": submission_data(i), "submittedBy": f"user-{i}"},
            )
            if response.status_code != 201:
                raise SystemExit(f"submission failed: {response.status_code} {response.text}")

        async def publish(i: int) -> None:
            data = submission_data(i)
            event = {
                "type": "bench.recorded",
                "aggregateId": str(uuid.uuid4()),
                "payload": {
                    "formId": form_id,
                    "formVersion": 1,
                    "data": data,
                    "submittedBy": f"user-{i}",
                },
            }
            response = await client.post("/v1/events/events", json={"event": event})
            if response.status_code != 201:
                raise SystemExit(f"publish failed: {response.status_code} {response.text}")

        for i in range(100):  # warm up connections, caches and prepared statements
            await submit(i)
            await publish(i)

        latencies = []
        publish_latencies = []
        for i in range(sequential):
            started = time.perf_counter()
            await submit(i)
            latencies.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await publish(i)
            publish_latencies.append((time.perf_counter() - started) * 1000)
        latencies.sort()
        publish_latencies.sort()

        # alternate in rounds, so a change in machine load affects both rates alike
        submit_seconds = publish_seconds = 0.0
        for _ in range(ROUNDS):
            submit_seconds += await run_concurrently(concurrent // ROUNDS, 50, submit)
            publish_seconds += await run_concurrently(concurrent // ROUNDS, 50, publish)
        concurrent = concurrent // ROUNDS * ROUNDS

    submit_rate = concurrent / submit_seconds
    publish_rate = concurrent / publish_seconds
    p50, p95, p99 = (percentile(latencies, p) for p in (50, 95, 99))
    mean = statistics.fmean(latencies)
    print(f"submission latency, concurrency 1 ({sequential} requests, interleaved with publishes):")
    print(f"  p50 {p50:.2f} ms   p95 {p95:.2f} ms   p99 {p99:.2f} ms   mean {mean:.2f} ms")
    ref50, ref95 = (percentile(publish_latencies, p) for p in (50, 95))
    print(f"  for reference, event publish latency: p50 {ref50:.2f} ms   p95 {ref95:.2f} ms")
    print(f"submissions/s, concurrency 50 ({concurrent} requests): {submit_rate:.0f}")
    print(f"publishes/s,   concurrency 50 ({concurrent} requests): {publish_rate:.0f}")
    print(f"ratio submissions/publishes: {submit_rate / publish_rate:.2f}")
    print(
        f"targets: p50 <= 5 ms [{'met' if p50 <= 5 else 'MISSED'}]; "
        f"ratio >= 0.60 [{'met' if submit_rate >= 0.6 * publish_rate else 'MISSED'}]"
    )


async def admin_execute(sql: str) -> None:
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--concurrent", type=int, default=3000)
    args = parser.parse_args()

    name = f"pliers_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(admin_execute(f'CREATE DATABASE "{name}"'))
    port = free_port()
    env = {
        **os.environ,
        "PLIERS_DATABASE_URL": with_database(ADMIN_URL, name),
        "PLIERS_PORT": str(port),
        "PLIERS_LOG_LEVEL": "warning",
    }
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(
            [sys.executable, "-c", "from pliers.cli import main; main()", "serve"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        try:
            asyncio.run(
                measure(f"http://127.0.0.1:{port}", server, args.sequential, args.concurrent)
            )
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            if server.returncode not in (0, -signal.SIGINT, 130):
                log.seek(0)
                print(log.read().decode(errors="replace")[-2000:], file=sys.stderr)
            asyncio.run(admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
