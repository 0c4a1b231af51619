"""What a key may do: one scope per engine and direction, and one to manage keys."""

from __future__ import annotations

from typing import Literal, get_args

Scope = Literal[
    "events:read",
    "events:write",
    "forms:read",
    "forms:write",
    "submissions:read",
    "submissions:write",
    "notifications:read",
    "notifications:write",
    "keys:manage",
    "metrics:read",
]
SCOPES: tuple[Scope, ...] = get_args(Scope)
ALL_SCOPES: frozenset[str] = frozenset(SCOPES)
