"""Storage adapters of the event store; :func:`open_store` picks one from the settings."""

from __future__ import annotations

from pliers.events.store import EventStore
from pliers.settings import DatabaseURL


async def open_store(
    url: str, *, migrate: bool = True, pool_min: int = 2, pool_max: int = 20
) -> EventStore:
    """Connect to the store ``url`` names, applying migrations unless told not to.

    Raises :class:`pliers.errors.ConfigurationError` for a bad URL and
    :class:`pliers.errors.ServiceUnavailable` when the database cannot be reached.
    """
    target = DatabaseURL.parse(url)
    if target.backend == "postgres":
        from pliers.storage.postgres.events import PostgresEventStore

        return await PostgresEventStore.connect(
            url, min_size=pool_min, max_size=pool_max, migrate=migrate
        )
    from pliers.storage.sqlite.events import SqliteEventStore

    assert target.sqlite_path is not None
    return await SqliteEventStore.connect(target.sqlite_path, migrate=migrate)


__all__ = ["open_store"]
