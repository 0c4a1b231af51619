"""PostgreSQL adapter of the form and submission read models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from pliers.events.store import Transaction
from pliers.forms.records import FormRecord, SubmissionRecord
from pliers.storage.postgres.append import Conn
from pliers.storage.postgres.errors import translated
from pliers.storage.postgres.events import PostgresEventStore
from pliers.storage.sql import FORM_COLUMNS, SUBMISSION_COLUMNS, SqlFormReads


def _values(form: FormRecord) -> tuple[Any, ...]:
    """``$1`` to ``$7`` of a form's INSERT and UPDATE."""
    return (
        form.id,
        form.name,
        form.description,
        form.body,
        form.version,
        form.status,
        form.event_sequence,
    )


_INSERT_SUBMISSIONS = """
INSERT INTO submissions (id, form_id, form_version, data, submitted_by, metadata, status,
                         created_at, idempotency_key)
SELECT r.id, r.form_id, r.form_version, r.data, r.submitted_by, r.metadata, r.status,
       r.created_at, r.idempotency_key
  FROM ROWS FROM (jsonb_to_recordset($1::jsonb)
                  AS (id text, form_id text, form_version integer, data jsonb,
                      submitted_by text, metadata jsonb, status text, created_at timestamptz,
                      idempotency_key text)) WITH ORDINALITY
       AS r(id, form_id, form_version, data, submitted_by, metadata, status, created_at,
            idempotency_key, ord)
 ORDER BY r.ord
"""


class PostgresFormRecords(SqlFormReads[PostgresEventStore]):
    @staticmethod
    def _form(row: asyncpg.Record) -> FormRecord:
        # the columns of FORM_COLUMNS and FORM_VERSIONS are its fields
        return FormRecord(**dict(row))

    @staticmethod
    def _submission(row: asyncpg.Record) -> SubmissionRecord:
        return SubmissionRecord(**dict(row))  # the columns of SUBMISSION_COLUMNS are its fields

    async def insert_form(self, tx: Transaction, form: FormRecord) -> None:
        sql = (
            "INSERT INTO forms (id, name, description, body, version, status, event_sequence,"
            " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        )
        await self._write(tx, form, sql, form.created_at, form.updated_at)

    async def update_form(self, tx: Transaction, form: FormRecord, *, new_version: bool) -> None:
        sql = (
            "UPDATE forms SET name = $2, description = $3, body = $4, version = $5,"
            " status = $6, event_sequence = $7, updated_at = $8 WHERE id = $1"
        )
        await self._write(tx, form, sql, form.updated_at, new_version=new_version)

    async def _write(
        self, tx: Transaction, form: FormRecord, sql: str, *times: Any, new_version: bool = True
    ) -> None:
        """Write ``form``'s row with ``sql`` ($1 to $7 from :func:`_values`, then ``times``), and
        its version when it is a new one."""
        conn: Conn = tx.connection
        async with translated():
            await conn.execute(sql, *_values(form), *times)
            if new_version:
                await self._insert_version(conn, form)

    async def _insert_version(self, conn: Conn, form: FormRecord) -> None:
        await conn.execute(
            "INSERT INTO form_versions (form_id, version, name, description, body, created_at)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            form.id,
            form.version,
            form.name,
            form.description,
            form.body,
            form.updated_at,
        )

    async def lock_form(
        self, tx: Transaction, form_id: str, *, exclusive: bool
    ) -> FormRecord | None:
        conn: Conn = tx.connection
        mode = "UPDATE" if exclusive else "SHARE"
        async with translated():
            row = await conn.fetchrow(
                f"SELECT {FORM_COLUMNS} FROM forms f WHERE f.id = $1 FOR {mode}", form_id
            )
        return None if row is None else self._form(row)

    async def lock_forms(self, tx: Transaction, form_ids: Sequence[str]) -> dict[str, FormRecord]:
        conn: Conn = tx.connection
        async with translated():
            rows = await conn.fetch(
                f"SELECT {FORM_COLUMNS} FROM forms f WHERE f.id = ANY($1::text[])"
                " ORDER BY f.id FOR SHARE",
                list(form_ids),
            )
        return {row["id"]: self._form(row) for row in rows}

    async def insert_submissions(
        self, tx: Transaction, submissions: Sequence[SubmissionRecord]
    ) -> None:
        conn: Conn = tx.connection
        async with translated():
            # one statement for the group, its rows as one JSON array, inserted in order (their
            # seq is the order they are listed and exported in)
            await conn.execute(
                _INSERT_SUBMISSIONS,
                [
                    {
                        "id": s.id,
                        "form_id": s.form_id,
                        "form_version": s.form_version,
                        "data": s.data,
                        "submitted_by": s.submitted_by,
                        "metadata": s.metadata,
                        "status": s.status,
                        "created_at": s.created_at,
                        "idempotency_key": s.idempotency_key,
                    }
                    for s in submissions
                ],
            )

    async def submissions_by_key(
        self, tx: Transaction, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SubmissionRecord]:
        conn: Conn = tx.connection
        async with translated():
            rows = await conn.fetch(
                f"SELECT {SUBMISSION_COLUMNS} FROM submissions"
                " WHERE (form_id, idempotency_key) IN"
                " (SELECT * FROM unnest($1::text[], $2::text[]))",
                [form_id for form_id, _ in keys],
                [key for _, key in keys],
            )
        return {(r["form_id"], r["idempotency_key"]): self._submission(r) for r in rows}
