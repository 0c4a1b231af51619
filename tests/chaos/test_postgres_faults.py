"""PostgreSQL hung (SIGSTOP) and stopped under a running server: bounded 503s, then recovery."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from chaos_services import Postgres

from pliers.api.app import create_app
from pliers.storage.postgres.listen import listen_forever
from pliers.testing import EventFactory, FormBuilder, running_runtime, serve

pytestmark = pytest.mark.chaos

#: PLIERS_DB_TIMEOUT's default, which these tests hold the server to.
DB_TIMEOUT = 5.0


async def timed(call: Awaitable[httpx.Response]) -> tuple[int, float]:
    started = time.monotonic()
    response = await call
    return response.status_code, time.monotonic() - started


async def until_ok(call: Callable[[], Awaitable[httpx.Response]], limit: float = 30) -> float:
    """Seconds until ``call`` answers below 500."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        with_status = await call()
        if with_status.status_code < 500:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"still failing after {limit} s")


async def test_a_hung_postgres_gives_503_within_the_timeout_then_recovers(
    postgres: Postgres, event_factory: EventFactory
) -> None:
    async with (
        running_runtime(postgres.url) as rt,
        serve(create_app(runtime=rt)) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as client,
    ):
        form = FormBuilder().with_name("F").with_text_field("email").build()
        form_id = (await client.post("/v1/forms/forms", json=form)).json()["data"]["id"]
        first = event_factory.build()
        assert (await client.post("/v1/events/events", json={"event": first})).status_code == 201

        with postgres.hung():
            results = await asyncio.gather(
                timed(client.post("/v1/events/events", json={"event": event_factory.build()})),
                timed(client.get(f"/v1/events/events/aggregates/{first['aggregateId']}")),
                timed(client.get(f"/v1/forms/forms/{form_id}")),
                timed(
                    client.post("/v1/submissions/submissions", json={"formId": form_id, "data": {}})
                ),
                timed(client.get("/health")),
            )
        *requests, health = results
        print(f"\nhung PostgreSQL: (status, seconds) per request {results}")
        for status, seconds in requests:
            assert status == 503
            assert seconds < DB_TIMEOUT + 1.5
        assert health[0] == 503
        assert health[1] < 3.0 + 1.0  # the health check's own timeout

        recovered = await until_ok(
            lambda: client.post("/v1/events/events", json={"event": event_factory.build()})
        )
        print(f"recovered {recovered:.2f} s after SIGCONT")
        assert recovered < 5
        assert (await client.get("/health")).json()["status"] == "healthy"


async def test_a_stopped_postgres_gives_503_at_once_then_recovers_when_started(
    postgres: Postgres, event_factory: EventFactory
) -> None:
    async with (
        running_runtime(postgres.url) as rt,
        serve(create_app(runtime=rt)) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=60) as client,
    ):
        assert (
            await client.post("/v1/events/events", json={"event": event_factory.build()})
        ).status_code == 201
        postgres.stop()
        statuses = [
            await timed(client.post("/v1/events/events", json={"event": event_factory.build()}))
            for _ in range(5)
        ]
        print(f"\nstopped PostgreSQL: {statuses}")
        assert all(status == 503 for status, _ in statuses)
        assert max(seconds for _, seconds in statuses) < 1.0
        assert (await client.get("/health")).status_code == 503
        postgres.start()
        recovered = await until_ok(
            lambda: client.post("/v1/events/events", json={"event": event_factory.build()})
        )
        print(f"recovered {recovered:.2f} s after the start")
        assert recovered < 5


async def test_a_listening_connection_finds_a_hung_postgres_and_listens_again(
    postgres: Postgres,
) -> None:
    """The LISTEN connection (queued mail, key changes) notices a silent server by its bounded
    heartbeat, instead of waiting on it for ever, and listens again once it answers."""
    events: list[tuple[str, float]] = []
    listening, lost = asyncio.Event(), asyncio.Event()

    def mark(what: str) -> None:
        events.append((what, time.monotonic()))
        {"listening": listening, "lost": lost}[what].set()

    task = asyncio.create_task(
        listen_forever(
            postgres.url,
            "pliers_chaos",
            notice=lambda: None,
            listening=lambda: mark("listening"),
            lost=lambda: mark("lost"),
            call_timeout=0.5,
            what="chaos notices",
            heartbeat=0.3,
        )
    )
    try:
        await asyncio.wait_for(listening.wait(), 10)
        with postgres.hung():
            hung_at = time.monotonic()
            await asyncio.wait_for(lost.wait(), 10)
        lost_after = next(at for what, at in events if what == "lost") - hung_at
        listening.clear()
        resumed = time.monotonic()
        await asyncio.wait_for(listening.wait(), 15)
        print(
            f"\nhung PostgreSQL: listener lost after {lost_after:.2f} s, "
            f"listening again {time.monotonic() - resumed:.2f} s after SIGCONT"
        )
        assert lost_after < 0.3 + 0.5 + 1.0
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_start_up_on_a_hung_postgres_fails_in_bounded_time_with_one_line(
    postgres: Postgres,
) -> None:
    env = {**os.environ, "PLIERS_DATABASE_URL": postgres.url, "PLIERS_DB_TIMEOUT": "1"}
    with postgres.hung():
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pliers", "serve", "--port", "0"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )
        took = time.monotonic() - started
    print(f"\nstart-up on a hung PostgreSQL: exit {done.returncode} after {took:.1f} s")
    assert done.returncode == 1
    assert "PostgreSQL" in done.stderr
    assert "Traceback" not in done.stderr
    assert took < 10
