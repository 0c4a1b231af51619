"""How PostgreSQL and asyncpg errors become Pliers errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

from pliers.errors import (
    DuplicateEvent,
    PliersError,
    SequenceConflict,
    ServiceUnavailable,
    ValidationError,
)
from pliers.storage.sql import broken_unique

#: Errors that mean the server is gone or refusing us, not that the request was wrong.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,  # class 08: the connection is gone
    asyncpg.exceptions.OperatorInterventionError,  # class 57: shutdown, cannot connect now
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
    # raised by a pooled connection whose server ended it while it sat idle
    asyncpg.InternalClientError,
)


_UNSTORABLE_STATES = {"22P05", "22021", "22P02"}


def from_state(state: str | None, message: str, detail: str | None) -> PliersError | None:
    """The Pliers error a PostgreSQL error (by SQLSTATE) stands for, or None when it is a bug."""
    if state == "PL409":
        return SequenceConflict(message, details=json.loads(detail) if detail else None)
    if state == "PL410":
        return DuplicateEvent(message)
    if state == "23505":
        return broken_unique(
            message,
            ids="events_id_key",
            sequences="events_aggregate_sequence_key",
            keys="submissions_idempotency_idx",
        )
    if state in _UNSTORABLE_STATES:
        return ValidationError(
            "Event validation failed: text contains characters the store cannot hold",
            details=[{"field": "event", "rule": "text", "message": message}],
        )
    return None


def translate(e: BaseException) -> PliersError | None:
    """The Pliers error a driver error stands for, or None when it is a bug."""
    if isinstance(e, UNAVAILABLE):  # first: some of these are PostgresErrors too
        return ServiceUnavailable("the database is unreachable")
    if isinstance(e, UnicodeEncodeError):
        return from_state("22021", str(e), None)
    if isinstance(e, asyncpg.PostgresError):
        message = getattr(e, "message", None) or str(e)
        if isinstance(e, asyncpg.UniqueViolationError) and e.constraint_name:
            message = f"{message} ({e.constraint_name})"
        return from_state(getattr(e, "sqlstate", None), message, getattr(e, "detail", None))
    return None


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    try:
        yield
    except PliersError:
        raise
    except Exception as e:
        mapped = translate(e)
        if mapped is None:
            raise
        raise mapped from e
