"""What both stores can hold: the one check every JSON value passes before it is stored."""

from __future__ import annotations

import math
from typing import Any


def storable(value: Any) -> str | None:
    """Why ``value`` (a decoded JSON document) cannot be stored, or ``None`` when it can.

    Neither store holds NUL characters or unpaired surrogates in text, nor non-finite numbers.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            reason = storable_text(item)
            if reason is not None:
                return reason
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "numbers must be finite"
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return None


def storable_text(text: str) -> str | None:
    """:func:`storable` for a value known to be text."""
    if "\x00" in text:
        return "text contains a NUL character"
    if text.isascii():  # known without a scan; ASCII has no surrogates
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "text contains an unpaired surrogate"
    return None
