"""Redis hung, stopped, and restarted with the data it saved, under a running server."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from chaos_services import Redis

from pliers.api.app import create_app
from pliers.broker.redis import SUBSCRIBE_TIMEOUT, RedisBroker
from pliers.errors import BrokerUnavailable
from pliers.testing import EventFactory, FormBuilder, TestDatabase, running_runtime, serve

pytestmark = pytest.mark.chaos


def form_body(name: str = "Chaos") -> dict[str, Any]:
    return FormBuilder().with_name(name).with_text_field("email").build()


async def timed_get(client: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await client.get(path)
    return response, time.monotonic() - started


async def test_a_restarted_redis_with_saved_data_never_serves_an_older_form(
    pliers_db: TestDatabase, redis_server: Redis
) -> None:
    """Cache a form, stop Redis with SIGTERM (it saves), update the form, start Redis (it loads
    the old copy): every read serves the update."""
    async with (
        running_runtime(pliers_db.url, redis_url=redis_server.url) as rt,
        serve(create_app(runtime=rt)) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as client,
    ):
        form_id = (await client.post("/v1/forms/forms", json=form_body())).json()["data"]["id"]
        assert (await client.get(f"/v1/forms/forms/{form_id}")).json()["data"]["version"] == 1

        redis_server.terminate()
        update = {**form_body("Updated"), "expectedVersion": 1}
        assert (await client.put(f"/v1/forms/forms/{form_id}", json=update)).status_code == 200
        redis_server.start()

        raw = aioredis.Redis.from_url(redis_server.url)
        try:
            old = await raw.get(f"pliers:forms:{form_id}:current")
        finally:
            await raw.aclose()
        assert old is not None
        assert b'"version":1' in old  # Redis came back holding the old copy

        versions = []
        for _ in range(20):
            read = (await client.get(f"/v1/forms/forms/{form_id}")).json()["data"]
            versions.append((read["name"], read["version"]))
        assert set(versions) == {("Updated", 2)}


async def test_a_hung_redis_is_bypassed_within_a_few_hundred_ms(
    pliers_db: TestDatabase, redis_server: Redis, event_factory: EventFactory
) -> None:
    async with (
        running_runtime(pliers_db.url, redis_url=redis_server.url) as rt,
        serve(create_app(runtime=rt)) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as client,
    ):
        form_id = (await client.post("/v1/forms/forms", json=form_body())).json()["data"]["id"]
        await client.get(f"/v1/forms/forms/{form_id}")
        with redis_server.hung():
            reads = [await timed_get(client, f"/v1/forms/forms/{form_id}") for _ in range(20)]
            started = time.monotonic()
            event = {"event": event_factory.build()}
            published = await client.post("/v1/events/events", json=event)
            publish_seconds = time.monotonic() - started
            health, health_seconds = await timed_get(client, "/health")
        waits = sorted(seconds for _, seconds in reads)
        print(
            f"\nhung Redis: form reads max {waits[-1]:.3f} s, median {waits[10]:.3f} s; "
            f"publish {publish_seconds:.3f} s; /health {health_seconds:.2f} s"
        )
        assert all(r.status_code == 200 for r, _ in reads)
        assert waits[-1] < 0.6  # one cache timeout (0.25 s) at most, plus the request
        assert waits[10] < 0.2  # then the cache is skipped, not waited for
        assert published.status_code == 201
        assert publish_seconds < 1.0
        assert health.json()["status"] == "degraded"
        assert health_seconds < 4.0

        started = time.monotonic()
        while (await client.get("/health")).json()["status"] != "healthy":
            assert time.monotonic() - started < 10, "Redis never counted as back"
            await asyncio.sleep(0.05)


async def test_a_stopped_redis_degrades_then_recovers_without_a_restart(
    pliers_db: TestDatabase, redis_server: Redis
) -> None:
    async with (
        running_runtime(pliers_db.url, redis_url=redis_server.url) as rt,
        serve(create_app(runtime=rt)) as server,
        httpx.AsyncClient(base_url=server.base_url, timeout=30) as client,
    ):
        form_id = (await client.post("/v1/forms/forms", json=form_body())).json()["data"]["id"]
        redis_server.terminate()
        reads = [await timed_get(client, f"/v1/forms/forms/{form_id}") for _ in range(10)]
        assert all(r.status_code == 200 for r, _ in reads)
        assert max(seconds for _, seconds in reads) < 0.6
        assert (await client.get("/health")).json()["status"] == "degraded"
        redis_server.start()
        started = time.monotonic()
        while (await client.get("/health")).json()["status"] != "healthy":
            assert time.monotonic() - started < 10, "Redis never counted as back"
            await asyncio.sleep(0.05)
        recovered = time.monotonic() - started
        print(f"\nRedis back: healthy after {recovered:.2f} s")
        raw = aioredis.Redis.from_url(redis_server.url)
        try:
            await client.get(f"/v1/forms/forms/{form_id}")
            await asyncio.sleep(1.1)  # past the skip window the failure opened
            await client.get(f"/v1/forms/forms/{form_id}")
            assert await raw.exists(f"pliers:forms:{form_id}:current")  # caching again
        finally:
            await raw.aclose()


async def test_subscribing_to_a_hung_redis_fails_in_bounded_time(redis_server: Redis) -> None:
    """The live stream's listener gives up on a Redis that never confirms, and tries again."""
    broker = RedisBroker.from_url(redis_server.url)
    try:
        with redis_server.hung():
            started = time.monotonic()
            with pytest.raises(BrokerUnavailable):
                await asyncio.wait_for(broker.listen(), 30)
            took = time.monotonic() - started
        print(f"\nsubscribing to a hung Redis failed after {took:.2f} s")
        assert took < SUBSCRIBE_TIMEOUT + 2
        listener = await broker.listen()  # answered again
        await listener.close()
    finally:
        await broker.close()
