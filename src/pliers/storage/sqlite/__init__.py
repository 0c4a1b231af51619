"""SQLite adapters: the embedded default, one file, one process; :func:`adapters` builds all of
them."""

from __future__ import annotations

from pathlib import Path

from pliers.storage.adapters import Adapters
from pliers.storage.sqlite.events import DEFAULT_LOCK_TIMEOUT, SqliteEventStore
from pliers.storage.sqlite.forms import SqliteFormRecords
from pliers.storage.sqlite.keys import SqliteKeyStore
from pliers.storage.sqlite.outbox import SqliteOutboxStore
from pliers.storage.sqlite.ownership import SqliteOwnedAggregates


def adapters(store: SqliteEventStore) -> Adapters:
    """Every SQLite adapter, sharing ``store``'s writer and reader connections."""
    return Adapters(
        store=store,
        forms=SqliteFormRecords(store),
        outbox=SqliteOutboxStore(store),
        keys=SqliteKeyStore(store),
        owned=SqliteOwnedAggregates(store),
    )


async def connect(
    path: Path | str, *, migrate: bool = True, lock_timeout: float | None = None
) -> Adapters:
    """Open the database file at ``path`` (migrating unless told not to) with every adapter.

    A statement that finds the database locked by another connection (another process: a
    ``pliers migrate``, a backup, a ``pliers worker``) waits ``lock_timeout`` seconds at most; then
    it fails as "database is locked", which the request answers with 503.
    """
    store = await SqliteEventStore.connect(
        path, migrate=migrate, lock_timeout=lock_timeout or DEFAULT_LOCK_TIMEOUT
    )
    return adapters(store)


__all__ = [
    "SqliteEventStore",
    "SqliteFormRecords",
    "SqliteKeyStore",
    "SqliteOutboxStore",
    "adapters",
    "connect",
]
