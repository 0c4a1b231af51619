"""A hub nobody subscribes to is not woken by commits, and reads nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pliers.broker.memory import MemoryBroker
from pliers.events.model import NewEvent
from pliers.events.service import EventService
from pliers.events.store import EventStore
from pliers.stream.hub import Hub

pytestmark = pytest.mark.integration


async def test_commits_wake_no_read_while_nobody_subscribes(
    store: EventStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[str] = []
    for name in ("query", "head_position"):
        real = getattr(store, name)

        async def counted(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
            reads.append(_name)
            return await _real(*args, **kwargs)

        monkeypatch.setattr(store, name, counted)
    hub = Hub(store, MemoryBroker(), poll_interval=60)
    events = EventService(store)
    events.add_listener(hub.committed)
    await hub.start()
    try:
        woken = []
        for n in range(5):
            await events.publish([NewEvent(type="idle.committed", aggregate_id=f"idle-{n}")])
            woken.append(hub._wake.is_set())
            await asyncio.sleep(0.01)  # the tailer's turn, were it woken
        assert woken == [False] * 5
        assert hub.position is None
        assert reads == []
    finally:
        await hub.close()
