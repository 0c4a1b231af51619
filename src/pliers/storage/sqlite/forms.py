"""SQLite adapter of the form and submission read models.

Writes run on the store's writer connection inside its ``BEGIN IMMEDIATE`` transaction, which
already excludes every other writer, so ``lock_form`` and ``lock_forms`` are plain reads. Reads
use the store's reader connection, which in WAL mode sees only committed data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiosqlite

from pliers.events.model import format_time, parse_time
from pliers.events.store import Transaction
from pliers.forms.records import FormRecord, SubmissionRecord
from pliers.storage.sql import FORM_COLUMNS, SUBMISSION_COLUMNS, SqlFormReads
from pliers.storage.sqlite.errors import translated
from pliers.storage.sqlite.events import SqliteEventStore
from pliers.storage.sqlite.rows import decoder, dumps


def _translated() -> AbstractAsyncContextManager[None]:
    return translated("Submission", "body")


_form_row = decoder(
    FormRecord,
    FORM_COLUMNS,
    {"body": json.loads, "created_at": parse_time, "updated_at": parse_time},
)
_submission_row = decoder(
    SubmissionRecord,
    SUBMISSION_COLUMNS,
    {"data": json.loads, "metadata": json.loads, "created_at": parse_time},
)


def _values(form: FormRecord) -> tuple[Any, ...]:
    """``?1`` to ``?7`` of a form's INSERT and UPDATE."""
    return (
        form.id,
        form.name,
        form.description,
        dumps(form.body),
        form.version,
        form.status,
        form.event_sequence,
    )


class SqliteFormRecords(SqlFormReads[SqliteEventStore]):
    @staticmethod
    def _form(row: Sequence[Any]) -> FormRecord:
        return _form_row(row)

    @staticmethod
    def _submission(row: Sequence[Any]) -> SubmissionRecord:
        return _submission_row(row)

    async def insert_form(self, tx: Transaction, form: FormRecord) -> None:
        conn: aiosqlite.Connection = tx.connection
        async with _translated():
            await conn.execute(
                "INSERT INTO forms (id, name, description, body, version, status, event_sequence,"
                " created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                (*_values(form), format_time(form.created_at), format_time(form.updated_at)),
            )
            await self._insert_version(conn, form)

    async def update_form(self, tx: Transaction, form: FormRecord, *, new_version: bool) -> None:
        conn: aiosqlite.Connection = tx.connection
        async with _translated():
            await conn.execute(
                "UPDATE forms SET name = ?2, description = ?3, body = ?4, version = ?5,"
                " status = ?6, event_sequence = ?7, updated_at = ?8 WHERE id = ?1",
                (*_values(form), format_time(form.updated_at)),
            )
            if new_version:
                await self._insert_version(conn, form)

    async def _insert_version(self, conn: aiosqlite.Connection, form: FormRecord) -> None:
        await conn.execute(
            "INSERT INTO form_versions (form_id, version, name, description, body, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                form.id,
                form.version,
                form.name,
                form.description,
                dumps(form.body),
                format_time(form.updated_at),
            ),
        )

    async def lock_form(
        self, tx: Transaction, form_id: str, *, exclusive: bool
    ) -> FormRecord | None:
        conn: aiosqlite.Connection = tx.connection
        async with (
            _translated(),
            conn.execute(
                f"SELECT {FORM_COLUMNS} FROM forms f WHERE f.id = ?", (form_id,)
            ) as cursor,
        ):
            row = await cursor.fetchone()
        return None if row is None else self._form(row)

    async def lock_forms(self, tx: Transaction, form_ids: Sequence[str]) -> dict[str, FormRecord]:
        conn: aiosqlite.Connection = tx.connection
        marks = ",".join("?" * len(form_ids))
        async with (
            _translated(),
            conn.execute(
                f"SELECT {FORM_COLUMNS} FROM forms f WHERE f.id IN ({marks})", form_ids
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return {row[1]: self._form(row) for row in rows}

    async def insert_submissions(
        self, tx: Transaction, submissions: Sequence[SubmissionRecord]
    ) -> None:
        conn: aiosqlite.Connection = tx.connection
        async with _translated():
            await conn.executemany(
                "INSERT INTO submissions (id, form_id, form_version, data, submitted_by, metadata,"
                " status, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        s.id,
                        s.form_id,
                        s.form_version,
                        dumps(s.data),
                        s.submitted_by,
                        dumps(s.metadata),
                        s.status,
                        format_time(s.created_at),
                        s.idempotency_key,
                    )
                    for s in submissions
                ],
            )

    async def submissions_by_key(
        self, tx: Transaction, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SubmissionRecord]:
        conn: aiosqlite.Connection = tx.connection
        found: dict[tuple[str, str], SubmissionRecord] = {}
        async with _translated():
            for form_id, key in keys:  # an embedded database: a query per key costs no round trip
                async with conn.execute(
                    f"SELECT {SUBMISSION_COLUMNS} FROM submissions"
                    " WHERE form_id = ? AND idempotency_key = ?",
                    (form_id, key),
                ) as cursor:
                    row = await cursor.fetchone()
                if row is not None:
                    found[(form_id, key)] = self._submission(row)
        return found
