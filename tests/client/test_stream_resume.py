"""``events.stream`` across drops and restarts of the server: every event once, in order."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from client_servers import ServerProcess

from pliers.client import AsyncPliers, StoredEvent
from pliers.testing import LiveServer

pytestmark = pytest.mark.integration

WRITES = 60


async def _write(base_url: str, first: int, last: int, pause: float) -> None:
    """Publish ``w-first`` .. ``w-last``; a request cut by the restart is sent again (the event
    id makes that safe: a re-sent stored event is a duplicate, not a second event)."""
    async with AsyncPliers(base_url, attempts=100, retry_timeout=120) as client:
        for i in range(first, last + 1):
            event = {"id": f"w-{i}", "type": "load.written", "aggregateId": f"w-{i % 7}",
                     "payload": {"i": i}}  # fmt: skip
            while True:
                try:
                    await client.events.publish(event)
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            await asyncio.sleep(pause)


async def _collect(
    stream: AsyncIterator[StoredEvent],
    count: int,
    into: list[StoredEvent],
    halfway: asyncio.Event | None = None,
) -> None:
    async for event in stream:
        into.append(event)
        if halfway is not None and len(into) >= count // 3:
            halfway.set()
        if len(into) == count:
            return


async def test_stream_resumes_across_a_server_restart_with_a_writer_running(
    server_process: ServerProcess,
) -> None:
    """kill -TERM of the server mid-stream while a writer publishes: the iterator reconnects
    and resumes after the last event it yielded; nothing is missed or repeated."""
    async with AsyncPliers(server_process.base_url) as pliers:
        await pliers.events.publish({"type": "noise.made", "aggregateId": "n-1"})
        stream = pliers.events.stream({"eventTypes": ["load.written"]}, from_position=0)
        received: list[StoredEvent] = []
        a_third = asyncio.Event()
        reader = asyncio.create_task(_collect(stream, WRITES, received, a_third))
        writer = asyncio.create_task(_write(server_process.base_url, 1, WRITES, 0.02))
        async with asyncio.timeout(120):
            await a_third.wait()
            await server_process.restart()
            await writer
            await reader
        await stream.aclose()
    assert [e.payload["i"] for e in received] == list(range(1, WRITES + 1))
    positions = [e.position for e in received]
    assert positions == sorted(set(positions))
    assert stream.connections >= 2


async def test_stream_starting_live_resumes_from_what_it_yielded(
    live: LiveServer, pliers: AsyncPliers
) -> None:
    """Without ``from_position`` the stream starts with new events; stored ones are skipped."""
    await pliers.events.publish({"type": "old.event", "aggregateId": "o-1"})
    stream = pliers.events.stream({"aggregateIds": ["live-1"]})
    received: list[StoredEvent] = []
    reader = asyncio.create_task(_collect(stream, 3, received))
    async with asyncio.timeout(60):
        await stream.subscribed.wait()  # live events are delivered from the confirmation on
        for n in range(1, 4):
            await pliers.events.publish({"type": "live.event", "aggregateId": "live-1",
                                         "payload": {"n": n}})  # fmt: skip
        await reader
    await stream.aclose()
    assert [e.payload["n"] for e in received] == [1, 2, 3]
