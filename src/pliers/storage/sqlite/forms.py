"""SQLite adapter of the form and submission read models.

Writes run on the store's writer connection inside its ``BEGIN IMMEDIATE`` transaction, which
already excludes every other writer, so ``lock_form`` and ``lock_forms`` are plain reads. Reads
use the store's reader connection, which in WAL mode sees only committed data.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import aiosqlite

from pliers.events.model import format_time, parse_time
from pliers.events.store import Transaction
from pliers.forms.records import FormRecord, FormStatus, SubmissionRecord
from pliers.storage.sqlite.errors import translated
from pliers.storage.sqlite.events import SqliteEventStore

_FORM = (
    "f.seq, f.id, f.name, f.description, f.body, f.version, f.status, f.event_sequence,"
    " f.created_at, f.updated_at"
)
#: Versions of the form ``?``, each as the form was at that version.
_VERSIONS = (
    "SELECT f.seq, f.id, v.name, v.description, v.body, v.version, f.status, f.event_sequence,"
    " f.created_at, v.created_at"
    " FROM forms f JOIN form_versions v ON v.form_id = f.id WHERE f.id = ?"
)
_SUBMISSION = (
    "seq, id, form_id, form_version, data, submitted_by, metadata, status, created_at,"
    " idempotency_key"
)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _translated() -> AbstractAsyncContextManager[None]:
    return translated("Submission", "body")


def _form(row: Sequence[Any]) -> FormRecord:
    return FormRecord(
        seq=row[0],
        id=row[1],
        name=row[2],
        description=row[3],
        body=json.loads(row[4]),
        version=row[5],
        status=row[6],
        event_sequence=row[7],
        created_at=parse_time(row[8]),
        updated_at=parse_time(row[9]),
    )


def _submission(row: Sequence[Any]) -> SubmissionRecord:
    return SubmissionRecord(
        seq=row[0],
        id=row[1],
        form_id=row[2],
        form_version=row[3],
        data=json.loads(row[4]),
        submitted_by=row[5],
        metadata=json.loads(row[6]),
        status=row[7],
        created_at=parse_time(row[8]),
        idempotency_key=row[9],
    )


def _values(form: FormRecord) -> tuple[Any, ...]:
    """``?1`` to ``?7`` of a form's INSERT and UPDATE."""
    return (
        form.id,
        form.name,
        form.description,
        _dumps(form.body),
        form.version,
        form.status,
        form.event_sequence,
    )


class SqliteFormRecords:
    def __init__(self, store: SqliteEventStore) -> None:
        self._store = store

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
                _dumps(form.body),
                format_time(form.updated_at),
            ),
        )

    async def lock_form(
        self, tx: Transaction, form_id: str, *, exclusive: bool
    ) -> FormRecord | None:
        conn: aiosqlite.Connection = tx.connection
        async with (
            _translated(),
            conn.execute(f"SELECT {_FORM} FROM forms f WHERE f.id = ?", (form_id,)) as cursor,
        ):
            row = await cursor.fetchone()
        return None if row is None else _form(row)

    async def lock_forms(self, tx: Transaction, form_ids: Sequence[str]) -> dict[str, FormRecord]:
        conn: aiosqlite.Connection = tx.connection
        marks = ",".join("?" * len(form_ids))
        async with (
            _translated(),
            conn.execute(
                f"SELECT {_FORM} FROM forms f WHERE f.id IN ({marks})", form_ids
            ) as cursor,
        ):
            rows = await cursor.fetchall()
        return {row[1]: _form(row) for row in rows}

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
                        _dumps(s.data),
                        s.submitted_by,
                        _dumps(s.metadata),
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
                    f"SELECT {_SUBMISSION} FROM submissions"
                    " WHERE form_id = ? AND idempotency_key = ?",
                    (form_id, key),
                ) as cursor:
                    row = await cursor.fetchone()
                if row is not None:
                    found[(form_id, key)] = _submission(row)
        return found

    async def _fetch(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        return await self._store.fetch(sql, *args)

    async def get_form(self, form_id: str, version: int | None = None) -> FormRecord | None:
        if version is None:
            rows = await self._fetch(f"SELECT {_FORM} FROM forms f WHERE f.id = ?", form_id)
        else:
            rows = await self._fetch(f"{_VERSIONS} AND v.version = ?", form_id, version)
        return _form(rows[0]) if rows else None

    async def form_generation(self, form_id: str) -> int | None:
        rows = await self._fetch("SELECT event_sequence FROM forms WHERE id = ?", form_id)
        return int(rows[0][0]) if rows else None

    async def form_versions(self, form_id: str) -> list[FormRecord]:
        return [_form(r) for r in await self._fetch(f"{_VERSIONS} ORDER BY v.version", form_id)]

    async def list_forms(
        self, *, after: int, limit: int, status: FormStatus | None = None
    ) -> list[FormRecord]:
        sql = f"SELECT {_FORM} FROM forms f WHERE f.seq > ?"
        args: list[Any] = [after]
        if status is not None:
            sql += " AND f.status = ?"
            args.append(status)
        rows = await self._fetch(f"{sql} ORDER BY f.seq LIMIT ?", *args, limit)
        return [_form(r) for r in rows]

    async def get_submission(self, submission_id: str) -> SubmissionRecord | None:
        rows = await self._fetch(
            f"SELECT {_SUBMISSION} FROM submissions WHERE id = ?", submission_id
        )
        return _submission(rows[0]) if rows else None

    async def list_submissions(
        self, *, form_id: str | None, after: int, limit: int, upto: int | None = None
    ) -> list[SubmissionRecord]:
        sql = f"SELECT {_SUBMISSION} FROM submissions WHERE seq > ?"
        args: list[Any] = [after]
        if form_id is not None:
            sql += " AND form_id = ?"
            args.append(form_id)
        if upto is not None:
            sql += " AND seq <= ?"
            args.append(upto)
        rows = await self._fetch(f"{sql} ORDER BY seq LIMIT ?", *args, limit)
        return [_submission(r) for r in rows]

    async def last_submission_seq(self, form_id: str) -> int:
        rows = await self._fetch(
            "SELECT coalesce(max(seq), 0) FROM submissions WHERE form_id = ?", form_id
        )
        return int(rows[0][0])
