"""PostgreSQL adapter of the key store.

Creating and revoking a key sends a ``NOTIFY`` on :data:`CHANNEL` in the same statement; PostgreSQL
delivers it on commit, to every process that ``LISTEN``s (:meth:`PostgresKeyStore.watch`), so a
key revoked by any server process or by ``pliers keys revoke`` is refused by all of them at once.
"""

from __future__ import annotations

import logging
from datetime import datetime

import asyncpg

from pliers.keys.model import ApiKey
from pliers.keys.store import KeyWatch
from pliers.storage.postgres.errors import translated
from pliers.storage.postgres.events import PostgresEventStore
from pliers.storage.postgres.listen import listen_forever
from pliers.storage.sql import KEY_COLUMNS, SqlKeyReads, fields

log = logging.getLogger(__name__)

CHANNEL = "pliers_keys"
_FIELDS = fields(KEY_COLUMNS)


class PostgresKeyStore(SqlKeyReads[PostgresEventStore]):
    @staticmethod
    def _key(row: asyncpg.Record) -> ApiKey:
        # the columns of KEY_COLUMNS are its fields (a row may carry more, such as pg_notify's)
        return ApiKey(**{**{f: row[f] for f in _FIELDS}, "scopes": tuple(row["scopes"])})

    async def insert(self, key: ApiKey) -> None:
        async with self.store.connection() as conn, translated():
            await conn.execute(
                f"""
                WITH created AS (
                    INSERT INTO api_keys (id, name, scopes, digest, created_at, expires_at)
                    VALUES ($1, $2, $3, $4, $5, $6) RETURNING id
                )
                SELECT pg_notify('{CHANNEL}', id) FROM created
                """,
                key.id,
                key.name,
                list(key.scopes),
                key.digest,
                key.created_at,
                key.expires_at,
            )

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        async with self.store.connection() as conn, translated():
            row = await conn.fetchrow(
                f"""
                WITH revoked AS (
                    UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2)
                     WHERE id = $1 RETURNING {KEY_COLUMNS}
                )
                SELECT revoked.*, pg_notify('{CHANNEL}', revoked.id) FROM revoked
                """,
                key_id,
                at,
            )
        return self._key(row) if row is not None else None

    async def watch(self, watch: KeyWatch) -> None:
        """Tell ``watch`` of every key created or revoked by any process, until cancelled
        (on a connection of its own: see :mod:`pliers.storage.postgres.listen`)."""
        if self.store.url is None:
            return  # a store built on a pool alone: remembered keys expire after a while
        await listen_forever(
            self.store.url,
            CHANNEL,
            notice=watch.changed,
            listening=watch.listening,
            lost=watch.lost,
            call_timeout=self.store.timeout,
            what="key changes",
        )
