"""SQLite adapter of the key store.

SQLite has no signal between processes, so :meth:`SqliteKeyStore.watch` returns at once: a key
revoked by another process (``pliers keys revoke`` next to a running server) is refused once the
server's memory of it runs out (``PLIERS_KEY_CACHE_SECONDS``). Revoking through the server's own
API takes effect at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pliers.events.model import format_time, parse_time
from pliers.keys.model import ApiKey
from pliers.keys.store import KeyWatch
from pliers.storage.sql import KEY_COLUMNS, SqlKeyReads
from pliers.storage.sqlite.events import SqliteEventStore
from pliers.storage.sqlite.rows import decoder

_key_row = decoder(
    ApiKey,
    KEY_COLUMNS,
    {
        "scopes": lambda text: tuple(json.loads(text)),
        "created_at": parse_time,
        "expires_at": parse_time,
        "revoked_at": parse_time,
    },
)


def _time(value: datetime | None) -> str | None:
    return format_time(value) if value is not None else None


class SqliteKeyStore(SqlKeyReads[SqliteEventStore]):
    @staticmethod
    def _key(row: Sequence[Any]) -> ApiKey:
        return _key_row(row)

    async def insert(self, key: ApiKey) -> None:
        async with self.store.transaction() as tx:
            await tx.connection.execute(
                f"INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    key.id,
                    key.name,
                    json.dumps(list(key.scopes)),
                    key.digest,
                    format_time(key.created_at),
                    _time(key.expires_at),
                ),
            )

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        async with (
            self.store.transaction() as tx,
            tx.connection.execute(
                "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?"
                f" RETURNING {KEY_COLUMNS}",
                (format_time(at), key_id),
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return self._key(row) if row is not None else None

    async def watch(self, watch: KeyWatch) -> None:
        """No signal between processes: see the module's docstring."""
