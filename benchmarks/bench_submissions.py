"""Submission throughput and latency of ``pliers serve`` on PostgreSQL, over HTTP.

    .venv/bin/python benchmarks/bench_submissions.py [--sequential 1000] [--concurrent 3000]

Starts ``pliers serve`` (one worker) on a fresh PostgreSQL database, creates a 20-field form and
measures, in one run:

- submission latency (p50/p95/p99) at concurrency 1, with httpx;
- submissions per second and event publishes per second at concurrency 50, and their ratio,
  in alternating rounds so that a change in machine load affects both alike. This is measured with
  httpx and, when it is installed (``pip install -e '.[bench]'``), with aiohttp: an httpx client
  in one process saturates long before the server does, so its rates mostly measure itself;
- the same two rates with wrk when it is installed (``apt-get install wrk``): a C load generator,
  so the server saturates first. When wrk ran, its ratio is the one checked against the target.

Targets: p50 <= 5 ms; submissions/s >= 60% of publishes/s.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from _harness import (
    line,
    percentiles,
    pliers_server,
    run_concurrently,
    scratch_database,
    wrk_available,
    wrk_post,
)

ROUNDS = 3
#: (method, path, JSON body) -> status code
Send = Callable[[str, dict[str, Any]], Awaitable[int]]


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


class Workload:
    """A submission and an event publish of the same content, sent through ``send``."""

    def __init__(self, send: Send, form_id: str) -> None:
        self.send = send
        self.form_id = form_id

    async def submit(self, i: int) -> None:
        body = {"formId": self.form_id, "data": submission_data(i), "submittedBy": f"user-{i}"}
        status = await self.send("/v1/submissions/submissions", body)
        if status != 201:
            raise SystemExit(f"submission failed with {status}")

    async def publish(self, i: int) -> None:
        payload = {"formId": self.form_id, "data": submission_data(i), "submittedBy": f"user-{i}"}
        event = {"type": "bench.recorded", "aggregateId": str(uuid.uuid4()), "payload": payload}
        status = await self.send("/v1/events/events", {"event": event})
        if status != 201:
            raise SystemExit(f"publish failed with {status}")

    async def rates(self, total: int) -> tuple[float, float]:
        """(submissions/s, publishes/s) at concurrency 50, in alternating rounds."""
        await run_concurrently(200, 50, self.submit)  # warm-up
        await run_concurrently(200, 50, self.publish)
        submit_seconds = publish_seconds = 0.0
        per_round = total // ROUNDS
        for _ in range(ROUNDS):
            submit_seconds += (await run_concurrently(per_round, 50, self.submit))[1]
            publish_seconds += (await run_concurrently(per_round, 50, self.publish))[1]
        return per_round * ROUNDS / submit_seconds, per_round * ROUNDS / publish_seconds


def report_rates(client: str, submits: float, publishes: float) -> bool:
    ratio = submits / publishes
    print(
        f"{client:<8} concurrency 50: submissions/s {submits:7.0f}   publishes/s {publishes:7.0f}"
        f"   ratio {ratio:.2f}"
    )
    return ratio >= 0.6


async def with_aiohttp(base: str, form_id: str, total: int) -> tuple[float, float] | None:
    try:
        import aiohttp
    except ImportError:
        return None
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(base, connector=connector) as session:

        async def send(path: str, body: dict[str, Any]) -> int:
            async with session.post(path, json=body) as response:
                await response.read()
                return response.status

        return await Workload(send, form_id).rates(total)


async def main(sequential: int, concurrent: int) -> None:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with (
        scratch_database() as url,
        pliers_server(url) as base,
        httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client,
    ):
        created = await client.post("/v1/forms/forms", json=twenty_field_form())
        assert created.status_code == 201, created.text
        form_id = created.json()["data"]["id"]

        async def send(path: str, body: dict[str, Any]) -> int:
            return (await client.post(path, json=body)).status_code

        work = Workload(send, form_id)
        for i in range(100):  # warm-up: connections, caches, prepared statements
            await work.submit(i)
        single, _ = await run_concurrently(sequential, 1, work.submit)
        httpx_rates = await work.rates(concurrent)
        aiohttp_rates = await with_aiohttp(base, form_id, concurrent)
        wrk_rates = None
        if wrk_available():
            submissions = [{"formId": form_id, "data": submission_data(i)} for i in range(200)]
            publishes = [
                {"event": {"type": "bench.published", "aggregateId": f"agg-{i}-{uuid.uuid4()}"}}
                for i in range(200)
            ]
            wrk_rates = (
                wrk_post(f"{base}/v1/submissions/submissions", submissions, seconds=8),
                wrk_post(f"{base}/v1/events/events", publishes, seconds=8),
            )

    print(f"Submissions to a 20-field form, pliers serve on PostgreSQL, one worker, {base}")
    print(line(f"submission, concurrency 1 ({sequential}, httpx)", single))
    ratios = [report_rates("httpx", *httpx_rates)]
    if aiohttp_rates is None:
        print("aiohttp  not installed (pip install -e '.[bench]'): httpx figures only")
    else:
        ratios.append(report_rates("aiohttp", *aiohttp_rates))
    if wrk_rates is None:
        print("wrk      not installed (apt-get install wrk)")
    else:
        subs, pubs = wrk_rates
        assert subs.errors == pubs.errors == 0, "requests failed under wrk"
        ratios = [report_rates("wrk", subs.rate, pubs.rate)]  # the server saturates, not wrk
        print(
            f"wrk      submission at concurrency 50: p50 {subs.p50:.2f} ms, p99 {subs.p99:.2f} ms"
        )
    p50 = percentiles(single)["p50"]
    print(
        f"targets: p50 <= 5 ms [{'met' if p50 <= 5 else 'MISSED'}]; submissions/s >= 0.60 x "
        f"publishes/s [{'met' if all(ratios) else 'MISSED'}]"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--concurrent", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(args.sequential, args.concurrent))
