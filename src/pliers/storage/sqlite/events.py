"""SQLite adapter of the event store: the embedded default, one file, one process.

Writes are serialised twice over: an asyncio lock inside the process, and ``BEGIN IMMEDIATE``
between processes sharing the file. Reads use a second connection, which in WAL mode sees only
committed data.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from pliers import metrics
from pliers.errors import PliersError, ServiceUnavailable
from pliers.events.model import (
    AppendResult,
    EventQuery,
    NewEvent,
    StoredEvent,
    format_time,
    parse_time,
)
from pliers.events.sequencing import (
    AppendPlanner,
    Duplicate,
    Inspection,
    Row,
    StoredRef,
    ToInsert,
    lookups,
    next_group,
)
from pliers.group_commit import GroupCommit
from pliers.storage import migrations
from pliers.storage.sql import EVENT_COLUMNS, SqlEventStore
from pliers.storage.sqlite.errors import translated
from pliers.storage.sqlite.rows import dumps

_INSERT = (
    "INSERT INTO events (id, type, aggregate_id, aggregate_type, sequence_number, version,"
    ' "timestamp", recorded_at, correlation_id, causation_id, metadata, payload, fingerprint)'
)
#: rows per INSERT statement: 13 variables each, within SQLite's default limit of 32,766
_ROWS_PER_INSERT = 1000
log = logging.getLogger(__name__)
#: Per request: its results, or the error that refused it.
Appended = list[AppendResult] | PliersError


#: An event in its wire form, built by SQLite (see StoredEvent.to_wire).
_WIRE = (
    "json_object('id', id, 'type', type, 'aggregateId', aggregate_id, "
    "'aggregateType', aggregate_type, 'sequenceNumber', sequence_number, 'version', version, "
    "'timestamp', \"timestamp\", 'recordedAt', recorded_at, 'correlationId', correlation_id, "
    "'causationId', causation_id, 'metadata', json(metadata), 'payload', json(payload), "
    "'position', position)"
)


def _query_sql(query: EventQuery, columns: str) -> tuple[str, list[Any]]:
    """The SQL reading ``columns`` of a query page (``limit + 1`` rows), and its arguments."""
    where = ["position > ?"]
    args: list[Any] = [query.start_position()]

    def any_of(column: str, values: list[str], negate: bool = False) -> None:
        if not values:
            where.append("1 = 1" if negate else "1 = 0")
            return
        where.append(f"{column} {'NOT ' if negate else ''}IN ({_placeholders(len(values))})")
        args.extend(values)

    if query.event_types is not None:
        any_of("type", query.event_types)
    if query.exclude_event_types:
        any_of("type", query.exclude_event_types, negate=True)
    if query.aggregate_ids is not None:
        any_of("aggregate_id", query.aggregate_ids)
    if query.aggregate_types is not None:
        any_of("aggregate_type", query.aggregate_types)
    if query.correlation_id is not None:
        where.append("correlation_id = ?")
        args.append(query.correlation_id)
    if query.timestamp_range is not None:
        if query.timestamp_range.from_ is not None:
            where.append('"timestamp" >= ?')
            args.append(format_time(query.timestamp_range.from_))
        if query.timestamp_range.to is not None:
            where.append('"timestamp" <= ?')
            args.append(format_time(query.timestamp_range.to))
    args.append(query.limit + 1)
    sql = f"SELECT {columns} FROM events WHERE {' AND '.join(where)} ORDER BY position LIMIT ?"
    return sql, args


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _inspect(db: sqlite3.Connection, requests: Sequence[Sequence[NewEvent]]) -> Inspection:
    """What is stored for ``requests``, in one statement."""
    ids, aggregates, explicit = lookups(requests)
    parts = [
        "SELECT 0, id, fingerprint, sequence_number, position, recorded_at FROM events "
        f"WHERE id IN ({_placeholders(len(ids))})",
        "SELECT 1, aggregate_id, NULL, max(sequence_number), NULL, NULL FROM events "
        f"WHERE aggregate_id IN ({_placeholders(len(aggregates))}) GROUP BY aggregate_id",
    ]
    args: list[Any] = [*ids, *aggregates]
    if explicit:
        pairs = ", ".join(["(?, ?)"] * len(explicit))
        parts.append(
            "SELECT 2, e.aggregate_id, NULL, e.sequence_number, NULL, NULL "
            f"FROM (VALUES {pairs}) AS v JOIN events e "
            "ON e.aggregate_id = v.column1 AND e.sequence_number = v.column2"
        )
        args += [value for pair in explicit for value in pair]
    inspection = Inspection()
    for kind, key, fp, n, position, recorded in db.execute(" UNION ALL ".join(parts), args):
        if kind == 0:
            inspection.stored[key] = StoredRef(fp, n, position, parse_time(recorded))
        elif kind == 1:
            inspection.heads[key] = n
        else:
            inspection.used.add((key, n))
    return inspection


def _insert(db: sqlite3.Connection, rows: list[Row], now: datetime) -> dict[str, int]:
    """Insert ``rows`` in as few statements as the variable limit allows; id -> position."""
    recorded = format_time(now)
    positions: dict[str, int] = {}
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        values: list[Any] = []
        for row in chunk:
            e = row.event
            values += (
                row.id,
                e.type,
                e.aggregate_id,
                row.aggregate_type,
                row.sequence_number,
                e.version,
                format_time(e.timestamp or now),
                recorded,
                e.correlation_id,
                e.causation_id,
                dumps(e.metadata),
                dumps(e.payload),
                row.fingerprint,
            )
        tuples = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
        inserted = db.execute(f"{_INSERT} VALUES {tuples} RETURNING id, position", values)
        positions.update((i, p) for i, p in inserted)
    return positions


def _append_group(db: sqlite3.Connection, requests: Sequence[Sequence[NewEvent]]) -> list[Appended]:
    """Plan and insert ``requests`` inside an open write transaction on ``db``.

    Runs on the connection's own thread (see :func:`_on_thread`), the planning too: a statement
    handed over from the event loop one at a time costs a round trip to that thread each.
    """
    planner = AppendPlanner(_inspect(db, requests))
    plans: list[ToInsert | Duplicate | PliersError] = []
    for events in requests:
        try:
            plans.append(planner.plan(events))
        except PliersError as e:
            plans.append(e)
    now = datetime.now(UTC)
    rows = [row for plan in plans if isinstance(plan, ToInsert) for row in plan.rows]
    positions = _insert(db, rows, now) if rows else {}
    outcomes: list[Appended] = []
    for plan in plans:
        if isinstance(plan, ToInsert):
            outcomes.append(
                [AppendResult(r.id, r.sequence_number, positions[r.id], now) for r in plan.rows]
            )
        elif isinstance(plan, Duplicate):
            outcomes.append(
                [
                    AppendResult(i, s.sequence_number, s.position, s.recorded_at, duplicate=True)
                    for i, s in zip(plan.ids, plan.stored, strict=True)
                ]
            )
        else:
            outcomes.append(plan)
    return outcomes


def _commit_group(db: sqlite3.Connection, requests: Sequence[Sequence[NewEvent]]) -> list[Appended]:
    """:func:`_append_group` in a write transaction of its own, committed."""
    db.execute("BEGIN IMMEDIATE")
    try:
        outcomes = _append_group(db, requests)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")
    return outcomes


T = TypeVar("T")


async def _on_thread(
    conn: aiosqlite.Connection,
    work: Callable[[sqlite3.Connection, Sequence[Sequence[NewEvent]]], T],
    requests: Sequence[Sequence[NewEvent]],
) -> T:
    """``work(db, requests)`` on the thread that owns ``conn``'s SQLite connection, in one hop."""
    result: T = await conn._execute(work, conn._conn, requests)  # type: ignore[no-untyped-call]
    return result


async def _append(conn: aiosqlite.Connection, events: Sequence[NewEvent]) -> list[AppendResult]:
    """Append inside an open write transaction on ``conn``."""
    [outcome] = await _on_thread(conn, _append_group, [events])
    if isinstance(outcome, PliersError):
        raise outcome
    return outcome


def _busy(e: sqlite3.OperationalError) -> bool:
    """Whether ``e`` says another connection holds the write lock (SQLITE_BUSY)."""
    return e.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY


class Checkpoints:
    """Copies the write-ahead log back into the database file, on the connection's thread.

    The connection that commits groups on the event loop never checkpoints itself
    (``wal_autocheckpoint=0``): a checkpoint syncs the file to disk, which would stall every
    request meanwhile. After every ``COMMITS`` commits or ``ROWS`` rows, whichever comes first,
    a passive checkpoint runs on the thread of an aiosqlite connection instead; it copies what
    no reader still needs and never waits for a lock.
    """

    COMMITS = 100
    ROWS = 1000

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._commits = 0
        self._rows = 0
        self._running: asyncio.Task[None] | None = None

    def committed(self, rows: int) -> None:
        """Count a commit of ``rows`` rows; start a checkpoint when enough have gathered."""
        self._commits += 1
        self._rows += rows
        due = self._commits >= self.COMMITS or self._rows >= self.ROWS
        if due and (self._running is None or self._running.done()):
            self._commits = self._rows = 0
            self._running = asyncio.create_task(self._checkpoint())

    async def _checkpoint(self) -> None:
        try:
            await self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except (sqlite3.Error, ValueError) as e:  # a closed connection raises ValueError
            log.warning("SQLite checkpoint failed; the next commits try again: %s", e)

    async def close(self) -> None:
        """Wait for a checkpoint under way."""
        if self._running is not None:
            await self._running


class AppendGroups:
    """Appends from concurrent callers share one write transaction and one commit.

    SQLite has one writer at a time, so appends take turns anyway; taking them one request at a
    time paid a transaction per request. Callers queue their request instead (a
    :class:`GroupCommit`), and one writer stores everything queued in a single transaction:
    begin, one inspection, one insert, commit. Each request still succeeds or fails on its own.

    A group is written on the event loop, with a connection of its own (``direct``): the
    statements of a group hold the GIL for most of their time anyway, and a hop to a
    connection's thread and back cost more than the write. That connection never waits for a
    lock: when another process holds the file's write lock, ``BEGIN IMMEDIATE`` fails at once
    and the group is written on the aiosqlite connection's thread instead, which waits up to
    the lock timeout without stalling the loop.
    """

    MAX_EVENTS = 2000

    def __init__(
        self,
        conn: aiosqlite.Connection,
        lock: asyncio.Lock,
        direct: sqlite3.Connection,
    ) -> None:
        self._conn = conn
        self._lock = lock
        self._direct = direct
        self.checkpoints = Checkpoints(conn)
        self._groups: GroupCommit[Sequence[NewEvent], list[AppendResult]] = GroupCommit(
            self._write, self._next_group
        )

    async def append(self, events: Sequence[NewEvent]) -> list[AppendResult]:
        return await self._groups.submit(events)

    def _next_group(self, queued: Sequence[Sequence[NewEvent]]) -> list[int]:
        return next_group(queued, self.MAX_EVENTS)

    async def _write(self, requests: list[Sequence[NewEvent]]) -> list[Appended]:
        with metrics.append_group(len(requests)):
            async with translated(), self._lock:
                try:
                    outcomes = _commit_group(self._direct, requests)
                except sqlite3.OperationalError as e:
                    if not _busy(e):
                        raise
                    # another process writes: wait for its lock on the thread, not on the loop
                    return await _on_thread(self._conn, _commit_group, requests)
                self.checkpoints.committed(sum(map(len, requests)))
                return outcomes


class SqliteTransaction:
    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn

    @property
    def connection(self) -> aiosqlite.Connection:
        return self._conn

    async def append(self, events: Sequence[NewEvent]) -> list[AppendResult]:
        async with translated():
            return await _append(self._conn, events)


#: seconds a statement waits for another connection's write lock (``PLIERS_DB_TIMEOUT``)
DEFAULT_LOCK_TIMEOUT = 5.0


def _open_direct(path: Path) -> sqlite3.Connection:
    """The connection that writes groups on the event loop: it never waits for a lock and never
    checkpoints (see :class:`AppendGroups` and :class:`Checkpoints`)."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA busy_timeout=0")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("PRAGMA wal_autocheckpoint=0")
    except BaseException:
        db.close()
        raise
    return db


async def _open(path: Path, lock_timeout: float) -> aiosqlite.Connection:
    # the wait is set before the first statement: switching a file to WAL needs its lock too
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=lock_timeout)
    try:
        await conn.execute(f"PRAGMA busy_timeout={round(lock_timeout * 1000)}")
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
    except BaseException:
        await conn.close()
        raise
    return conn


class SqliteEventStore(SqlEventStore):
    backend = "sqlite"
    MARK = "?"

    @staticmethod
    def _event_from_row(row: sqlite3.Row) -> StoredEvent:
        return StoredEvent(
            position=row[0],
            id=row[1],
            type=row[2],
            aggregate_id=row[3],
            aggregate_type=row[4],
            sequence_number=row[5],
            version=row[6],
            timestamp=parse_time(row[7]),
            recorded_at=parse_time(row[8]),
            correlation_id=row[9],
            causation_id=row[10],
            metadata=json.loads(row[11]),
            payload=json.loads(row[12]),
        )

    @staticmethod
    def _page_sql(query: EventQuery) -> tuple[str, list[Any]]:
        return _query_sql(query, EVENT_COLUMNS)

    @staticmethod
    def _page_json_sql(query: EventQuery) -> tuple[str, list[Any]]:
        return _query_sql(query, f"{_WIRE}, position")

    @staticmethod
    def _aggregate_json_sql(where: str) -> str:
        return (
            f"SELECT coalesce(json_group_array(json(w.event)), '[]') FROM "
            f"(SELECT {_WIRE} AS event FROM events {where}) w"
        )

    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        direct: sqlite3.Connection,
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._direct = direct
        self._write_lock = asyncio.Lock()
        self._group = AppendGroups(writer, self._write_lock, direct)

    @classmethod
    async def connect(
        cls,
        path: Path | str,
        *,
        migrate: bool = True,
        lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    ) -> SqliteEventStore:
        path = Path(path)
        opened: list[aiosqlite.Connection] = []  # the writer, then the reader
        try:
            if path.parent != Path():
                path.parent.mkdir(parents=True, exist_ok=True)
            opened.append(await _open(path, lock_timeout))
            opened.append(await _open(path, lock_timeout))
            direct = _open_direct(path)  # after the writer has put the file in WAL mode
        except BaseException as e:
            for conn in opened:
                await conn.close()  # its thread would keep the process alive
            if isinstance(e, OSError | sqlite3.Error):
                raise ServiceUnavailable(f"cannot open SQLite database {str(path)!r}: {e}") from e
            raise
        writer, reader = opened
        store = cls(writer, reader, direct)
        if migrate:
            await store.migrate_or_close()
        return store

    async def applied_migrations(self) -> dict[str, tuple[str, str]]:
        table = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pliers_migrations'"
        if not await self.fetch(table):
            return {}
        rows = await self.fetch("SELECT name, checksum, applied_at FROM pliers_migrations")
        return {str(r[0]): (str(r[1]), str(r[2])) for r in rows}

    async def migrate(self) -> list[str]:
        applied: list[str] = []
        # a file locked past the wait is an outage with its reason, not a traceback
        async with translated(), self._write_lock:
            conn = self._writer
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS pliers_migrations (name TEXT PRIMARY KEY,"
                " checksum TEXT NOT NULL, applied_at TEXT NOT NULL"
                " DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
            )
            for m in migrations.load("sqlite"):
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    async with conn.execute(
                        "SELECT 1 FROM pliers_migrations WHERE name = ?", (m.name,)
                    ) as cursor:
                        done = await cursor.fetchone() is not None
                    if not done:
                        for statement in _statements(m.sql):
                            await conn.execute(statement)
                        await conn.execute(
                            "INSERT INTO pliers_migrations (name, checksum) VALUES (?, ?)",
                            (m.name, m.checksum),
                        )
                        applied.append(m.name)
                    await conn.execute("COMMIT")
                except BaseException:
                    await conn.execute("ROLLBACK")
                    raise
        return applied

    async def append(self, events: Sequence[NewEvent]) -> list[AppendResult]:
        return await self._group.append(events)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteTransaction]:
        async with translated(), self._write_lock:
            conn = self._writer
            await conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTransaction(conn)
            except BaseException:
                await conn.execute("ROLLBACK")
                raise
            await conn.execute("COMMIT")

    async def fetch(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        """Rows of a read on the read connection, which sees committed data only.

        The read models of this store (forms, the notification outbox) read through it too.
        """
        async with translated(), self._reader.execute(sql, args) as cursor:
            return list(await cursor.fetchall())

    async def close(self) -> None:
        await self._group.checkpoints.close()
        self._direct.close()
        await self._reader.close()
        await self._writer.close()


def _statements(script: str) -> list[str]:
    """Split a migration into statements, keeping trigger bodies whole."""
    statements: list[str] = []
    buffer = ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not buffer.strip():
            continue
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements
