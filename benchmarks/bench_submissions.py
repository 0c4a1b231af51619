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
  wrk also measures latency at concurrency 1 without a Python client's own time in it (when it
  ran, that p50 is the one checked), and the server's CPU time per request (from /proc).

Every publish carries the same content as a submission (the 20 answers as its payload), so the
ratio compares the work of a submission with that of a plain event of the same size.

Targets: p50 <= 5 ms; submissions/s >= 60% of publishes/s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from _harness import (
    ServerURL,
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


def submission_body(form_id: str, i: int) -> dict[str, Any]:
    return {"formId": form_id, "data": submission_data(i), "submittedBy": f"user-{i}"}


def publish_body(form_id: str, i: int) -> dict[str, Any]:
    """An event whose payload is what :func:`submission_body` submits."""
    payload = submission_body(form_id, i)
    return {
        "event": {"type": "bench.recorded", "aggregateId": str(uuid.uuid4()), "payload": payload}
    }


@dataclass
class WrkLoad:
    """Requests, seconds and server CPU seconds summed over the rounds of one kind."""

    requests: float = 0.0
    seconds: float = 0.0
    cpu: float = 0.0
    p50s: list[float] = field(default_factory=list)

    def add(self, base: ServerURL, url: str, bodies: list[dict[str, Any]], **options: Any) -> None:
        before = base.cpu_seconds()
        result = wrk_post(url, bodies, **options)
        self.cpu += base.cpu_seconds() - before
        if result.errors:
            raise SystemExit(f"{result.errors} requests failed under wrk ({url})")
        seconds = options["seconds"]
        self.requests += result.rate * seconds
        self.seconds += seconds
        self.p50s.append(result.p50)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per request."""
        return self.cpu / self.requests * 1000


def with_wrk(base: ServerURL, form_id: str) -> dict[tuple[str, int], WrkLoad]:
    """Submissions and publishes at concurrency 1 and 50, in alternating rounds."""
    bodies = {
        "submission": (
            "/v1/submissions/submissions",
            [submission_body(form_id, i) for i in range(200)],
        ),
        "publish": ("/v1/events/events", [publish_body(form_id, i) for i in range(200)]),
    }
    loads: dict[tuple[str, int], WrkLoad] = {}
    for connections in (1, 50):
        for _ in range(ROUNDS):
            for kind, (path, requests) in bodies.items():
                load = loads.setdefault((kind, connections), WrkLoad())
                load.add(base, f"{base}{path}", requests, seconds=3, connections=connections)
    return loads


class Workload:
    """A submission and an event publish of the same content, sent through ``send``."""

    def __init__(self, send: Send, form_id: str) -> None:
        self.send = send
        self.form_id = form_id

    async def submit(self, i: int) -> None:
        status = await self.send("/v1/submissions/submissions", submission_body(self.form_id, i))
        if status != 201:
            raise SystemExit(f"submission failed with {status}")

    async def publish(self, i: int) -> None:
        status = await self.send("/v1/events/events", publish_body(self.form_id, i))
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
        wrk_loads = with_wrk(base, form_id) if wrk_available() else None

    print(f"Submissions to a 20-field form, pliers serve on PostgreSQL, one worker, {base}")
    print(line(f"submission, concurrency 1 ({sequential}, httpx)", single))
    ratios = [report_rates("httpx", *httpx_rates)]
    if aiohttp_rates is None:
        print("aiohttp  not installed (pip install -e '.[bench]'): httpx figures only")
    else:
        ratios.append(report_rates("aiohttp", *aiohttp_rates))
    p50, p50_client = percentiles(single)["p50"], "httpx"
    if wrk_loads is None:
        print("wrk      not installed (apt-get install wrk)")
    else:
        subs, pubs = wrk_loads["submission", 50], wrk_loads["publish", 50]
        ratios = [report_rates("wrk", subs.rate, pubs.rate)]  # the server saturates, not wrk
        for (kind, connections), load in wrk_loads.items():
            print(
                f"wrk      {kind:<10} concurrency {connections:<2}: {load.rate:7.0f}/s   p50 of "
                f"rounds {statistics.median(load.p50s):6.2f} ms   server CPU {load.cpu_ms:.3f} ms"
                " per request"
            )
        p50, p50_client = statistics.median(wrk_loads["submission", 1].p50s), "wrk"
    print(
        f"targets: p50 <= 5 ms ({p50_client}: {p50:.2f} ms) [{'met' if p50 <= 5 else 'MISSED'}]; "
        f"submissions/s >= 0.60 x "
        f"publishes/s [{'met' if all(ratios) else 'MISSED'}]"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sequential", type=int, default=1000)
    parser.add_argument("--concurrent", type=int, default=3000)
    args = parser.parse_args()
    asyncio.run(main(args.sequential, args.concurrent))
