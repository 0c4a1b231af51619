"""What the SQL backends' adapters share: the statements that read alike on both, written once.

A backend brings what differs: its placeholders (``$1`` in PostgreSQL, ``?1`` in SQLite), how it
runs a read (``fetch``) and how a row becomes a record.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Unpack

from pliers.errors import DuplicateEvent, IdempotencyKeyInFlight, PliersError, SequenceConflict
from pliers.events.model import EventQuery, QueryPage, QueryPageJSON, StoredEvent
from pliers.events.store import Window

#: The columns of an event, in the order a backend's row decoding takes them.
EVENT_COLUMNS = (
    'position, id, type, aggregate_id, aggregate_type, sequence_number, version, "timestamp", '
    "recorded_at, correlation_id, causation_id, metadata, payload"
)
#: The bounds of a :class:`Window`: the key, and the condition on the sequence number.
_BOUNDS = (("from_sequence", ">="), ("to_sequence", "<="))


def aggregate_filter(aggregate_id: str, window: Window, mark: str) -> tuple[str, list[Any]]:
    """WHERE ... ORDER BY ... LIMIT for reading one aggregate, and its arguments; ``mark``
    numbers the placeholders (``$`` or ``?``)."""
    args: list[Any] = [aggregate_id]
    sql = f"WHERE aggregate_id = {mark}1"
    for key, condition in _BOUNDS:
        bound = window.get(key)
        if bound is not None:
            args.append(bound)
            sql += f" AND sequence_number {condition} {mark}{len(args)}"
    sql += " ORDER BY sequence_number"
    limit = window.get("limit")
    if limit is not None:
        args.append(limit)
        sql += f" LIMIT {mark}{len(args)}"
    return sql, args


def broken_unique(message: str, ids: str, sequences: str, keys: str) -> PliersError | None:
    """The Pliers error a broken unique constraint stands for, by the name the backend's
    ``message`` gives it: ``ids`` (of events), ``sequences`` (an aggregate's sequence numbers),
    ``keys`` (submissions' idempotency keys); None for any other."""
    if sequences in message:
        return SequenceConflict(
            "sequence conflict: two events of the request claim the same sequence number"
        )
    if ids in message:
        return DuplicateEvent("an event id in the request is already stored")
    if keys in message:
        return IdempotencyKeyInFlight()
    return None


def page_json(rows: Sequence[Any], limit: int) -> QueryPageJSON:
    """A page from rows of (event as JSON text, position), ``limit + 1`` at most."""
    page = rows[:limit]
    return QueryPageJSON(
        "[" + ",".join(r[0] for r in page) + "]",
        has_more=len(rows) > limit,
        last_position=page[-1][1] if page else None,
    )


class SqlEventStore(ABC):
    """The reads of the event store that are the same statement on every SQL backend."""

    #: what numbers a placeholder: ``$`` (``$1``) or ``?`` (``?1``)
    MARK: ClassVar[str]

    @abstractmethod
    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded; returns the names applied."""

    @abstractmethod
    async def close(self) -> None: ...

    async def migrate_or_close(self) -> None:
        """:meth:`migrate`, closing the store when that fails: a store that does not start
        holds no connection."""
        try:
            await self.migrate()
        except BaseException:
            await self.close()
            raise

    @abstractmethod
    async def fetch(self, sql: str, *args: Any) -> Sequence[Any]:
        """Rows of one read, errors translated."""

    @staticmethod
    @abstractmethod
    def _event_from_row(row: Any) -> StoredEvent:
        """The event of a row of :data:`EVENT_COLUMNS`."""

    @abstractmethod
    def _page_sql(self, query: EventQuery) -> tuple[str, list[Any]]:
        """The SQL reading the :data:`EVENT_COLUMNS` of a query page, ``limit + 1`` rows in
        position order, and its arguments."""

    @abstractmethod
    def _page_json_sql(self, query: EventQuery) -> tuple[str, list[Any]]:
        """The same page as :meth:`_page_sql`, as rows of (the event's wire form as JSON text,
        its position)."""

    @staticmethod
    @abstractmethod
    def _aggregate_json_sql(where: str) -> str:
        """The statement of one row and column, a JSON array (text) of the wire forms of the
        events that ``where`` (a WHERE ... ORDER BY ... LIMIT of the events table) selects."""

    def _aggregate_filter(self, aggregate_id: str, window: Window) -> tuple[str, list[Any]]:
        return aggregate_filter(aggregate_id, window, self.MARK)

    async def read_aggregate(
        self, aggregate_id: str, **window: Unpack[Window]
    ) -> list[StoredEvent]:
        where, args = self._aggregate_filter(aggregate_id, window)
        rows = await self.fetch(f"SELECT {EVENT_COLUMNS} FROM events {where}", *args)
        return [self._event_from_row(r) for r in rows]

    async def read_aggregate_json(self, aggregate_id: str, **window: Unpack[Window]) -> str:
        where, args = self._aggregate_filter(aggregate_id, window)
        rows = await self.fetch(self._aggregate_json_sql(where), *args)
        return str(rows[0][0])

    async def query(self, query: EventQuery) -> QueryPage:
        sql, args = self._page_sql(query)
        rows = await self.fetch(sql, *args)
        events = [self._event_from_row(r) for r in rows[: query.limit]]
        return QueryPage(events, has_more=len(rows) > query.limit)

    async def query_json(self, query: EventQuery) -> QueryPageJSON:
        sql, args = self._page_json_sql(query)
        return page_json(await self.fetch(sql, *args), query.limit)

    async def head_position(self) -> int:
        rows = await self.fetch("SELECT coalesce(max(position), 0) FROM events")
        return int(rows[0][0])

    async def ping(self) -> None:
        await self.fetch("SELECT 1")
