"""The event store port: what every storage adapter provides."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypedDict, Unpack

from pliers.events.model import (
    AppendResult,
    EventQuery,
    NewEvent,
    QueryPage,
    QueryPageJSON,
    StoredEvent,
)


class Window(TypedDict, total=False):
    """Which of an aggregate's events a read returns, in sequence order: sequence numbers from
    ``from_sequence`` to ``to_sequence`` (both included; None or absent, no bound), and at most
    ``limit`` of them."""

    from_sequence: int | None
    to_sequence: int | None
    limit: int | None


class Transaction(Protocol):
    """A unit of work: appends and other writes that commit or roll back together.

    Every port method that joins a transaction takes one (form records, the outbox). Only the
    storage adapters look inside, at ``connection`` (their backend's own: asyncpg or sqlite);
    everything else passes it along. ``append`` must be called last, because it takes the lock
    that orders positions and holds it until commit.
    """

    @property
    def connection(self) -> Any: ...

    async def append(self, events: Sequence[NewEvent]) -> list[AppendResult]: ...


class EventStore(Protocol):
    """Append-only storage of events with a global, gap-safe position."""

    backend: str

    async def applied_migrations(self) -> dict[str, tuple[str, str]]:
        """The migrations this database records: name -> (checksum, when applied)."""
        ...

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded; returns the names applied."""
        ...

    async def append(self, events: Sequence[NewEvent]) -> list[AppendResult]:
        """Append atomically: all events are stored, or none and an error is raised."""
        ...

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...

    async def read_aggregate(
        self, aggregate_id: str, **window: Unpack[Window]
    ) -> list[StoredEvent]: ...

    async def read_aggregate_json(self, aggregate_id: str, **window: Unpack[Window]) -> str:
        """The same events as :meth:`read_aggregate`, as a JSON array of their wire form.

        The database serialises them, which is several times faster for long aggregates than
        building Python objects and encoding them again.
        """
        ...

    async def query(self, query: EventQuery) -> QueryPage: ...

    async def query_json(self, query: EventQuery) -> QueryPageJSON:
        """The same page as :meth:`query`, its events serialised by the database."""
        ...

    async def head_position(self) -> int:
        """The highest committed position (0 when the store is empty)."""
        ...

    async def ping(self) -> None:
        """Raise :class:`pliers.errors.ServiceUnavailable` when the database cannot be reached."""
        ...

    async def close(self) -> None: ...
