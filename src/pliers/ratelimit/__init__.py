"""Rate limits per client, on the ``limits`` library: Redis when configured (shared by every
process), this process's memory otherwise.

A limit that cannot be checked because Redis is down falls back to this process's memory instead
of failing the request or letting everything through: Redis being down degrades Pliers, it does not
take it down.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, parse_many
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

log = logging.getLogger(__name__)

#: Seconds one Redis call of the limiter may take.
REDIS_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    #: seconds until the client may try again (0 when allowed)
    retry_after: int = 0


class RateLimit:
    """``limit`` (``60/minute``, ``10/second;100/hour``) per client, under ``namespace``."""

    def __init__(self, limit: str, namespace: str, *, redis_url: str | None = None) -> None:
        self.items: list[RateLimitItem] = parse_many(limit)
        self.namespace = namespace
        self._storage: Storage = (
            RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix="pliers:ratelimit",
                socket_timeout=REDIS_TIMEOUT,
                socket_connect_timeout=REDIS_TIMEOUT,
            )
            if redis_url
            else MemoryStorage()
        )
        self._limiter = MovingWindowRateLimiter(self._storage)
        self._fallback: MovingWindowRateLimiter | None = None
        self.shared = redis_url is not None

    async def hit(self, client: str) -> Verdict:
        """Count one request of ``client``; say whether it is within the limit."""
        try:
            return await self._hit(self._limiter, client)
        except Exception as e:  # the shared counter is unreachable: count in this process
            if self._fallback is None:
                log.warning("rate limits are counted per process: Redis failed (%s)", e)
                self._fallback = MovingWindowRateLimiter(MemoryStorage())
            return await self._hit(self._fallback, client)

    async def _hit(self, limiter: MovingWindowRateLimiter, client: str) -> Verdict:
        for item in self.items:
            if not await limiter.hit(item, self.namespace, client):
                stats = await limiter.get_window_stats(item, self.namespace, client)
                return Verdict(False, max(1, math.ceil(stats.reset_time - time.time())))
        if self._fallback is not None and limiter is self._limiter:
            log.warning("rate limits are shared through Redis again")
            self._fallback = None
        return Verdict(True)

    async def clear(self, client: str) -> None:
        for item in self.items:
            await self._limiter.clear(item, self.namespace, client)

    async def close(self) -> None:
        """Close the Redis connections of a shared limit (``limits`` keeps them in its client)."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        if client is not None:
            await client.aclose()
