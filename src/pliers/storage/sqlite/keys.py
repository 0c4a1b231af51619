"""SQLite adapter of the key store.

SQLite has no signal between processes, so :meth:`SqliteKeyStore.watch` returns at once: a key
revoked by another process (``pliers keys revoke`` next to a running server) is refused once the
server's memory of it runs out (``PLIERS_KEY_CACHE_SECONDS``). Revoking through the server's own
API takes effect at once.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from pliers.events.model import format_time, parse_time
from pliers.keys.model import ApiKey
from pliers.keys.store import KeyWatch
from pliers.storage.sqlite.events import SqliteEventStore

_COLUMNS = "id, name, scopes, digest, created_at, expires_at, revoked_at"


def _key(row: sqlite3.Row) -> ApiKey:
    return ApiKey(
        id=row[0],
        name=row[1],
        scopes=tuple(json.loads(row[2])),
        digest=row[3],
        created_at=parse_time(row[4]),
        expires_at=parse_time(row[5]) if row[5] is not None else None,
        revoked_at=parse_time(row[6]) if row[6] is not None else None,
    )


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


class SqliteKeyStore:
    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store

    async def insert(self, key: ApiKey) -> None:
        async with self.store.transaction() as tx:
            await tx.connection.execute(
                f"INSERT INTO api_keys ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    key.id,
                    key.name,
                    json.dumps(list(key.scopes)),
                    key.digest,
                    format_time(key.created_at),
                    _time(key.expires_at),
                ),
            )

    async def get(self, key_id: str) -> ApiKey | None:
        rows = await self.store.fetch(f"SELECT {_COLUMNS} FROM api_keys WHERE id = ?", key_id)
        return _key(rows[0]) if rows else None

    async def list(self) -> list[ApiKey]:
        rows = await self.store.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id")
        return [_key(r) for r in rows]

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        async with (
            self.store.transaction() as tx,
            tx.connection.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?"
                f" RETURNING {_COLUMNS}",
                (format_time(at), key_id),
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return _key(row) if row is not None else None

    async def exists(self) -> bool:
        return bool(await self.store.fetch("SELECT 1 FROM api_keys LIMIT 1"))

    async def watch(self, watch: KeyWatch) -> None:
        """No signal between processes: see the module's docstring."""
