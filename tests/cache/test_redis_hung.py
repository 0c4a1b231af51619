"""A Redis that accepts connections and never answers costs a cache read a bounded wait."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from pliers.api.app import create_app
from pliers.cache.redis import RedisCache
from pliers.errors import CacheUnavailable
from pliers.testing import FormBuilder, TestDatabase, client_for, running_runtime

pytestmark = pytest.mark.integration


@pytest.fixture
async def hung_redis() -> AsyncIterator[str]:
    """A socket that reads whatever it is sent and never replies (a Redis stopped by SIGSTOP
    still completes TCP handshakes the same way, from the kernel's backlog)."""

    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.close()


async def test_a_hung_cache_call_fails_within_its_timeout_then_is_skipped(
    hung_redis: str,
) -> None:
    cache = RedisCache.from_url(hung_redis, timeout=0.2)
    try:
        started = time.monotonic()
        with pytest.raises(CacheUnavailable, match=r"0\.2 s"):
            await cache.get("k")
        first = time.monotonic() - started
        started = time.monotonic()
        with pytest.raises(CacheUnavailable, match="skipped"):
            await cache.get("k")
        second = time.monotonic() - started
    finally:
        await cache.close()
    assert 0.15 < first < 1.0
    assert second < 0.05


async def test_forms_are_served_from_the_store_while_redis_hangs(
    pliers_db: TestDatabase, hung_redis: str
) -> None:
    async with (
        running_runtime(pliers_db.url, redis_url=hung_redis, cache_timeout=0.2) as rt,
        client_for(create_app(runtime=rt)) as client,
    ):
        body = FormBuilder().with_name("Hung").with_text_field("email").build()
        form_id = (await client.post("/v1/forms/forms", json=body)).json()["data"]["id"]
        waits = []
        for _ in range(5):
            started = time.monotonic()
            read = await client.get(f"/v1/forms/forms/{form_id}")
            waits.append(time.monotonic() - started)
            assert read.json()["data"]["name"] == "Hung"
    assert max(waits) < 1.5, waits
    assert sum(waits) < 2.0, waits
