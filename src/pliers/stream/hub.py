"""The per-process dispatcher of the live stream.

One :class:`Hub` per process tails the store: when it hears that a position is committed (from
this process's :class:`~pliers.events.service.EventService`, from the broker, or from its own poll
as a safety net) it reads the new events ONCE and fans them out to every live subscription here.

Every subscription tracks ``last``, the position up to which it has been served. A subscription
that starts behind the hub (``fromPosition``) reads its own matching events from the store until
it reaches the hub's position, then joins the fan-out in the same step of the event loop, so the
seam between catch-up and live can neither gap nor repeat: an event is delivered only when its
position is above ``last``, and ``last`` only moves over positions that were fully read.
Positions are commit-ordered on both backends, so reading after a position never skips a late
commit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Protocol

from pliers import backoff
from pliers.broker import Broker
from pliers.errors import BrokerUnavailable
from pliers.events.model import EventQuery, StoredEvent
from pliers.events.store import EventStore
from pliers.stream.protocol import StreamFilter, event_message

log = logging.getLogger(__name__)

#: Events read per store query, by the tailer and by a catching-up subscription.
PAGE_SIZE = 500
#: Longest wait between two attempts to reach the broker or the store after a failure (seconds).
MAX_BACKOFF = 5.0
#: how long close() waits for its tasks to stop
CLOSE_TIMEOUT = 5.0
#: how often close() cancels a task again while it has not stopped
_RECANCEL = 0.05


class SendBuffer(Protocol):
    """Where a subscription's messages go: the connection's bounded send buffer."""

    def push(self, message: str) -> bool:
        """Queue a message; False when the buffer is full (the connection is then closed)."""
        ...

    async def room(self, count: int) -> None:
        """Wait until ``count`` messages fit in the buffer."""
        ...


@dataclass(eq=False)
class Subscription:
    id: str
    filter: StreamFilter
    buffer: SendBuffer
    #: every matching event up to this position has been queued
    last: int = 0
    live: bool = False
    closed: bool = False
    _catch_up: asyncio.Task[None] | None = field(default=None, repr=False)

    def deliver(self, event: StoredEvent, event_json: str) -> bool:
        if not self.buffer.push(event_message(self.id, event_json)):
            self.closed = True
        return not self.closed


class Hub:
    def __init__(
        self,
        store: EventStore,
        broker: Broker,
        *,
        poll_interval: float = 1.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.store = store
        self.broker = broker
        self.poll_interval = poll_interval
        self.page_size = page_size
        #: highest position read and fanned out; None while nobody subscribes here
        self.position: int | None = None
        self._subscriptions: set[Subscription] = set()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._announce = asyncio.Event()
        self._pending_notice = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._started = False
        self._closing = False

    @property
    def subscription_count(self) -> int:
        """Subscriptions served by this process right now."""
        return len(self._subscriptions)

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        self._closing = False
        self._tasks = [
            asyncio.create_task(self._tail(), name="pliers-stream-tailer"),
            asyncio.create_task(self._listen(), name="pliers-stream-listener"),
            asyncio.create_task(self._announcer(), name="pliers-stream-announcer"),
        ]

    async def close(self) -> None:
        # The loops also watch _closing: a cancel that lands inside a client library call can be
        # swallowed there (redis-py does this), and close must still end.
        self._closing = True
        self._announce.set()
        self._wake.set()
        pending = {*self._tasks, *(s._catch_up for s in self._subscriptions if s._catch_up)}
        deadline = asyncio.get_running_loop().time() + CLOSE_TIMEOUT
        while pending and (left := deadline - asyncio.get_running_loop().time()) > 0:
            # Cancelled again until they stop: on Python 3.11 a cancel that meets a finishing
            # asyncio.wait_for (redis-py sends every command through one) is lost.
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=min(left, _RECANCEL))
        for task in pending:
            log.warning("live stream task %s did not stop in time", task.get_name())
        self._tasks = []
        self._subscriptions.clear()
        self._started = False

    # -- hearing about commits ----------------------------------------------------------------

    def committed(self, position: int) -> None:
        """EventService listener: a commit in this process. Wake here, tell the other processes."""
        self.notify(position)
        if position > self._pending_notice:
            self._pending_notice = position
            self._announce.set()

    def notify(self, position: int | None = None) -> None:
        """Something up to ``position`` is committed (None: unknown, read anyway).

        Nobody subscribes here while :attr:`position` is None: there is nothing to read, and the
        next subscription starts from the head it reads itself.
        """
        if self.position is not None and (position is None or position > self.position):
            self._wake.set()

    async def _announcer(self) -> None:
        """Publish the latest local commit to the broker, off the request path, coalescing."""
        sent = 0
        down = False
        while not self._closing:
            await self._announce.wait()
            self._announce.clear()
            position = self._pending_notice
            if position <= sent:
                continue
            try:
                await self.broker.publish(position)
                sent = position
                if down:
                    log.info("broker reachable again: announcing commits")
                    down = False
            except BrokerUnavailable as e:
                if not down:
                    log.warning("cannot announce commits: %s (other processes poll)", e.message)
                    down = True

    async def _listen(self) -> None:
        """Hear other processes' commits; reconnect with backoff, then catch up from the store."""
        down = False
        while not self._closing:
            listener = None
            retries = backoff.forever(
                BrokerUnavailable, wait_initial=0.1, wait_max=MAX_BACKOFF, wait_jitter=0.1
            )
            async for attempt in retries:
                with attempt:
                    if self._closing:
                        return
                    try:
                        listener = await self.broker.listen()
                    except BrokerUnavailable as e:
                        if not down:
                            log.warning(
                                "broker unavailable, polling the store meanwhile: %s", e.message
                            )
                            down = True
                        raise
            assert listener is not None  # the retries end only with a listener, or by returning
            if self._closing:  # close() began while subscribing, its cancel maybe lost
                await listener.close()
                return
            if down:
                log.info("broker reachable again: live fan-out resumed")
                down = False
            self.notify(None)  # whatever was committed while we were not listening
            try:
                async for position in listener:
                    self.notify(position)
            except BrokerUnavailable as e:
                log.warning("broker connection lost, reconnecting: %s", e.message)
                down = True
            finally:
                await listener.close()

    # -- reading the store once per process ---------------------------------------------------

    async def _tail(self) -> None:
        failing = False
        while not self._closing:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancel
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._read_new()
            except Exception:  # the store is down: keep tailing, it will come back
                if not failing:
                    log.exception("live stream cannot read the store; retrying")
                    failing = True
                await asyncio.sleep(min(self.poll_interval, MAX_BACKOFF))
                continue
            if failing:
                log.info("live stream reads the store again")
                failing = False

    async def _read_new(self) -> None:
        async with self._lock:
            if not self._subscriptions:
                self.position = None  # nobody to serve: do not read
                return
            if self.position is None:
                self.position = await self.store.head_position()
            while True:
                page = await self.store.query(
                    EventQuery(after_position=self.position, limit=self.page_size)
                )
                if page.events:
                    self._fan_out(page.events)
                if not page.has_more:
                    return

    def _fan_out(self, events: list[StoredEvent]) -> None:
        """Queue a batch to every live subscription; synchronous, so nobody joins halfway."""
        live = [s for s in self._subscriptions if s.live and not s.closed]
        for event in events:
            event_json: str | None = None
            for sub in live:
                if sub.closed or event.position <= sub.last or not sub.filter.matches(event):
                    continue
                if event_json is None:
                    event_json = json.dumps(event.to_wire(), separators=(",", ":"))
                sub.deliver(event, event_json)
        end = events[-1].position
        for sub in live:
            sub.last = max(sub.last, end)
        self.position = end

    # -- subscriptions ------------------------------------------------------------------------

    async def subscribe(self, sub: Subscription, from_position: int | None) -> None:
        """Start serving ``sub``: live from now, or from ``from_position`` with catch-up first.

        Nothing is queued to ``sub`` before the caller regains control without awaiting.
        """
        await self.start()
        async with self._lock:
            if self.position is None:
                self.position = await self.store.head_position()
                # a commit heard while the head was read was not announced to anyone: read once
                self._wake.set()
            self._subscriptions.add(sub)
            if from_position is None or from_position >= self.position:
                sub.last = self.position if from_position is None else from_position
                sub.live = True
                return
            sub.last = from_position
        sub._catch_up = asyncio.create_task(self._catch_up(sub), name=f"pliers-catch-up-{sub.id}")

    def unsubscribe(self, sub: Subscription) -> None:
        sub.closed = True
        self._subscriptions.discard(sub)
        if sub._catch_up is not None and not sub._catch_up.done():
            sub._catch_up.cancel()

    async def _catch_up(self, sub: Subscription) -> None:
        page_size = self.page_size
        while not sub.closed:
            target = self.position
            if target is None or sub.last >= target:
                sub.live = True  # no await between the check and this: the tailer cannot interleave
                return
            await sub.buffer.room(page_size)
            try:
                page = await self.store.query(sub.filter.query(sub.last, page_size))
            except Exception:
                log.exception("catch-up read failed for subscription %s; retrying", sub.id)
                await asyncio.sleep(self.poll_interval)
                continue
            within = [e for e in page.events if e.position <= target]
            for event in within:
                if not sub.deliver(event, json.dumps(event.to_wire(), separators=(",", ":"))):
                    return
            if page.has_more and len(within) == len(page.events):
                sub.last = within[-1].position
            else:
                sub.last = target
