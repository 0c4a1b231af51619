"""PostgreSQL adapter of the event store, through an asyncpg pool."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pydantic_core

from pliers.errors import ConfigurationError, PliersError, ServiceUnavailable
from pliers.events.model import AppendResult, EventQuery, NewEvent, StoredEvent
from pliers.storage import migrations
from pliers.storage.postgres.append import AppendGroups, Conn, append_in_transaction
from pliers.storage.postgres.errors import UNAVAILABLE, translated
from pliers.storage.sql import EVENT_COLUMNS, SqlEventStore

log = logging.getLogger(__name__)
#: An event in its wire form, built by PostgreSQL (see StoredEvent.to_wire).
_TIME = """'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'"""
_WIRE = (
    "json_build_object('id', id, 'type', type, 'aggregateId', aggregate_id, "
    "'aggregateType', aggregate_type, 'sequenceNumber', sequence_number, 'version', version, "
    f"""'timestamp', to_char("timestamp" AT TIME ZONE 'UTC', {_TIME}), """
    f"'recordedAt', to_char(recorded_at AT TIME ZONE 'UTC', {_TIME}), "
    "'correlationId', correlation_id, 'causationId', causation_id, 'metadata', metadata, "
    "'payload', payload, 'position', position)"
)
_MIGRATION_LOCK = 0x706C69657273  # "pliers": one migrator at a time across processes


#: Filters that can drive a query through an index on (column, position), most selective first.
_DRIVING = (
    ("aggregate_ids", "aggregate_id"),
    ("event_types", "type"),
    ("aggregate_types", "aggregate_type"),
)


def _query_sql(query: EventQuery) -> tuple[str, list[Any]]:
    """The SQL of a query page and its arguments.

    A page costs what its limit costs, whatever the planner knows: given a list of types,
    aggregate types or aggregate ids, each value is read on its own through its index on
    (column, position), stopping at the page size, and the short lists are merged. Written as
    ``column = ANY(list) ORDER BY position``, the planner of a never-analyzed store reads every
    matching row through a bitmap scan and sorts them all, at a cost that grows with the store.
    """
    args: list[Any] = [query.start_position()]

    def bind(value: Any) -> str:
        args.append(value)
        return f"${len(args)}"

    driving = next(
        ((field, column) for field, column in _DRIVING if getattr(query, field) is not None),
        None,
    )
    where = ["e.position > $1"]
    if driving is not None:
        field, column = driving
        values = list(dict.fromkeys(getattr(query, field)))
        source = f"unnest({bind(values)}::text[]) AS f(value) CROSS JOIN LATERAL "
        where.append(f"e.{column} = f.value")
    for field, column in _DRIVING:
        values = getattr(query, field)
        if values is not None and (field, column) != driving:
            where.append(f"e.{column} = ANY({bind(values)}::text[])")
    if query.exclude_event_types:
        where.append(f"e.type <> ALL({bind(query.exclude_event_types)}::text[])")
    if query.correlation_id is not None:
        where.append(f"e.correlation_id = {bind(query.correlation_id)}")
    if query.timestamp_range is not None:
        if query.timestamp_range.from_ is not None:
            where.append(f'e."timestamp" >= {bind(query.timestamp_range.from_)}')
        if query.timestamp_range.to is not None:
            where.append(f'e."timestamp" <= {bind(query.timestamp_range.to)}')
    page = bind(query.limit + 1)
    select = (
        f"SELECT {EVENT_COLUMNS} FROM events e WHERE {' AND '.join(where)} "
        f"ORDER BY e.position LIMIT {page}"
    )
    if driving is None:
        return select, args
    return f"SELECT e.* FROM {source}({select}) e ORDER BY e.position LIMIT {page}", args


def _where(url: str) -> str:
    """Host, port and database of ``url``, without credentials."""
    parts = urlsplit(url)
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}{parts.path or '/'}"


async def _init_connection(conn: Conn) -> None:
    await conn.set_type_codec("jsonb", encoder=_dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: Conn) -> None:
    """Reset nothing more when a connection goes back to the pool.

    asyncpg rolls back a transaction left open either way. Its default reset also runs
    ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``: a round trip on every
    release, each write's latency included. Pliers leaves no such state on a pooled connection
    (no SET, LISTEN or cursors; the migration lock is released in a ``finally``).
    """


def _dumps(value: Any) -> str:
    return pydantic_core.to_json(value).decode()


class PostgresTransaction:
    def __init__(self, conn: Conn) -> None:
        self._conn = conn

    @property
    def connection(self) -> Conn:
        return self._conn

    async def append(self, events: Sequence[NewEvent]) -> list[AppendResult]:
        async with translated():
            outcome = await append_in_transaction(self._conn, events)
        if isinstance(outcome, PliersError):
            raise outcome
        return outcome


#: Default of ``PLIERS_DB_TIMEOUT``.
DEFAULT_TIMEOUT = 5.0
#: seconds applying the pending migrations may take (``PLIERS_MIGRATE_TIMEOUT``)
DEFAULT_MIGRATE_TIMEOUT = 60.0


def _reason(e: BaseException) -> str:
    return str(e) or type(e).__name__


def _timed_out(seconds: float, setting: str) -> ServiceUnavailable:
    return ServiceUnavailable(f"the database did not answer within {seconds:g} s ({setting})")


class PostgresEventStore(SqlEventStore):
    backend = "postgres"
    MARK = "$"
    _page_sql = staticmethod(_query_sql)

    @staticmethod
    def _page_json_sql(query: EventQuery) -> tuple[str, list[Any]]:
        sql, args = _query_sql(query)
        return f"SELECT ({_WIRE})::text, position FROM ({sql}) e ORDER BY position", args

    @staticmethod
    def _aggregate_json_sql(where: str) -> str:
        return (
            f"SELECT coalesce(json_agg(w.event ORDER BY w.sequence_number), '[]')::text FROM "
            f"(SELECT {_WIRE} AS event, sequence_number FROM events {where}) w"
        )

    @staticmethod
    def _event_from_row(row: asyncpg.Record) -> StoredEvent:
        return StoredEvent(**dict(row))  # the columns of EVENT_COLUMNS are its fields

    def __init__(
        self,
        pool: asyncpg.Pool,
        url: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        migrate_timeout: float = DEFAULT_MIGRATE_TIMEOUT,
    ) -> None:
        self.pool = pool
        #: where the pool connects; for connections of their own (LISTEN)
        self.url = url
        #: seconds one use of a pooled connection may last, its acquisition included
        self.timeout = timeout
        #: seconds :meth:`migrate` may take, waiting for another migrator included
        self.migrate_timeout = migrate_timeout
        self._group = AppendGroups(self.connection)

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 20,
        migrate: bool = True,
        db_timeout: float = DEFAULT_TIMEOUT,
        migrate_timeout: float = DEFAULT_MIGRATE_TIMEOUT,
    ) -> PostgresEventStore:
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=min(min_size, max_size),
                max_size=max_size,
                init=_init_connection,
                reset=_keep_session,
                server_settings={
                    "timezone": "UTC",
                    "application_name": "pliers",
                    # plan with the table as it is now: a generic plan cached while the table
                    # was small (no statistics yet) would keep scanning it whole as it grows
                    "plan_cache_mode": "force_custom_plan",
                    # no bitmap scans: in a never-analyzed store the planner guesses that a type
                    # has a few dozen events and reads all of them through a bitmap scan to sort
                    # them, where reading (type, position) in order stops at the page size. The
                    # store's lookups are equalities and = ANY(list) on btree indexes, which an
                    # index scan serves as well.
                    "enable_bitmapscan": "off",
                },
                timeout=db_timeout,
            )
        except (*UNAVAILABLE, TimeoutError) as e:  # type: ignore[misc]  # a tuple of classes
            raise ServiceUnavailable(
                f"cannot connect to PostgreSQL at {_where(url)}: {e or type(e).__name__}"
            ) from e
        except (asyncpg.PostgresError, ValueError) as e:
            raise ConfigurationError(f"PostgreSQL at {_where(url)} refused: {e}") from e
        store = cls(pool, url, timeout=db_timeout, migrate_timeout=migrate_timeout)
        if migrate:
            await store.migrate_or_close()
        return store

    async def applied_migrations(self) -> dict[str, tuple[str, str]]:
        async with self.connection() as conn, translated():
            if await conn.fetchval("SELECT to_regclass('pliers_migrations')", timeout=10) is None:
                return {}
            rows = await conn.fetch(
                "SELECT name, checksum, applied_at::text AS at FROM pliers_migrations", timeout=10
            )
        return {r["name"]: (r["checksum"], r["at"]) for r in rows}

    async def migrate(self) -> list[str]:
        """Apply the migrations not yet recorded; returns the names applied.

        Within :attr:`migrate_timeout` seconds (a hung server, or another process holding the
        migration lock that long), or the connection is closed under the migration, whose
        transaction PostgreSQL then rolls back, and :class:`ServiceUnavailable` names the setting.
        """
        async with self.connection(
            lasting=self.migrate_timeout, setting="PLIERS_MIGRATE_TIMEOUT"
        ) as conn:
            return await apply_migrations(conn)

    @asynccontextmanager
    async def connection(
        self, *, lasting: float | None = None, setting: str = "PLIERS_DB_TIMEOUT"
    ) -> AsyncIterator[Conn]:
        """A pooled connection; failing to get one means the database is unavailable.

        The whole use, from asking the pool to giving the connection back, lasts at most
        :attr:`timeout` seconds (or ``lasting``, which ``setting`` configures): then the
        connection is closed under whatever waits on it, and the caller gets
        :class:`ServiceUnavailable`. A per-statement timeout would not do: a
        statement that timed out is followed by a ROLLBACK and a release, each of which waits
        on the same silent server (a stopped PostgreSQL answered nothing for 40 s).

        It goes back to the pool as it is, an open transaction rolled back: leave no session
        state on it (SET, LISTEN, advisory locks).
        """
        loop = asyncio.get_running_loop()
        seconds = self.timeout if lasting is None else lasting
        deadline = loop.time() + seconds
        try:
            conn = await self.pool.acquire(timeout=min(self.timeout, seconds))
        except Exception as e:
            raise ServiceUnavailable(f"the database is unreachable: {_reason(e)}") from e
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            conn.terminate()

        watchdog = loop.call_at(deadline, expire)
        try:
            yield conn
        except (ServiceUnavailable, asyncio.CancelledError) as e:
            # A connection that lost its server, or was left in the middle of a statement,
            # goes, not back to the pool (unless the pool has already taken it back, which
            # asyncpg does with connections that closed).
            with contextlib.suppress(asyncpg.InterfaceError):
                conn.terminate()
            if expired and not isinstance(e, asyncio.CancelledError):
                raise _timed_out(seconds, setting) from e
            raise
        except Exception as e:
            if expired:
                raise _timed_out(seconds, setting) from e
            raise
        finally:
            watchdog.cancel()
            await self.pool.release(conn)

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Rows of one read, on a pooled connection, with errors translated.

        The read models of this store (forms, the notification outbox) read through it too.
        """
        async with self.connection() as conn, translated():
            return await conn.fetch(sql, *args)

    async def append(self, events: Sequence[NewEvent]) -> list[AppendResult]:
        return await self._group.append(events)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with self.connection() as conn, translated(), conn.transaction():
            yield PostgresTransaction(conn)

    async def close(self) -> None:
        """Close the pool: gracefully within :attr:`timeout`, else at once."""
        try:
            async with asyncio.timeout(self.timeout):
                await self.pool.close()
        except TimeoutError:
            self.pool.terminate()


async def apply_migrations(pool_or_conn: asyncpg.Pool | Conn) -> list[str]:
    """Apply pending migrations under an advisory lock, each in its own transaction."""
    applied: list[str] = []
    async with translated(), _connection(pool_or_conn) as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK)
        try:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS pliers_migrations ("
                " name text PRIMARY KEY, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {r["name"] for r in await conn.fetch("SELECT name FROM pliers_migrations")}
            for m in migrations.load("postgres"):
                if m.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(m.sql)
                    await conn.execute(
                        "INSERT INTO pliers_migrations (name, checksum) VALUES ($1, $2)",
                        m.name,
                        m.checksum,
                    )
                applied.append(m.name)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied


@asynccontextmanager
async def _connection(
    pool_or_conn: asyncpg.Pool | Conn,
) -> AsyncIterator[Conn]:
    if isinstance(pool_or_conn, asyncpg.Pool):
        async with pool_or_conn.acquire() as conn:
            yield conn
    else:
        yield pool_or_conn
