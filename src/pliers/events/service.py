"""The Event Engine's application service: appends, then tells whoever listens."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence

from pliers.events.model import AppendResult, NewEvent
from pliers.events.ownership import OwnedAggregates, check_not_owned
from pliers.events.stamping import stamp_request
from pliers.events.store import EventStore
from pliers.group_commit import GroupCommit

#: Called with the highest position of a commit, after it is readable.
CommitListener = Callable[[int], Awaitable[None] | None]

log = logging.getLogger(__name__)

#: aggregate ids looked up together, at most (the publishes of one group)
MAX_LOOKED_UP = 2000


class GroupedLookups:
    """Which aggregates the engines own, asked for concurrent publishes in one query per group.

    Each publish to a UUID-named aggregate asks (see :mod:`pliers.events.ownership`); asked one by
    one, that was a query of its own per publish. Queued in a :class:`GroupCommit`, the publishes
    waiting while one query runs are answered by the next, each with its own ids' answer.
    """

    def __init__(self, owners: OwnedAggregates) -> None:
        self._owners = owners
        self._groups: GroupCommit[Sequence[str], set[str]] = GroupCommit(
            self._look_up, _next_lookups
        )

    async def owned(self, aggregate_ids: Sequence[str]) -> set[str]:
        return await self._groups.submit(aggregate_ids)

    async def _look_up(self, requests: list[Sequence[str]]) -> list[set[str]]:
        owned = await self._owners.owned(sorted({i for ids in requests for i in ids}))
        return [owned.intersection(ids) for ids in requests]


def _next_lookups(queued: Sequence[Sequence[str]]) -> list[int]:
    group: list[int] = []
    size = 0
    for i, ids in enumerate(queued):
        if group and size + len(ids) > MAX_LOOKED_UP:
            break
        group.append(i)
        size += len(ids)
    return group


class EventService:
    """Appends events and announces committed positions to listeners (the live stream).

    Listeners learn *positions*, never event bodies: whoever needs the events reads them from the
    store, so nothing is announced before it can be read.
    """

    def __init__(self, store: EventStore, owners: OwnedAggregates | None = None) -> None:
        self.store = store
        #: refuses raw events to the engines' aggregates (None: no engines, nothing to refuse)
        self.owners = GroupedLookups(owners) if owners is not None else None
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
