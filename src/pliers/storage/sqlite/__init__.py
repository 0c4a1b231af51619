"""SQLite adapters: the embedded default, one file, one process; :func:`adapters` builds all of
them."""

from __future__ import annotations

from pathlib import Path

from pliers.storage.adapters import Adapters
from pliers.storage.sqlite.events import SqliteEventStore
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


async def connect(path: Path | str, *, migrate: bool = True) -> Adapters:
    """Open the database file at ``path`` (migrating unless told not to) with every adapter."""
    return adapters(await SqliteEventStore.connect(path, migrate=migrate))


__all__ = [
    "SqliteEventStore",
    "SqliteFormRecords",
    "SqliteKeyStore",
    "SqliteOutboxStore",
    "adapters",
    "connect",
]
