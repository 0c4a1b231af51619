"""How SQLite errors become Pliers errors."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pliers.errors import PliersError, ServiceUnavailable, ValidationError
from pliers.storage.sql import broken_unique


def unavailable(e: sqlite3.OperationalError) -> ServiceUnavailable | None:
    """The outage an operational error stands for (locked, unreadable), or None for a bug."""
    text = str(e)
    if "locked" in text or "unable to open" in text or "disk I/O" in text:
        return ServiceUnavailable(f"the database is unavailable: {e}")
    return None


@asynccontextmanager
async def translated(what: str = "Event", field: str = "event") -> AsyncIterator[None]:
    """Re-raise SQLite's errors as Pliers errors; text it cannot encode is ``what``'s fault."""
    try:
        yield
    except PliersError:
        raise
    except UnicodeEncodeError as e:
        raise ValidationError(
            f"{what} validation failed: text contains an unpaired surrogate",
            details=[{"field": field, "rule": "text", "message": str(e)}],
        ) from e
    except sqlite3.IntegrityError as e:
        mapped = broken_unique(
            str(e),
            ids="events.id",
            sequences="events.aggregate_id, events.sequence_number",
            keys="submissions.idempotency_key",
        )
        if mapped is None:
            raise
        raise mapped from e
    except sqlite3.OperationalError as e:
        outage = unavailable(e)
        if outage is None:
            raise
        raise outage from e
