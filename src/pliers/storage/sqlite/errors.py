"""How SQLite errors become Pliers errors."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pliers.errors import (
    DuplicateEvent,
    PliersError,
    SequenceConflict,
    ServiceUnavailable,
    ValidationError,
)


def unavailable(e: sqlite3.OperationalError) -> ServiceUnavailable | None:
    """The outage an operational error stands for (locked, unreadable), or None for a bug."""
    text = str(e)
    if "locked" in text or "unable to open" in text or "disk I/O" in text:
        return ServiceUnavailable(f"the database is unavailable: {e}")
    return None


@asynccontextmanager
async def translated() -> AsyncIterator[None]:
    try:
        yield
    except PliersError:
        raise
    except UnicodeEncodeError as e:
        raise ValidationError(
            "Event validation failed: text contains characters the store cannot hold "
            "(an unpaired surrogate)",
            details=[{"field": "event", "rule": "text", "message": str(e)}],
        ) from e
    except sqlite3.IntegrityError as e:
        text = str(e)
        if "events.aggregate_id, events.sequence_number" in text:
            raise SequenceConflict(
                "sequence conflict: two events of the request claim the same sequence number"
            ) from e
        if "events.id" in text:
            raise DuplicateEvent("an event id in the request is already stored") from e
        raise
    except sqlite3.OperationalError as e:
        outage = unavailable(e)
        if outage is None:
            raise
        raise outage from e
