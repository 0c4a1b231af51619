"""Submissions to a 10-field form against the limit of one Python process, in the same run.

    .venv/bin/python benchmarks/bench_submissions.py [--seconds 5] [--backends postgres,sqlite]

Needs wrk (`apt-get install wrk`): a C load generator, so the server saturates before the client
does. Starts `pliers serve` (one worker, checking keys: requests carry a key with the scopes they
need) on a fresh database, creates a 10-field form and measures
with wrk, in alternating rounds so that a change in machine load affects all alike: submissions
and event publishes of the same content (the answers as the payload) at 1 and 50 connections,
the server's CPU time per request (from /proc), and, after each round at 50 connections, a round
of the limit.

The limit is measured in the same run against the same database: on PostgreSQL a bare asyncpg
loop inserting the same content as one row (concurrency 50, no HTTP, no validation, no lock); on
SQLite Python's sqlite3 committing one such row per transaction in WAL mode with
synchronous=NORMAL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from _harness import (
    Row,
    ServerURL,
    pliers_server,
    print_table,
    scratch_database,
    tree_cpu_seconds,
    wrk_available,
    wrk_post,
)

ROUNDS = 3


def ten_field_form() -> dict[str, Any]:
    fields: list[dict[str, Any]] = [
        {"name": "first_name", "type": "text", "required": True, "validation": {"minLength": 1}},
        {"name": "last_name", "type": "text", "required": True, "validation": {"maxLength": 100}},
        {"name": "email", "type": "email", "required": True},
        {"name": "phone", "type": "tel"},
        {"name": "company", "type": "text"},
        {"name": "age", "type": "integer", "validation": {"min": 18, "max": 130}},
        {"name": "newsletter", "type": "boolean"},
        {"name": "size", "type": "select", "options": ["S", "M", "L", "XL"]},
        {"name": "terms", "type": "checkbox", "required": True},
        {"name": "comments", "type": "textarea", "validation": {"maxLength": 2000}},
    ]
    validation = [{"field": "email", "type": "email"}]
    return {"name": "Benchmark form", "fields": fields, "validation": validation}


def submission_data(i: int) -> dict[str, Any]:
    return {
        "first_name": "Ada",
        "last_name": f"Lovelace {i}",
        "email": f"ada{i}@example.com",
        "phone": "+44 20 7946 0958",
        "company": "Analytical Engines Ltd",
        "age": 36,
        "newsletter": True,
        "size": "M",
        "terms": True,
        "comments": "Wrote the first published algorithm.",
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
        before = tree_cpu_seconds(base.pid)
        result = wrk_post(url, bodies, headers=base.headers, **options)
        self.cpu += tree_cpu_seconds(base.pid) - before
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
    def cpu_us(self) -> float:
        """Server CPU microseconds per request."""
        return self.cpu / self.requests * 1e6


#: what the benchmark's key may do (the server checks keys, as a deployed one does)
SCOPES = ("forms:write", "submissions:write", "events:write")

#: one round of the limit: its rate at concurrency 50 over ``seconds``
Limit = Callable[[int], Awaitable[float]]


async def measure(
    database_url: str, seconds: int, limit: Limit
) -> tuple[dict[tuple[str, int], WrkLoad], float]:
    """Submissions and publishes at concurrency 1 and 50, and the limit, in alternating rounds:
    (the loads, the limit's mean rate)."""
    async with (
        pliers_server(database_url, key_scopes=SCOPES) as base,
        httpx.AsyncClient(base_url=base, headers=base.headers) as client,
    ):
        created = await client.post("/v1/forms/forms", json=ten_field_form())
        assert created.status_code == 201, created.text
        form_id = created.json()["data"]["id"]
        bodies = {
            "submission": (
                "/v1/submissions/submissions",
                [submission_body(form_id, i) for i in range(200)],
            ),
            "publish": ("/v1/events/events", [publish_body(form_id, i) for i in range(200)]),
        }
        for path, requests in bodies.values():  # warm-up: connections, caches, statements
            await asyncio.to_thread(
                wrk_post, f"{base}{path}", requests, 1, 50, headers=base.headers
            )
        await limit(1)
        loads: dict[tuple[str, int], WrkLoad] = {}
        limits = []
        for connections in (1, 50):
            for _ in range(ROUNDS):
                for kind, (path, requests) in bodies.items():
                    load = loads.setdefault((kind, connections), WrkLoad())
                    await asyncio.to_thread(
                        load.add,
                        base,
                        f"{base}{path}",
                        requests,
                        seconds=seconds,
                        connections=connections,
                    )
                if connections == 50:
                    limits.append(await limit(seconds))
        return loads, statistics.mean(limits)


async def asyncpg_flood(pool: asyncpg.Pool, seconds: int) -> float:
    """Rows/s of a bare asyncpg insert of a submission's content at concurrency 50."""
    payload = json.dumps(submission_body("form", 1))
    sql = (
        "INSERT INTO events (id, type, aggregate_id, aggregate_type, sequence_number, payload) "
        "VALUES ($1, 'bench.raw', $2, 'bench', 1, $3::jsonb)"
    )
    count = 0
    deadline = time.perf_counter() + seconds

    async def flood() -> None:
        nonlocal count
        while time.perf_counter() < deadline:
            await pool.execute(sql, str(uuid.uuid4()), str(uuid.uuid4()), payload)
            count += 1

    started = time.perf_counter()
    await asyncio.gather(*(flood() for _ in range(50)))
    return count / (time.perf_counter() - started)


def sqlite3_limit(seconds: int) -> float:
    """Single-row transactions/s of Python's sqlite3, WAL mode, synchronous=NORMAL."""
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(Path(tmp) / "limit.db", isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("CREATE TABLE rows (id TEXT PRIMARY KEY, payload TEXT NOT NULL)")
        payload = json.dumps(submission_body("form", 1))
        count = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT INTO rows VALUES (?, ?)", (str(uuid.uuid4()), payload))
            db.execute("COMMIT")
            count += 1
        db.close()
        return count / (time.perf_counter() - started)


def rows(
    loads: dict[tuple[str, int], WrkLoad], limit: float, limit_name: str, targets: bool = True
) -> list[Row]:
    sub1, sub50 = loads["submission", 1], loads["submission", 50]
    pub50 = loads["publish", 50]
    ratio = sub50.rate / limit
    p50 = statistics.median(sub1.p50s)
    return [
        Row(
            "submit, 50 connections (wrk)",
            f"{sub50.rate:,.0f}/s",
            f"{limit:,.0f}/s {limit_name}",
            f"{ratio:.2f}",
            ">= 0.50" if targets else "-",
            ratio >= 0.5 if targets else None,
        ),
        Row(
            "publish, same content, 50 connections (wrk)",
            f"{pub50.rate:,.0f}/s",
            f"{limit:,.0f}/s {limit_name}",
            f"{pub50.rate / limit:.2f}",
            "-",
            None,
        ),
        Row("submit, 1 connection, p50 (wrk)", f"{p50:.2f} ms", "-", "-", "-", None),
        Row("server CPU per submission", f"{sub50.cpu_us:.0f} µs", "-", "-", "-", None),
        Row(
            "server CPU per publish",
            f"{pub50.cpu_us:.0f} µs",
            "-",
            "-",
            "<= 100 µs",
            pub50.cpu_us <= 100,
        ),
    ]


async def main(seconds: int, backends: list[str]) -> None:
    if not wrk_available():
        raise SystemExit("this benchmark needs wrk: apt-get install wrk")
    if "postgres" in backends:
        async with scratch_database() as url:
            pool = await asyncpg.create_pool(url, min_size=50, max_size=50)
            try:
                loads, limit = await measure(url, seconds, lambda s: asyncpg_flood(pool, s))
            finally:
                await pool.close()
        print_table(
            "Submissions to a 10-field form on PostgreSQL, pliers serve, one worker; "
            "limit: bare asyncpg insert",
            rows(loads, limit, "asyncpg"),
        )
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            loads, limit = await measure(
                f"sqlite:///{Path(tmp) / 'pliers.db'}",
                seconds,
                lambda s: asyncio.to_thread(sqlite3_limit, s),
            )
        print_table(
            "Submissions to a 10-field form on SQLite, pliers serve, one worker; "
            "limit: Python's sqlite3",
            rows(loads, limit, "sqlite3", targets=False)[:4],
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=3, help="length of each wrk round")
    parser.add_argument("--backends", type=lambda s: s.split(","), default=["postgres", "sqlite"])
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.backends))
