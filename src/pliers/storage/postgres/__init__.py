"""PostgreSQL adapters, through an asyncpg pool; :func:`adapters` builds all of them."""

from __future__ import annotations

from pliers.storage.adapters import Adapters
from pliers.storage.postgres.events import (
    DEFAULT_MIGRATE_TIMEOUT,
    DEFAULT_TIMEOUT,
    PostgresEventStore,
    apply_migrations,
)
from pliers.storage.postgres.forms import PostgresFormRecords
from pliers.storage.postgres.keys import PostgresKeyStore
from pliers.storage.postgres.outbox import PostgresOutboxStore
from pliers.storage.postgres.ownership import PostgresOwnedAggregates


def adapters(store: PostgresEventStore) -> Adapters:
    """Every PostgreSQL adapter, sharing ``store``'s pool."""
    return Adapters(
        store=store,
        forms=PostgresFormRecords(store),
        outbox=PostgresOutboxStore(store),
        keys=PostgresKeyStore(store),
        owned=PostgresOwnedAggregates(store),
    )


async def connect(
    url: str,
    *,
    min_size: int = 2,
    max_size: int = 20,
    migrate: bool = True,
    db_timeout: float | None = None,
    migrate_timeout: float | None = None,
) -> Adapters:
    """Open a pool on ``url`` (migrating unless told not to) and build every adapter on it.

    ``db_timeout`` bounds every use of a pooled connection (see
    :meth:`PostgresEventStore.connection`)."""
    store = await PostgresEventStore.connect(
        url,
        min_size=min_size,
        max_size=max_size,
        migrate=migrate,
        db_timeout=db_timeout or DEFAULT_TIMEOUT,
        migrate_timeout=migrate_timeout or DEFAULT_MIGRATE_TIMEOUT,
    )
    return adapters(store)


__all__ = [
    "PostgresEventStore",
    "PostgresFormRecords",
    "PostgresKeyStore",
    "PostgresOutboxStore",
    "adapters",
    "apply_migrations",
    "connect",
]
