"""A cache in this process's memory: for a single process, and for tests."""

from __future__ import annotations

import json
import time
from typing import Any

from pliers.cache import NAMESPACE

#: Entries kept at most; the oldest are evicted first.
MAX_ENTRIES = 10_000


class MemoryCache:
    def __init__(self, *, max_entries: int = MAX_ENTRIES) -> None:
        # values are kept as JSON text so callers get a fresh copy, as from Redis
        self._entries: dict[str, tuple[str, float | None]] = {}
        self._max = max_entries

    async def get(self, key: str) -> Any | None:
        entry = self._entries.get(NAMESPACE + key)
        if entry is None:
            return None
        raw, expires = entry
        if expires is not None and time.monotonic() >= expires:
            del self._entries[NAMESPACE + key]
            return None
        return json.loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        full = NAMESPACE + key
        self._entries.pop(full, None)
        while len(self._entries) >= self._max:
            del self._entries[next(iter(self._entries))]
        expires = None if ttl is None else time.monotonic() + ttl
        self._entries[full] = (json.dumps(value, separators=(",", ":")), expires)

    async def delete(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(NAMESPACE + key, None)

    async def delete_prefix(self, prefix: str) -> None:
        full = NAMESPACE + prefix
        for key in [k for k in self._entries if k.startswith(full)]:
            del self._entries[key]

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        self._entries.clear()
