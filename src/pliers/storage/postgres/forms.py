"""PostgreSQL adapter of the form and submission read models."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from pliers.events.store import Transaction
from pliers.forms.records import FormRecord, FormStatus, SubmissionRecord
from pliers.storage.postgres.append import Conn
from pliers.storage.postgres.errors import translated
from pliers.storage.postgres.events import PostgresEventStore

_FORM = (
    "f.seq, f.id, f.name, f.description, f.body, f.version, f.status, f.event_sequence,"
    " f.created_at, f.updated_at"
)
#: Versions of the form ``$1``, each as the form was at that version.
_VERSIONS = (
    "SELECT f.seq, f.id, v.name, v.description, v.body, v.version, f.status, f.event_sequence,"
    " f.created_at, v.created_at AS updated_at"
    " FROM forms f JOIN form_versions v ON v.form_id = f.id WHERE f.id = $1"
)
_SUBMISSION = (
    "seq, id, form_id, form_version, data, submitted_by, metadata, status, created_at,"
    " idempotency_key"
)


def _form(row: asyncpg.Record) -> FormRecord:
    return FormRecord(**dict(row))  # the columns of _FORM and _VERSIONS are its fields


def _submission(row: asyncpg.Record) -> SubmissionRecord:
    return SubmissionRecord(**dict(row))  # the columns of _SUBMISSION are its fields


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


class PostgresFormRecords:
    def __init__(self, store: PostgresEventStore) -> None:
        self._store = store

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
                f"SELECT {_FORM} FROM forms f WHERE f.id = $1 FOR {mode}", form_id
            )
        return None if row is None else _form(row)

    async def lock_forms(self, tx: Transaction, form_ids: Sequence[str]) -> dict[str, FormRecord]:
        conn: Conn = tx.connection
        async with translated():
            rows = await conn.fetch(
                f"SELECT {_FORM} FROM forms f WHERE f.id = ANY($1::text[]) ORDER BY f.id FOR SHARE",
                list(form_ids),
            )
        return {row["id"]: _form(row) for row in rows}

    async def insert_submissions(
        self, tx: Transaction, submissions: Sequence[SubmissionRecord]
    ) -> None:
        conn: Conn = tx.connection
        async with translated():
            await conn.executemany(
                "INSERT INTO submissions (id, form_id, form_version, data, submitted_by, metadata,"
                " status, created_at, idempotency_key) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [
                    (
                        s.id,
                        s.form_id,
                        s.form_version,
                        s.data,
                        s.submitted_by,
                        s.metadata,
                        s.status,
                        s.created_at,
                        s.idempotency_key,
                    )
                    for s in submissions
                ],
            )

    async def submissions_by_key(
        self, tx: Transaction, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], SubmissionRecord]:
        conn: Conn = tx.connection
        async with translated():
            rows = await conn.fetch(
                f"SELECT {_SUBMISSION} FROM submissions"
                " WHERE (form_id, idempotency_key) IN"
                " (SELECT * FROM unnest($1::text[], $2::text[]))",
                [form_id for form_id, _ in keys],
                [key for _, key in keys],
            )
        return {(r["form_id"], r["idempotency_key"]): _submission(r) for r in rows}

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._store.fetch(sql, *args)

    async def get_form(self, form_id: str, version: int | None = None) -> FormRecord | None:
        if version is None:
            rows = await self._fetch(f"SELECT {_FORM} FROM forms f WHERE f.id = $1", form_id)
        else:
            rows = await self._fetch(f"{_VERSIONS} AND v.version = $2", form_id, version)
        return _form(rows[0]) if rows else None

    async def form_generation(self, form_id: str) -> int | None:
        rows = await self._fetch("SELECT event_sequence FROM forms WHERE id = $1", form_id)
        return int(rows[0][0]) if rows else None

    async def form_versions(self, form_id: str) -> list[FormRecord]:
        return [_form(r) for r in await self._fetch(f"{_VERSIONS} ORDER BY v.version", form_id)]

    async def list_forms(
        self, *, after: int, limit: int, status: FormStatus | None = None
    ) -> list[FormRecord]:
        if status is None:
            rows = await self._fetch(
                f"SELECT {_FORM} FROM forms f WHERE f.seq > $1 ORDER BY f.seq LIMIT $2",
                after,
                limit,
            )
        else:
            rows = await self._fetch(
                f"SELECT {_FORM} FROM forms f WHERE f.seq > $1 AND f.status = $3"
                " ORDER BY f.seq LIMIT $2",
                after,
                limit,
                status,
            )
        return [_form(r) for r in rows]

    async def get_submission(self, submission_id: str) -> SubmissionRecord | None:
        rows = await self._fetch(
            f"SELECT {_SUBMISSION} FROM submissions WHERE id = $1", submission_id
        )
        return _submission(rows[0]) if rows else None

    async def list_submissions(
        self, *, form_id: str | None, after: int, limit: int, upto: int | None = None
    ) -> list[SubmissionRecord]:
        where = ["seq > $1"]
        args: list[Any] = [after, limit]
        if form_id is not None:
            args.append(form_id)
            where.append(f"form_id = ${len(args)}")
        if upto is not None:
            args.append(upto)
            where.append(f"seq <= ${len(args)}")
        rows = await self._fetch(
            f"SELECT {_SUBMISSION} FROM submissions WHERE {' AND '.join(where)}"
            " ORDER BY seq LIMIT $2",
            *args,
        )
        return [_submission(r) for r in rows]

    async def last_submission_seq(self, form_id: str) -> int:
        rows = await self._fetch(
            "SELECT coalesce(max(seq), 0) FROM submissions WHERE form_id = $1", form_id
        )
        return int(rows[0][0])
