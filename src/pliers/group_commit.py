"""Group commit: concurrent callers queue requests, and a writer stores a group of them at once.

Writes that serialise anyway (on the event log's ordering lock) cost one commit each when they take
turns; written in groups they share one. Each request still gets its own answer: its result, or
the error that refused it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

R = TypeVar("R")
T = TypeVar("T")

#: ``await write(requests)``: one result or error per request, in order. Raising fails the group.
Write = Callable[[list[R]], Awaitable[Sequence[T | Exception]]]
#: ``pick(queued)``: the indexes of the queued requests that form the next group, always including
#: the first; the others wait, in order, for a later group.
Pick = Callable[[Sequence[R]], Sequence[int]]


class GroupCommit(Generic[R, T]):
    """A queue of requests written in groups by at most ``writers`` tasks at a time."""

    def __init__(self, write: Write[R, T], pick: Pick[R], *, writers: int = 1) -> None:
        self._write = write
        self._pick = pick
        self._max_writers = writers
        self._queue: list[tuple[R, asyncio.Future[T]]] = []
        self._writers: set[asyncio.Task[None]] = set()

    async def submit(self, request: R) -> T:
        """Queue ``request`` and wait for its group to be written."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        # count the live writers: a writer that just finished leaves the set only in a callback,
        # and a request queued before that runs would otherwise wait for a writer that is gone
        if sum(not writer.done() for writer in self._writers) < self._max_writers:
            writer = asyncio.create_task(self._drain())
            self._writers.add(writer)
            writer.add_done_callback(self._writers.discard)
        return await future

    def _next_group(self) -> list[tuple[R, asyncio.Future[T]]]:
        chosen = set(self._pick([request for request, _ in self._queue]))
        group = [queued for i, queued in enumerate(self._queue) if i in chosen]
        self._queue = [queued for i, queued in enumerate(self._queue) if i not in chosen]
        return group

    async def _drain(self) -> None:
        while self._queue:
            group = self._next_group()
            results: Sequence[T | Exception]
            try:
                results = await self._write([request for request, _ in group])
            except Exception as e:  # the whole group failed: every caller learns why
                results = [e] * len(group)
            for (_, future), result in zip(group, results, strict=True):
                if future.done():
                    continue  # the caller went away; what it sent is stored all the same
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)
