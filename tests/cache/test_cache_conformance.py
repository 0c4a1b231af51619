"""One suite for the cache port, run against every adapter; and the read-through helper."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from pliers.cache import Cache, cached, invalidate
from pliers.cache.memory import MemoryCache
from pliers.cache.redis import RedisCache
from pliers.errors import CacheUnavailable
from pliers.testing import TestCache


@pytest.fixture(params=["memory", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-process adapter, an isolated Redis database for the Redis one."""
    if request.param == "memory":
        return None
    test_cache: TestCache = request.getfixturevalue("pliers_cache")
    return test_cache.url


@pytest.fixture
async def cache(redis_url: str | None) -> AsyncIterator[Cache]:
    adapter: Cache = MemoryCache() if redis_url is None else RedisCache.from_url(redis_url)
    try:
        yield adapter
    finally:
        await adapter.close()


async def test_set_then_get_returns_the_json_value(cache: Cache) -> None:
    value = {"name": "Registration", "fields": [{"name": "email"}], "version": 2, "ok": True}
    await cache.set("forms:1", value)
    assert await cache.get("forms:1") == value


async def test_a_missing_key_is_none(cache: Cache) -> None:
    assert await cache.get("nothing:here") is None


async def test_values_are_copies(cache: Cache) -> None:
    """Changing a value after set or get does not change what the cache holds."""
    value = {"list": [1]}
    await cache.set("k", value)
    value["list"].append(2)
    got = cast(dict[str, list[int]], await cache.get("k"))
    got["list"].append(3)
    assert await cache.get("k") == {"list": [1]}


async def test_set_replaces(cache: Cache) -> None:
    await cache.set("k", 1)
    await cache.set("k", [2])
    assert await cache.get("k") == [2]


async def test_a_value_expires_after_its_ttl(cache: Cache) -> None:
    await cache.set("short", "v", ttl=0.05)
    await cache.set("long", "v", ttl=60)
    await asyncio.sleep(0.2)
    assert await cache.get("short") is None
    assert await cache.get("long") == "v"


async def test_delete_removes_only_the_keys_given(cache: Cache) -> None:
    for key in ("a", "b", "c"):
        await cache.set(key, key)
    await cache.delete("a", "b", "absent")
    await cache.delete()
    assert [await cache.get(k) for k in ("a", "b", "c")] == [None, None, "c"]


async def test_delete_prefix_removes_every_key_under_it(cache: Cache) -> None:
    for key in ("forms:1", "forms:1:v1", "forms:1:v2", "forms:10", "forms:2"):
        await cache.set(key, key)
    await cache.delete_prefix("forms:1:")
    await cache.delete("forms:1")
    assert await cache.get("forms:1:v1") is None
    assert await cache.get("forms:1:v2") is None
    assert await cache.get("forms:1") is None
    assert await cache.get("forms:10") == "forms:10"
    assert await cache.get("forms:2") == "forms:2"


async def test_delete_prefix_treats_glob_characters_literally(cache: Cache) -> None:
    await cache.set("x*:1", 1)
    await cache.set("xy:1", 2)
    await cache.delete_prefix("x*")
    assert await cache.get("x*:1") is None
    assert await cache.get("xy:1") == 2


async def test_cached_loads_once_then_serves_from_the_cache(cache: Cache) -> None:
    calls = []

    async def load() -> dict[str, Any]:
        calls.append(1)
        return {"id": "f1"}

    assert await cached(cache, "forms:f1", load) == {"id": "f1"}
    assert await cached(cache, "forms:f1", load) == {"id": "f1"}
    assert len(calls) == 1
    await invalidate(cache, "forms:f1")
    assert await cached(cache, "forms:f1", load) == {"id": "f1"}
    assert len(calls) == 2


async def test_cached_does_not_store_none(cache: Cache) -> None:
    """A missing row is not cached, so a later create is seen at once."""
    calls = []

    async def load() -> dict[str, Any] | None:
        calls.append(1)
        return None

    assert await cached(cache, "forms:none", load) is None
    assert await cached(cache, "forms:none", load) is None
    assert len(calls) == 2


async def test_redis_keys_live_under_the_pliers_namespace(pliers_cache: TestCache) -> None:
    cache = RedisCache.from_url(pliers_cache.url)
    try:
        await cache.set("forms:9", {"a": 1})
        assert await pliers_cache.get("pliers:forms:9") == b'{"a":1}'
    finally:
        await cache.close()


async def test_an_unreachable_cache_raises_and_cached_reads_through(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With Redis down, every call fails fast as CacheUnavailable; cached() uses the loader."""
    cache = RedisCache.from_url("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(CacheUnavailable):
            await cache.get("k")
        with pytest.raises(CacheUnavailable):
            await cache.set("k", 1)
        with pytest.raises(CacheUnavailable):
            await cache.ping()

        async def load() -> str:
            return "from the database"

        with caplog.at_level(logging.WARNING, logger="pliers.cache"):
            assert await cached(cache, "k", load) == "from the database"
            assert await cached(cache, "k", load) == "from the database"
            await invalidate(cache, "k", prefix="k:")
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, "an outage is logged once"
    finally:
        await cache.close()
