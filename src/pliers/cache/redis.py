"""The Redis cache adapter, and the Redis client settings every Redis adapter shares."""

from __future__ import annotations

import json
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from pliers.cache import NAMESPACE
from pliers.errors import CacheUnavailable

#: Keys deleted per round trip by :meth:`RedisCache.delete_prefix`.
_SCAN_BATCH = 500


def connect(url: str) -> aioredis.Redis:
    """A client that fails fast when Redis is down and reconnects by itself when it is back.

    One retry lets a command that meets a connection broken by a Redis restart reconnect at once.
    """
    return aioredis.Redis.from_url(
        url,
        socket_connect_timeout=1.0,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=10,
    )


class RedisCache:
    def __init__(self, client: aioredis.Redis, *, owned: bool = False) -> None:
        self._client = client
        self._owned = owned

    @classmethod
    def from_url(cls, url: str) -> RedisCache:
        return cls(connect(url), owned=True)

    async def get(self, key: str) -> Any | None:
        try:
            raw = await self._client.get(NAMESPACE + key)
        except (RedisError, OSError) as e:
            raise CacheUnavailable(f"Redis cache unreachable: {e}") from e
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        raw = json.dumps(value, separators=(",", ":"))
        try:
            if ttl is None:
                await self._client.set(NAMESPACE + key, raw)
            else:
                await self._client.set(NAMESPACE + key, raw, px=max(1, int(ttl * 1000)))
        except (RedisError, OSError) as e:
            raise CacheUnavailable(f"Redis cache unreachable: {e}") from e

    async def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            await self._client.delete(*(NAMESPACE + k for k in keys))
        except (RedisError, OSError) as e:
            raise CacheUnavailable(f"Redis cache unreachable: {e}") from e

    async def delete_prefix(self, prefix: str) -> None:
        pattern = _glob_escape(NAMESPACE + prefix) + "*"
        try:
            batch: list[bytes] = []
            async for key in self._client.scan_iter(match=pattern, count=_SCAN_BATCH):
                batch.append(key)
                if len(batch) >= _SCAN_BATCH:
                    await self._client.delete(*batch)
                    batch.clear()
            if batch:
                await self._client.delete(*batch)
        except (RedisError, OSError) as e:
            raise CacheUnavailable(f"Redis cache unreachable: {e}") from e

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as e:
            raise CacheUnavailable(f"Redis unreachable: {e}") from e

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
