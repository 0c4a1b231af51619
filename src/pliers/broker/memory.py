"""The in-process broker: notices reach the listeners of this process only."""

from __future__ import annotations

import asyncio

from pliers.errors import BrokerUnavailable

#: Notices a listener may have pending before the oldest are dropped; a dropped notice only
#: delays delivery, because positions are read back from the store.
_MAX_PENDING = 1000


class MemoryListener:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker
        self._queue: asyncio.Queue[int | None] = asyncio.Queue(_MAX_PENDING)

    def offer(self, position: int) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(position)

    def __aiter__(self) -> MemoryListener:
        return self

    async def __anext__(self) -> int:
        position = await self._queue.get()
        if position is None:
            raise BrokerUnavailable("the in-process broker is closed")
        return position

    async def close(self) -> None:
        self._broker._listeners.discard(self)


class MemoryBroker:
    def __init__(self) -> None:
        self._listeners: set[MemoryListener] = set()
        self._closed = False

    async def publish(self, position: int) -> None:
        if self._closed:
            raise BrokerUnavailable("the in-process broker is closed")
        for listener in list(self._listeners):
            listener.offer(position)

    async def listen(self) -> MemoryListener:
        if self._closed:
            raise BrokerUnavailable("the in-process broker is closed")
        listener = MemoryListener(self)
        self._listeners.add(listener)
        return listener

    async def ping(self) -> None:
        if self._closed:
            raise BrokerUnavailable("the in-process broker is closed")

    async def close(self) -> None:
        self._closed = True
        for listener in list(self._listeners):
            if listener._queue.full():
                listener._queue.get_nowait()
            listener._queue.put_nowait(None)
        self._listeners.clear()
