"""The access lines a request leaves, as the JSON log format writes them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pliers.logs import JsonFormatter


async def access_lines(request: Callable[[], Awaitable[object]]) -> list[dict[str, Any]]:
    """Run ``request`` and return the access lines written meanwhile (the logger at INFO for
    the while, whatever an earlier test configured)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    access = logging.getLogger("pliers.access")
    level = access.level
    access.setLevel(logging.INFO)
    access.addHandler(handler)
    try:
        await request()
    finally:
        access.removeHandler(handler)
        access.setLevel(level)
    return [json.loads(text) for text in out.getvalue().splitlines()]
