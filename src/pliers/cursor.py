"""Page cursors: opaque to clients, a kind letter and a position underneath.

The kind keeps a cursor from one listing out of another: an event-query cursor (``p``) handed to a
form listing (``r``) is refused like any cursor this server did not issue.
"""

from __future__ import annotations

import base64
import binascii

from pliers.errors import ValidationError

#: the largest position a cursor may carry: both stores keep positions in 64-bit integers
MAX_POSITION = 2**63 - 1


def encode(kind: str, position: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{position}".encode()).decode().rstrip("=")


def decode(kind: str, cursor: str, *, field: str = "cursor") -> int:
    """The position ``cursor`` stands for; a cursor this server did not issue is a 400."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        found, _, value = raw.partition(":")
        position = int(value)
        if found != kind or not 0 <= position <= MAX_POSITION:
            raise ValueError(cursor)
    except (ValueError, UnicodeDecodeError, binascii.Error) as e:
        raise ValidationError(
            "Query validation failed: cursor is not one this server issued",
            details=[{"field": field, "rule": "cursor", "message": "unknown cursor"}],
        ) from e
    return position
