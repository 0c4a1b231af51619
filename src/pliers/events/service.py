"""The Event Engine's application service: appends, then tells whoever listens."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from pliers.events.model import AppendResult, NewEvent
from pliers.events.ownership import OwnedAggregates, check_not_owned
from pliers.events.stamping import stamp_request
from pliers.events.store import EventStore

#: Called with the highest position of a commit, after it is readable.
CommitListener = Callable[[int], Awaitable[None] | None]

log = logging.getLogger(__name__)


class EventService:
    """Appends events and announces committed positions to listeners (the live stream).

    Listeners learn *positions*, never event bodies: whoever needs the events reads them from the
    store, so nothing is announced before it can be read.
    """

    def __init__(self, store: EventStore, owners: OwnedAggregates | None = None) -> None:
        self.store = store
        #: refuses raw events to the engines' aggregates (None: no engines, nothing to refuse)
        self.owners = owners
        self._listeners: list[CommitListener] = []

    def add_listener(self, listener: CommitListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: CommitListener) -> None:
        self._listeners.remove(listener)

    async def publish(self, events: Sequence[NewEvent]) -> list[AppendResult]:
        """Append raw events, as a client sent them (the engines append their own)."""
        if self.owners is not None:
            await check_not_owned(self.owners, events)
        results = await self.store.append([stamp_request(e) for e in events])
        if results and not results[0].duplicate:
            await self.committed(max(r.position for r in results))
        return results

    async def committed(self, position: int) -> None:
        """Announce that everything up to ``position`` is committed."""
        for listener in list(self._listeners):
            try:
                outcome = listener(position)
                if inspect.isawaitable(outcome):
                    await outcome
            except Exception:  # a broken listener must not fail a committed write
                log.exception("commit listener failed for position %d", position)
