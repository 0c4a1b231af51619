"""How the runtime wires the cache and the broker, and what /health says about Redis."""

from __future__ import annotations

from typing import Any

import pytest

from pliers.api.app import create_app
from pliers.broker.memory import MemoryBroker
from pliers.broker.redis import RedisBroker
from pliers.cache import cached
from pliers.cache.memory import MemoryCache
from pliers.cache.redis import RedisCache
from pliers.testing import EventFactory, TestCache, client_for, running_runtime

pytestmark = pytest.mark.integration


async def test_without_redis_the_runtime_uses_memory_and_health_has_no_redis_check(
    database_url: str,
) -> None:
    async with running_runtime(database_url) as runtime:
        assert isinstance(runtime.cache, MemoryCache)
        assert isinstance(runtime.broker, MemoryBroker)
        async with client_for(create_app(runtime=runtime)) as client:
            body = (await client.get("/health")).json()
        assert body["status"] == "healthy"
        assert "redis" not in body["checks"]


async def test_with_redis_the_runtime_caches_in_redis(
    database_url: str, pliers_cache: TestCache
) -> None:
    async with running_runtime(database_url, redis_url=pliers_cache.url) as runtime:
        assert isinstance(runtime.cache, RedisCache)
        assert isinstance(runtime.broker, RedisBroker)

        async def load() -> dict[str, Any]:
            return {"id": "f1", "version": 1}

        assert await cached(runtime.cache, "forms:f1", load, ttl=30) == {"id": "f1", "version": 1}
        assert await pliers_cache.get("pliers:forms:f1") == b'{"id":"f1","version":1}'
        async with client_for(create_app(runtime=runtime)) as client:
            body = (await client.get("/health")).json()
        assert body["status"] == "healthy"
        assert body["checks"]["redis"]["status"] == "up"


async def test_with_redis_unreachable_the_api_serves_and_health_is_degraded(
    database_url: str, event_factory: EventFactory
) -> None:
    """Redis down from the start: writes, reads and the stream's wiring all keep working."""
    async with running_runtime(database_url, redis_url="redis://127.0.0.1:1/0") as runtime:
        async with client_for(create_app(runtime=runtime)) as client:
            event = event_factory.build()
            assert (
                await client.post("/v1/events/events", json={"event": event})
            ).status_code == 201
            read = await client.get(f"/v1/events/events/aggregates/{event['aggregateId']}")
            assert read.status_code == 200
            response = await client.get("/health")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "degraded"
        assert body["checks"]["redis"]["status"] == "down"
        assert body["checks"]["database"]["status"] == "up"
