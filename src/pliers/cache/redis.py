"""The Redis cache adapter, and the Redis client settings every Redis adapter shares."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from pliers.cache import NAMESPACE
from pliers.errors import CacheUnavailable

#: Keys deleted per round trip by :meth:`RedisCache.delete_prefix`.
_SCAN_BATCH = 500
#: Seconds the cache is skipped after a call failed or timed out, so that a hung Redis costs
#: one timeout per this period and not one per request.
SKIP_AFTER_FAILURE = 1.0
#: Default bound of one cache call (``PLIERS_CACHE_TIMEOUT``).
DEFAULT_TIMEOUT = 0.25

T = TypeVar("T")


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
    """The cache in Redis. Every call is bounded by ``timeout`` seconds.

    A cache is an optimisation: a call that fails or is slower than ``timeout`` raises
    :class:`CacheUnavailable` (callers read through to the store), and for
    :data:`SKIP_AFTER_FAILURE` seconds after it calls fail at once, without waiting on a Redis
    that hangs. :meth:`ping` (the health check) always asks Redis.
    """

    def __init__(
        self, client: aioredis.Redis, *, owned: bool = False, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self._client = client
        self._owned = owned
        self.timeout = timeout
        self._skip_until = 0.0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> RedisCache:
        return cls(connect(url), owned=True, timeout=timeout)

    async def _bounded(self, call: Callable[[], Awaitable[T]], *, skip: bool = True) -> T:
        if skip and time.monotonic() < self._skip_until:
            raise CacheUnavailable("Redis cache skipped for a moment after a failed call")
        try:
            async with asyncio.timeout(self.timeout):
                return await call()
        except (RedisError, OSError) as e:  # TimeoutError is an OSError
            self._skip_until = time.monotonic() + SKIP_AFTER_FAILURE
            reason = str(e) or f"no answer within {self.timeout:g} s"
            raise CacheUnavailable(f"Redis cache unreachable: {reason}") from e

    async def get(self, key: str) -> Any | None:
        raw = await self._bounded(lambda: self._client.get(NAMESPACE + key))
        return None if raw is None else json.loads(raw)

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None:
        raw = json.dumps(value, separators=(",", ":"))
        px = None if ttl is None else max(1, int(ttl * 1000))
        await self._bounded(lambda: self._client.set(NAMESPACE + key, raw, px=px))

    async def delete(self, *keys: str) -> None:
        if keys:
            await self._bounded(lambda: self._client.delete(*(NAMESPACE + k for k in keys)))

    async def delete_prefix(self, prefix: str) -> None:
        pattern = _glob_escape(NAMESPACE + prefix) + "*"

        async def scan_and_delete() -> None:
            batch: list[bytes] = []
            async for key in self._client.scan_iter(match=pattern, count=_SCAN_BATCH):
                batch.append(key)
                if len(batch) >= _SCAN_BATCH:
                    await self._client.delete(*batch)
                    batch.clear()
            if batch:
                await self._client.delete(*batch)

        await self._bounded(scan_and_delete)

    async def ping(self) -> None:
        await self._bounded(self._client.ping, skip=False)

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
