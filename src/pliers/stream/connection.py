"""One client connection to the live stream: its subscriptions and its bounded send buffer.

Framework-free: :mod:`pliers.api.stream` moves text between the WebSocket and :meth:`handle` /
:meth:`next_message`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import deque

from pliers.errors import PliersError
from pliers.nesting import TooDeep, check_depth
from pliers.stream.hub import Hub, Subscription
from pliers.stream.protocol import Ping, StreamError, Subscribe, Unsubscribe, dumps, parse
from pliers.stream.quota import QuotaExceeded, StreamQuota

#: Subscriptions one connection may hold at once.
MAX_SUBSCRIPTIONS = 100


class Connection:
    def __init__(
        self,
        hub: Hub,
        *,
        buffer: int,
        max_message_bytes: int,
        max_depth: int = 64,
        quota: StreamQuota | None = None,
        client: str = "",
    ) -> None:
        self.hub = hub
        #: shared by the process's connections; None: no limit beyond MAX_SUBSCRIPTIONS
        self.quota = quota
        self.client = client
        self.capacity = buffer
        self.max_message_bytes = max_message_bytes
        self.max_depth = max_depth
        self.subscriptions: dict[str, Subscription] = {}
        self._queue: deque[str] = deque()
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        #: set when the client fell too far behind; the connection is then closed with 1008
        self.overflowed = asyncio.Event()

    # -- the send buffer (the hub's SendBuffer) -----------------------------------------------

    def push(self, message: str) -> bool:
        if self.overflowed.is_set():
            return False
        if len(self._queue) >= self.capacity:
            self._queue.clear()  # the connection is closed; free the memory now
            self.overflowed.set()
            return False
        self._queue.append(message)
        self._ready.set()
        return True

    async def room(self, count: int) -> None:
        count = min(count, self.capacity)
        while self.capacity - len(self._queue) < count and not self.overflowed.is_set():
            self._drained.clear()
            await self._drained.wait()

    async def next_message(self) -> str:
        while not self._queue:
            self._ready.clear()
            await self._ready.wait()
        message = self._queue.popleft()
        self._drained.set()
        return message

    # -- client messages ----------------------------------------------------------------------

    async def handle(self, text: str) -> None:
        """Act on one client message; problems are answered with an ``error`` message."""
        try:
            raw = text.encode("utf-8", "surrogatepass")
            if len(raw) > self.max_message_bytes:
                raise StreamError(
                    "MESSAGE_TOO_LARGE",
                    f"a stream message may be at most {self.max_message_bytes} bytes",
                )
            try:
                check_depth(raw, self.max_depth)
            except TooDeep as e:
                raise StreamError("INVALID_MESSAGE", f"{e} (PLIERS_MAX_JSON_DEPTH)") from None
            message = parse(text)
            if isinstance(message, Subscribe):
                await self._subscribe(message)
            elif isinstance(message, Unsubscribe):
                self._unsubscribe(message)
            elif isinstance(message, Ping):
                self.push(dumps({"type": "pong"}))
        except StreamError as e:
            self.push(dumps(e.to_wire()))

    async def _subscribe(self, message: Subscribe) -> None:
        sid = message.subscription_id or str(uuid.uuid4())
        if sid in self.subscriptions:
            raise StreamError("DUPLICATE_SUBSCRIPTION", f"subscription {sid!r} already exists")
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS:
            raise StreamError(
                "TOO_MANY_SUBSCRIPTIONS",
                f"a connection may hold at most {MAX_SUBSCRIPTIONS} subscriptions",
            )
        if self.quota is not None:
            try:
                self.quota.subscribe(self.client)
            except QuotaExceeded as e:
                raise StreamError("TOO_MANY_SUBSCRIPTIONS", e.message) from None
        sub = Subscription(sid, message.filter, self)
        self.subscriptions[sid] = sub
        confirmed: dict[str, object] = {
            "type": "subscription_confirmed",
            "subscriptionId": sid,
            "filter": message.filter.to_wire(),
        }
        if message.from_position is not None:
            confirmed["fromPosition"] = message.from_position
        # Confirmed once the hub serves it, so that whatever the client causes after the
        # confirmation reaches it; no await between the two, so no event can come first.
        try:
            await self.hub.subscribe(sub, message.from_position)
        except PliersError as e:  # the store is unreachable: refuse this one, keep the connection
            del self.subscriptions[sid]
            self.hub.unsubscribe(sub)
            if self.quota is not None:
                self.quota.unsubscribe(self.client)
            raise StreamError(e.code, f"cannot subscribe now: {e.message}") from None
        self.push(dumps(confirmed))

    def _unsubscribe(self, message: Unsubscribe) -> None:
        sub = self.subscriptions.pop(message.subscription_id, None)
        if sub is None:
            raise StreamError(
                "SUBSCRIPTION_NOT_FOUND", f"no subscription {message.subscription_id!r}"
            )
        self.hub.unsubscribe(sub)
        if self.quota is not None:
            self.quota.unsubscribe(self.client)
        self.push(dumps({"type": "unsubscribed", "subscriptionId": message.subscription_id}))

    def close(self) -> None:
        for sub in self.subscriptions.values():
            self.hub.unsubscribe(sub)
        if self.quota is not None and self.subscriptions:
            self.quota.unsubscribe(self.client, len(self.subscriptions))
        self.subscriptions.clear()
        self._queue.clear()
