"""What the SQL backends' adapters share: the statements that run alike on both, written once.

The event store's reads, and those of the form, key and outbox read models, are written here with
numbered placeholders. A backend brings what differs: its placeholder mark (``$1`` in PostgreSQL,
``?1`` in SQLite), how it runs a read (``fetch``), how a row becomes a record, and the statements
that only it can write (its JSON functions, its locks, its clock).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar, Unpack

from pliers.errors import DuplicateEvent, IdempotencyKeyInFlight, PliersError, SequenceConflict
from pliers.events.model import EventQuery, QueryPage, QueryPageJSON, StoredEvent
from pliers.events.store import Window
from pliers.forms.records import FormRecord, FormStatus, SubmissionRecord
from pliers.keys.model import ApiKey
from pliers.notifications.outbox import Notification, NotificationQuery

#: The columns of an event, in the order a backend's row decoding takes them.
EVENT_COLUMNS = (
    'position, id, type, aggregate_id, aggregate_type, sequence_number, version, "timestamp", '
    "recorded_at, correlation_id, causation_id, metadata, payload"
)
#: A form's columns (of ``forms f``), in the order a backend's row decoding takes them.
FORM_COLUMNS = (
    "f.seq, f.id, f.name, f.description, f.body, f.version, f.status, f.event_sequence,"
    " f.created_at, f.updated_at"
)
#: Versions of the form ``$1``, each as the form was at that version (as :data:`FORM_COLUMNS`).
FORM_VERSIONS = (
    "SELECT f.seq, f.id, v.name, v.description, v.body, v.version, f.status, f.event_sequence,"
    " f.created_at, v.created_at AS updated_at"
    " FROM forms f JOIN form_versions v ON v.form_id = f.id WHERE f.id = $1"
)
SUBMISSION_COLUMNS = (
    "seq, id, form_id, form_version, data, submitted_by, metadata, status, created_at,"
    " idempotency_key"
)
NOTIFICATION_COLUMNS = (
    "id, submission_id, form_id, channel, recipients, subject, body, html, status, attempts,"
    " next_attempt_at, last_error, provider_message_id, created_at, updated_at"
)
KEY_COLUMNS = "id, name, scopes, digest, created_at, expires_at, revoked_at"
#: The bounds of a :class:`Window`: the key, and the condition on the sequence number.
_BOUNDS = (("from_sequence", ">="), ("to_sequence", "<="))


def fields(columns: str) -> tuple[str, ...]:
    """The record field each column of a SELECT list fills: ``f.seq, v.created_at AS updated_at``
    fills ``seq`` and ``updated_at``."""
    return tuple(column.split()[-1].split(".")[-1] for column in columns.split(","))


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
    """What both SQL event stores do alike: their reads, built from a backend's statements, and
    migrating at start."""

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


Store = TypeVar("Store", bound=SqlEventStore)


class SqlReads(ABC, Generic[Store]):
    """A read model's adapter on a SQL event store, whose connections it reads through."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def _fetch(self, sql: str, *args: Any) -> Sequence[Any]:
        """Rows of a read written with numbered placeholders (``$1``; no other ``$`` in it), which
        become the store's."""
        return await self.store.fetch(sql.replace("$", self.store.MARK), *args)


class SqlFormReads(SqlReads[Store]):
    """The reads of the form and submission read models: the same statements on every backend."""

    @staticmethod
    @abstractmethod
    def _form(row: Any) -> FormRecord:
        """The form of a row of :data:`FORM_COLUMNS` (or :data:`FORM_VERSIONS`)."""

    @staticmethod
    @abstractmethod
    def _submission(row: Any) -> SubmissionRecord:
        """The submission of a row of :data:`SUBMISSION_COLUMNS`."""

    async def get_form(self, form_id: str, version: int | None = None) -> FormRecord | None:
        if version is None:
            rows = await self._fetch(f"SELECT {FORM_COLUMNS} FROM forms f WHERE f.id = $1", form_id)
        else:
            rows = await self._fetch(f"{FORM_VERSIONS} AND v.version = $2", form_id, version)
        return self._form(rows[0]) if rows else None

    async def form_generation(self, form_id: str) -> int | None:
        rows = await self._fetch("SELECT event_sequence FROM forms WHERE id = $1", form_id)
        return int(rows[0][0]) if rows else None

    async def form_versions(self, form_id: str) -> list[FormRecord]:
        rows = await self._fetch(f"{FORM_VERSIONS} ORDER BY v.version", form_id)
        return [self._form(r) for r in rows]

    async def list_forms(
        self, *, after: int, limit: int, status: FormStatus | None = None
    ) -> list[FormRecord]:
        sql = f"SELECT {FORM_COLUMNS} FROM forms f WHERE f.seq > $1"
        args: list[Any] = [after, limit]
        if status is not None:
            args.append(status)
            sql += " AND f.status = $3"
        rows = await self._fetch(f"{sql} ORDER BY f.seq LIMIT $2", *args)
        return [self._form(r) for r in rows]

    async def get_submission(self, submission_id: str) -> SubmissionRecord | None:
        rows = await self._fetch(
            f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE id = $1", submission_id
        )
        return self._submission(rows[0]) if rows else None

    async def list_submissions(
        self, *, form_id: str | None, after: int, limit: int, upto: int | None = None
    ) -> list[SubmissionRecord]:
        where = ["seq > $1"]
        args: list[Any] = [after, limit]
        if form_id is not None:
            args.append(form_id)
            where.append(f"form_id = ${len(args)}")
        if upto is not None:
            args.append(upto)
            where.append(f"seq <= ${len(args)}")
        rows = await self._fetch(
            f"SELECT {SUBMISSION_COLUMNS} FROM submissions WHERE {' AND '.join(where)}"
            " ORDER BY seq LIMIT $2",
            *args,
        )
        return [self._submission(r) for r in rows]

    async def last_submission_seq(self, form_id: str) -> int:
        rows = await self._fetch(
            "SELECT coalesce(max(seq), 0) FROM submissions WHERE form_id = $1", form_id
        )
        return int(rows[0][0])


class SqlKeyReads(SqlReads[Store]):
    """The reads of the key store: the same statements on every backend."""

    @staticmethod
    @abstractmethod
    def _key(row: Any) -> ApiKey:
        """The key of a row of :data:`KEY_COLUMNS`."""

    async def get(self, key_id: str) -> ApiKey | None:
        rows = await self._fetch(f"SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1", key_id)
        return self._key(rows[0]) if rows else None

    async def list(self) -> list[ApiKey]:
        rows = await self._fetch(f"SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id")
        return [self._key(r) for r in rows]

    async def exists(self) -> bool:
        return bool(await self._fetch("SELECT 1 FROM api_keys LIMIT 1"))


class SqlOutboxReads(SqlReads[Store]):
    """The listing of the notification outbox: the same statement on every backend."""

    @staticmethod
    @abstractmethod
    def _notification(row: Any) -> Notification:
        """The notification of a row of :data:`NOTIFICATION_COLUMNS`."""

    async def list(self, query: NotificationQuery) -> list[Notification]:
        filters = query.filters()
        where = " AND ".join(f"{column} = ${i}" for i, (column, _) in enumerate(filters, 1))
        sql = (
            f"SELECT {NOTIFICATION_COLUMNS} FROM notifications"
            + (f" WHERE {where}" if where else "")
            + f" ORDER BY created_at, id LIMIT ${len(filters) + 1}"
        )
        rows = await self._fetch(sql, *(value for _, value in filters), query.limit)
        return [self._notification(r) for r in rows]
