"""SQLite adapter of the notification outbox.

A claim is one ``BEGIN IMMEDIATE`` transaction (the store's write transaction), so dispatchers in
other processes sharing the file wait for it instead of claiming the same rows. Reads use the
store's read connection, which sees only committed data.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosqlite

from pliers.events.model import format_time, parse_time
from pliers.events.store import Transaction
from pliers.notifications.outbox import NewNotification, Notification
from pliers.storage.sql import NOTIFICATION_COLUMNS, SqlOutboxReads
from pliers.storage.sqlite.events import SqliteEventStore
from pliers.storage.sqlite.rows import decoder

_DUE = "status IN ('queued', 'sending') AND next_attempt_at <= ?"


_notification_row = decoder(
    Notification,
    NOTIFICATION_COLUMNS,
    {
        "recipients": json.loads,
        "html": bool,
        "next_attempt_at": parse_time,
        "created_at": parse_time,
        "updated_at": parse_time,
    },
)


def _now(delay_seconds: float = 0.0) -> str:
    return format_time(datetime.now(UTC) + timedelta(seconds=delay_seconds))


async def _settle(
    tx: Transaction, notification_id: str, attempts: int, assignments: str, *values: Any
) -> bool:
    """Apply ``assignments`` to the row if this claim still holds it: ``sending``, at
    ``attempts``. False when a later claim took it over."""
    conn: aiosqlite.Connection = tx.connection
    async with conn.execute(
        f"UPDATE notifications SET {assignments}, locked_until = NULL, updated_at = ?"
        " WHERE id = ? AND status = 'sending' AND attempts = ?",
        (*values, _now(), notification_id, attempts),
    ) as cursor:
        return cursor.rowcount == 1


class SqliteOutboxStore(SqlOutboxReads[SqliteEventStore]):
    @staticmethod
    def _notification(row: Sequence[Any]) -> Notification:
        return _notification_row(row)

    async def enqueue(self, tx: Transaction, notifications: Sequence[NewNotification]) -> None:
        conn: aiosqlite.Connection = tx.connection
        now = _now()
        await conn.executemany(
            "INSERT INTO notifications (id, submission_id, form_id, channel, recipients, subject,"
            " body, html, next_attempt_at, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    n.id,
                    n.submission_id,
                    n.form_id,
                    n.channel,
                    json.dumps(n.recipients),
                    n.subject,
                    n.body,
                    int(n.html),
                    now,
                    now,
                    now,
                )
                for n in notifications
            ],
        )

    async def watch(self, wake: Callable[[], None]) -> None:
        """SQLite has no cross-process signal: a dispatcher in another process polls."""

    async def claim(self, limit: int, lease_seconds: float) -> list[Notification]:
        now = _now()
        lease = _now(lease_seconds)
        # Look on the read connection first, so an idle poll never takes the file's write lock.
        if not await self.store.fetch(f"SELECT 1 FROM notifications WHERE {_DUE} LIMIT 1", now):
            return []
        async with self.store.transaction() as tx:
            conn: aiosqlite.Connection = tx.connection
            async with conn.execute(
                f"SELECT id FROM notifications WHERE {_DUE} ORDER BY next_attempt_at LIMIT ?",
                (now, limit),
            ) as cursor:
                ids = [r[0] for r in await cursor.fetchall()]
            if not ids:
                return []
            async with conn.execute(
                "UPDATE notifications SET status = 'sending', attempts = attempts + 1,"
                " locked_until = ?, next_attempt_at = ?, updated_at = ?"
                f" WHERE id IN ({','.join('?' * len(ids))}) RETURNING {NOTIFICATION_COLUMNS}",
                (lease, lease, now, *ids),
            ) as cursor:
                rows = await cursor.fetchall()
        return sorted((self._notification(r) for r in rows), key=lambda n: n.created_at)

    async def mark_sent(
        self,
        tx: Transaction,
        notification_id: str,
        attempts: int,
        message_id: str | None,
    ) -> bool:
        sent = "status = 'sent', provider_message_id = ?, last_error = NULL"
        return await _settle(tx, notification_id, attempts, sent, message_id)

    async def reschedule(
        self,
        tx: Transaction,
        notification_id: str,
        attempts: int,
        delay_seconds: float,
        error: str,
    ) -> bool:
        queued = "status = 'queued', last_error = ?, next_attempt_at = ?"
        return await _settle(tx, notification_id, attempts, queued, error, _now(delay_seconds))

    async def mark_failed(
        self, tx: Transaction, notification_id: str, attempts: int, error: str
    ) -> bool:
        failed = "status = 'failed', last_error = ?"
        return await _settle(tx, notification_id, attempts, failed, error)

    async def requeue(self, tx: Transaction, notification_id: str) -> Notification | None:
        conn: aiosqlite.Connection = tx.connection
        now = _now()
        async with conn.execute(
            "UPDATE notifications SET status = 'queued', attempts = 0, next_attempt_at = ?,"
            " locked_until = NULL, updated_at = ?"
            f" WHERE id = ? AND status = 'failed' RETURNING {NOTIFICATION_COLUMNS}",
            (now, now, notification_id),
        ) as cursor:
            row = await cursor.fetchone()
        return self._notification(row) if row is not None else None

    async def get(self, notification_id: str, tx: Transaction | None = None) -> Notification | None:
        sql = f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = ?"
        if tx is not None:
            conn: aiosqlite.Connection = tx.connection
            async with conn.execute(sql, (notification_id,)) as cursor:
                row = await cursor.fetchone()
            return self._notification(row) if row is not None else None
        rows = await self.store.fetch(sql, notification_id)
        return self._notification(rows[0]) if rows else None

    async def depth(self) -> dict[str, int]:
        rows = await self.store.fetch("SELECT status, count(*) FROM notifications GROUP BY status")
        return {str(r[0]): int(r[1]) for r in rows}
