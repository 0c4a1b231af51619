"""Submission-path latency with the email provider up, down, or hanging (PostgreSQL).

Times what the submission service does per submission: open a transaction, run the outbox hook
(one insert per notification), append ``submission.created``, commit, announce the commit. A
dispatcher runs in the same process throughout, delivering to a local mock provider that is up,
refusing connections, or answering only after 5 s. The provider's state should not show up in the
write path.

    .venv/bin/python benchmarks/bench_notifications.py [--n 300]

Uses ``PLIERS_TEST_DATABASE_URL`` (default postgresql://postgres@127.0.0.1:5432/postgres) to
create a throwaway database, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import socket
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from pliers.events.model import NewEvent
from pliers.forms.definition import EmailNotification
from pliers.notifications import Dispatcher, EmailService
from pliers.runtime import Runtime
from pliers.submissions.model import Written
from pliers.testing import postgres as pg
from pliers.testing import running_runtime
from pliers.testing.email import email_provider_server
from pliers.testing.services import postgres_admin_url

FORM: dict[str, Any] = {
    "id": "bench-form",
    "name": "Bench",
    "fields": [{"name": "name", "label": "Name"}, {"name": "email", "label": "Email"}],
    "notifications": [
        {"type": "email", "to": ["ops@example.com"], "subject": "New: {{name}}"},
        {"type": "email", "to": ["team@example.com"], "subject": "FYI {{email}}"},
    ],
    "version": 1,
}
NO_MAIL = {**FORM, "notifications": []}


async def submit(rt: Runtime, form: dict[str, Any]) -> float:
    """One submission write; returns its duration in milliseconds."""
    submission = {
        "id": str(uuid.uuid4()),
        "formId": form["id"],
        "data": {"name": "Ada", "email": "ada@example.com"},
    }
    mail = [EmailNotification.model_validate(n) for n in form["notifications"]]
    started = time.perf_counter()
    async with rt.store.transaction() as tx:
        for hook in rt.submission_hooks:
            await hook(tx, [Written(form, submission, mail)])
        [result] = await tx.append(
            [NewEvent(type="submission.created", aggregate_id=submission["id"])]
        )
    await rt.events.committed(result.position)
    return (time.perf_counter() - started) * 1000


async def measure(rt: Runtime, form: dict[str, Any], n: int) -> list[float]:
    for _ in range(20):  # warm the pool and the plans
        await submit(rt, form)
    return [await submit(rt, form) for _ in range(n)]


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[int(len(ordered) * 0.95) - 1]
    return f"{name:<46} median {statistics.median(samples):6.2f} ms   p95 {p95:6.2f} ms"


def _serve_provider(port: int, delay: float) -> None:
    """Child process: the mock provider on ``port``, answering after ``delay`` seconds."""

    async def run() -> None:
        async with email_provider_server() as provider:
            provider.delay(delay)
            print(provider.port, flush=True)
            await asyncio.Event().wait()

    asyncio.run(run())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start_provider(delay: float) -> tuple[asyncio.subprocess.Process, str]:
    """The mock provider in its own process, as a real provider would be: (process, base_url)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        f"import bench_notifications as b; b._serve_provider(0, {delay})",
        cwd=str(Path(__file__).parent),
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    port = int((await process.stdout.readline()).decode())
    return process, f"http://127.0.0.1:{port}"


async def _with_dispatcher(rt: Runtime, base_url: str, form: dict[str, Any], n: int) -> list[float]:
    assert rt.notifications is not None
    async with EmailService(api_key="bench", base_url=base_url, timeout=10) as service:
        dispatcher = Dispatcher(
            rt.notifications,
            service,
            retry_initial=0.05,
            max_attempts=10_000,
            stop_grace_seconds=0.5,
        )
        await dispatcher.drain()  # start from an empty queue: measure steady state
        dispatcher.start()
        try:
            return await measure(rt, form, n)
        finally:
            await dispatcher.stop()


async def _with_worker(
    rt: Runtime, url: str, base_url: str, form: dict[str, Any], n: int
) -> list[float]:
    """Delivery by ``pliers worker`` in its own process, as a deployment would split it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIERS_")}
    env.update(
        PLIERS_SENDGRID_API_KEY="bench",
        PLIERS_SENDGRID_BASE_URL=base_url,
        PLIERS_NOTIFY_POLL_SECONDS="0.05",
        PLIERS_LOG_LEVEL="warning",
    )
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pliers", "worker", "--database-url", url, "--no-migrate", env=env
    )
    try:
        return await measure(rt, form, n)
    finally:
        worker.send_signal(signal.SIGTERM)
        await worker.wait()


async def main(n: int) -> None:
    logging.getLogger("stamina").setLevel(logging.ERROR)
    admin_url = postgres_admin_url()
    template = await pg.ensure_template(admin_url)
    admin = await asyncpg.connect(admin_url)
    name = await pg.create_test_database(admin, admin_url, template)
    url = pg.with_database(admin_url, name)
    fast, fast_url = await _start_provider(0.0)
    slow, slow_url = await _start_provider(5.0)
    closed_url = f"http://127.0.0.1:{_free_port()}"
    results: dict[str, list[float]] = {}
    try:
        async with running_runtime(url, dispatcher_enabled=False) as rt:
            assert rt.notifications is not None
            results["no notifications, no dispatcher"] = await measure(rt, NO_MAIL, n)
            results["2 notifications, no dispatcher"] = await measure(rt, FORM, n)
            results["2 notifications, provider up"] = await _with_dispatcher(rt, fast_url, FORM, n)
            results["2 notifications, provider down"] = await _with_dispatcher(
                rt, closed_url, FORM, n
            )
            results["2 notifications, provider hanging"] = await _with_dispatcher(
                rt, slow_url, FORM, n
            )
            results["2 notifications, provider up, worker process"] = await _with_worker(
                rt, url, fast_url, FORM, n
            )
            sent = len(await rt.notifications.list(status="sent", limit=100_000))
            total = len(await rt.notifications.list(limit=100_000))
    finally:
        for process in (fast, slow):
            process.terminate()
            await process.wait()
        await pg.drop_database(admin, name)
        await admin.close()

    print(f"PostgreSQL, {n} submissions per scenario (after 20 warm-up), one process;")
    print("the provider runs in its own process; the dispatcher shares the submission's loop")
    for label, samples in results.items():
        print(summary(label, samples))
    up = statistics.median(results["2 notifications, provider up"])
    down = statistics.median(results["2 notifications, provider down"])
    hanging = statistics.median(results["2 notifications, provider hanging"])
    print(f"median ratio down/up: {down / up:.2f}   hanging/up: {hanging / up:.2f}")
    print(f"{sent} of {total} notifications delivered in all")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300)
    asyncio.run(main(parser.parse_args().n))
