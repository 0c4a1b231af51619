"""PostgreSQL adapter of the notification outbox.

Claims use ``FOR UPDATE SKIP LOCKED``, so any number of dispatchers share one queue without
handing the same row to two of them; the database clock decides what is due.

Queueing mail (and re-queueing it) sends a ``NOTIFY`` on :data:`CHANNEL` in the same transaction:
PostgreSQL delivers it on commit only, so a dispatcher in any process that ``LISTEN``s wakes when
there is committed mail to claim, and never for mail that was rolled back.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg

from pliers.events.store import Transaction
from pliers.notifications.outbox import NewNotification, Notification
from pliers.storage.postgres.errors import translated
from pliers.storage.postgres.events import PostgresEventStore
from pliers.storage.postgres.listen import listen_forever
from pliers.storage.sql import NOTIFICATION_COLUMNS, SqlOutboxReads, fields

log = logging.getLogger(__name__)

#: The channel a commit that queued mail notifies; the payload is the number of rows queued.
CHANNEL = "pliers_outbox"
_ENQUEUE = f"""
WITH queued AS (
    INSERT INTO notifications (id, submission_id, form_id, channel, recipients, subject, body, html)
    SELECT v.id, v.submission_id, v.form_id, v.channel, v.recipients::jsonb, v.subject, v.body,
           v.html
      FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                  $7::text[], $8::boolean[])
           AS v(id, submission_id, form_id, channel, recipients, subject, body, html)
    RETURNING 1
)
SELECT pg_notify('{CHANNEL}', count(*)::text) FROM queued
"""

_FIELDS = fields(NOTIFICATION_COLUMNS)


async def _settle(
    tx: Transaction, notification_id: str, attempts: int, assignments: str, *values: Any
) -> bool:
    """Apply ``assignments`` ($3 on) to the row if this claim still holds it: ``sending``, at
    ``attempts``. False when a later claim took it over."""
    conn: asyncpg.Connection = tx.connection
    status = await conn.execute(
        f"UPDATE notifications SET {assignments}, locked_until = NULL, updated_at = now()"
        " WHERE id = $1 AND status = 'sending' AND attempts = $2",
        notification_id,
        attempts,
        *values,
    )
    return bool(status == "UPDATE 1")


class PostgresOutboxStore(SqlOutboxReads[PostgresEventStore]):
    @staticmethod
    def _notification(row: asyncpg.Record) -> Notification:
        # the columns of NOTIFICATION_COLUMNS are its fields (a row may carry more, such as
        # pg_notify's)
        values = {field: row[field] for field in _FIELDS}
        return Notification(**{**values, "recipients": list(row["recipients"])})

    async def enqueue(self, tx: Transaction, notifications: Sequence[NewNotification]) -> None:
        conn: asyncpg.Connection = tx.connection
        await conn.execute(
            _ENQUEUE,
            [n.id for n in notifications],
            [n.submission_id for n in notifications],
            [n.form_id for n in notifications],
            [n.channel for n in notifications],
            # as JSON text: asyncpg would take a list inside an array for one more dimension
            [json.dumps(n.recipients) for n in notifications],
            [n.subject for n in notifications],
            [n.body for n in notifications],
            [n.html for n in notifications],
        )

    async def watch(self, wake: Callable[[], None]) -> None:
        """Call ``wake`` whenever any process commits queued mail, until cancelled.

        Listens on a connection of its own (see :mod:`pliers.storage.postgres.listen`), and
        wakes once each time the listening starts again: mail committed in between is due by then.
        """
        if self.store.url is None:
            return  # a store built on a pool alone: the dispatcher's poll finds the mail
        await listen_forever(
            self.store.url,
            CHANNEL,
            notice=wake,
            listening=wake,
            call_timeout=self.store.timeout,
            what="queued mail",
        )

    async def claim(self, limit: int, lease_seconds: float) -> list[Notification]:
        async with self.store.connection() as conn, translated():
            rows = await conn.fetch(
                f"""
                WITH due AS (
                    SELECT id FROM notifications
                     WHERE status IN ('queued', 'sending') AND next_attempt_at <= now()
                     ORDER BY next_attempt_at
                     LIMIT $1
                     FOR UPDATE SKIP LOCKED
                )
                UPDATE notifications AS n
                   SET status = 'sending',
                       attempts = n.attempts + 1,
                       locked_until = now() + make_interval(secs => $2),
                       next_attempt_at = now() + make_interval(secs => $2),
                       updated_at = now()
                  FROM due
                 WHERE n.id = due.id
                RETURNING {", ".join("n." + field for field in _FIELDS)}
                """,
                limit,
                float(lease_seconds),
            )
        return sorted((self._notification(r) for r in rows), key=lambda n: n.created_at)

    async def mark_sent(
        self, tx: Transaction, notification_id: str, attempts: int, message_id: str | None
    ) -> bool:
        sent = "status = 'sent', provider_message_id = $3, last_error = NULL"
        return await _settle(tx, notification_id, attempts, sent, message_id)

    async def reschedule(
        self,
        tx: Transaction,
        notification_id: str,
        attempts: int,
        delay_seconds: float,
        error: str,
    ) -> bool:
        queued = (
            "status = 'queued', last_error = $3,"
            " next_attempt_at = now() + make_interval(secs => $4)"
        )
        return await _settle(tx, notification_id, attempts, queued, error, float(delay_seconds))

    async def mark_failed(
        self, tx: Transaction, notification_id: str, attempts: int, error: str
    ) -> bool:
        failed = "status = 'failed', last_error = $3"
        return await _settle(tx, notification_id, attempts, failed, error)

    async def requeue(self, tx: Transaction, notification_id: str) -> Notification | None:
        conn: asyncpg.Connection = tx.connection
        row = await conn.fetchrow(
            "WITH requeued AS (UPDATE notifications SET status = 'queued', attempts = 0,"
            " next_attempt_at = now(), locked_until = NULL, updated_at = now()"
            f" WHERE id = $1 AND status = 'failed' RETURNING {NOTIFICATION_COLUMNS})"
            f" SELECT requeued.*, pg_notify('{CHANNEL}', '1') FROM requeued",
            notification_id,
        )
        return self._notification(row) if row is not None else None

    async def get(self, notification_id: str, tx: Transaction | None = None) -> Notification | None:
        sql = f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE id = $1"
        if tx is not None:
            conn: asyncpg.Connection = tx.connection
            row = await conn.fetchrow(sql + " FOR UPDATE", notification_id)
        else:
            async with self.store.connection() as own, translated():
                row = await own.fetchrow(sql, notification_id)
        return self._notification(row) if row is not None else None

    async def depth(self) -> dict[str, int]:
        async with self.store.connection() as conn, translated():
            rows = await conn.fetch(
                "SELECT status, count(*) AS n FROM notifications GROUP BY status", timeout=5
            )
        return {r["status"]: r["n"] for r in rows}
