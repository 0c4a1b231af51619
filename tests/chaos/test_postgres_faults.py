"""PostgreSQL hung (SIGSTOP) and stopped under a running server: bounded 503s, then recovery."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
import pytest
from chaos_services import Postgres

from pliers.api.app import create_app
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
