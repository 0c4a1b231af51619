"""Storage adapters, one package per backend (:mod:`.postgres`, :mod:`.sqlite`).

Each backend package has one factory that builds all of its adapters on shared connections, as an
:class:`Adapters`; :func:`open_backend` is the one place that picks a backend, from the URL. The
rest of Pliers receives adapters through their ports and never imports this package, except the
runtime and the CLI, which assemble it.
"""

from __future__ import annotations

from pliers.settings import DatabaseURL
from pliers.storage.adapters import Adapters


async def open_backend(
    url: str,
    *,
    migrate: bool = True,
    pool_min: int = 2,
    pool_max: int = 20,
    db_timeout: float | None = None,
    migrate_timeout: float | None = None,
) -> Adapters:
    """Connect to the database ``url`` names, applying migrations unless told not to.

    ``db_timeout`` bounds each use of a PostgreSQL connection and each wait for SQLite's write
    lock (``PLIERS_DB_TIMEOUT``); ``migrate_timeout`` bounds applying the migrations
    (``PLIERS_MIGRATE_TIMEOUT``, PostgreSQL).

    Raises :class:`pliers.errors.ConfigurationError` for a bad URL and
    :class:`pliers.errors.ServiceUnavailable` when the database cannot be reached.
    """
    target = DatabaseURL.parse(url)
    if target.backend == "postgres":
        from pliers.storage import postgres

        return await postgres.connect(
            url,
            min_size=pool_min,
            max_size=pool_max,
            migrate=migrate,
            db_timeout=db_timeout,
            migrate_timeout=migrate_timeout,
        )
    from pliers.storage import sqlite

    assert target.sqlite_path is not None  # parse sets it for every sqlite URL
    return await sqlite.connect(target.sqlite_path, migrate=migrate, lock_timeout=db_timeout)


__all__ = ["Adapters", "open_backend"]
