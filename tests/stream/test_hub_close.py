"""Closing the hub stops its tasks, even when a cancel is lost inside redis-py."""

from __future__ import annotations

import asyncio
import random

import pytest

from pliers.broker.redis import RedisBroker
from pliers.events.store import EventStore
from pliers.stream.hub import Hub
from pliers.testing import TestCache

pytestmark = pytest.mark.integration

#: Hubs started and closed at once: a cancel that meets redis-py's asyncio.wait_for (Python 3.11)
#: is lost about once in ten closes, so eighty of them hit it almost surely.
HUBS = 80


async def test_every_task_has_stopped_when_close_returns(
    pliers_cache: TestCache, store: EventStore
) -> None:
    """Closed while its listener subscribes, a hub that cancelled its tasks only once would
    return after its timeout with the listener still running."""

    async def start_and_close(n: int) -> list[asyncio.Task[None]]:
        broker = RedisBroker.from_url(pliers_cache.url)
        hub = Hub(store, broker, poll_interval=0.2)
        try:
            await hub.start()
            tasks = list(hub._tasks)
            await asyncio.sleep(random.Random(n).uniform(0, 0.3))  # closes spread over the start
            await hub.close()
            return tasks
        finally:
            await broker.close()

    closed = await asyncio.gather(*(start_and_close(n) for n in range(HUBS)))
    running = [t.get_name() for tasks in closed for t in tasks if not t.done()]
    assert running == []
