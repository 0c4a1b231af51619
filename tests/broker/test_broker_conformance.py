"""One suite for the broker port, run against every adapter."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest

from pliers.broker import Broker
from pliers.broker.memory import MemoryBroker
from pliers.broker.redis import RedisBroker
from pliers.errors import BrokerUnavailable
from pliers.testing import TestCache

WAIT = 5.0


@pytest.fixture(params=["memory", "redis"])
def redis_url(request: pytest.FixtureRequest) -> str | None:
    """None for the in-process adapter, an isolated Redis database for the Redis one."""
    if request.param == "memory":
        return None
    cache: TestCache = request.getfixturevalue("pliers_cache")
    return cache.url


@pytest.fixture
async def broker(redis_url: str | None) -> AsyncIterator[Broker]:
    adapter: Broker
    if redis_url is None:
        adapter = MemoryBroker()
    else:
        adapter = RedisBroker.from_url(redis_url, channel=f"pliers:test:{uuid.uuid4().hex}")
    try:
        yield adapter
    finally:
        await adapter.close()


async def test_a_listener_hears_positions_published_after_it_listens(broker: Broker) -> None:
    listener = await broker.listen()
    try:
        await broker.publish(7)
        await broker.publish(9)
        heard = [await asyncio.wait_for(anext(listener), WAIT) for _ in range(2)]
    finally:
        await listener.close()
    assert heard == [7, 9]


async def test_every_listener_hears_every_notice(broker: Broker) -> None:
    listeners = [await broker.listen() for _ in range(3)]
    try:
        await broker.publish(42)
        heard = [await asyncio.wait_for(anext(x), WAIT) for x in listeners]
    finally:
        for listener in listeners:
            await listener.close()
    assert heard == [42, 42, 42]


async def test_a_closed_listener_hears_nothing_and_others_carry_on(broker: Broker) -> None:
    gone, kept = await broker.listen(), await broker.listen()
    await gone.close()
    try:
        await broker.publish(3)
        assert await asyncio.wait_for(anext(kept), WAIT) == 3
    finally:
        await kept.close()


async def test_ping_answers_while_the_broker_is_up(broker: Broker) -> None:
    await broker.ping()


async def test_a_closed_broker_refuses_work() -> None:
    """Closing the in-process broker ends its listeners with BrokerUnavailable."""
    broker = MemoryBroker()
    listener = await broker.listen()
    await broker.close()
    with pytest.raises(BrokerUnavailable):
        await asyncio.wait_for(anext(listener), WAIT)
    with pytest.raises(BrokerUnavailable):
        await broker.publish(1)


async def test_redis_broker_unreachable_raises_broker_unavailable() -> None:
    broker = RedisBroker.from_url("redis://127.0.0.1:1/0")
    try:
        with pytest.raises(BrokerUnavailable):
            await broker.publish(1)
        with pytest.raises(BrokerUnavailable):
            await broker.listen()
        with pytest.raises(BrokerUnavailable):
            await broker.ping()
    finally:
        await broker.close()
