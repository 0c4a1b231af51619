"""The cache port: a read-through cache of JSON values that other engines use.

The cache is never the store of record: every value can be rebuilt by its loader, so when the
cache is unreachable :func:`cached` reads through to the loader and the API keeps serving.

An engine reads through and invalidates after its write commits, e.g. form definitions::

    form = await cached(rt.cache, f"forms:{form_id}:current", lambda: repo.get(form_id), ttl=300)
    ...  # PUT/DELETE: after the transaction commits
    await invalidate(rt.cache, f"forms:{form_id}:current", prefix=f"forms:{form_id}:v")
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from pliers import metrics
from pliers.errors import CacheUnavailable

#: Every key a Pliers cache adapter writes starts with this.
NAMESPACE = "pliers:"

T = TypeVar("T")
log = logging.getLogger(__name__)


class Cache(Protocol):
    """JSON values under string keys (namespaced by the adapter), each with an optional TTL.

    Every method raises :class:`pliers.errors.CacheUnavailable` when the backend cannot be reached.
    """

    async def get(self, key: str) -> Any | None:
        """The value, or None when absent or expired."""
        ...

    async def set(self, key: str, value: Any, ttl: float | None = None) -> None: ...

    async def delete(self, *keys: str) -> None: ...

    async def delete_prefix(self, prefix: str) -> None:
        """Delete every key starting with ``prefix`` (e.g. every version of one form)."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


class _Outage:
    """Logs a cache outage once, and its end once."""

    down = False

    def failed(self, error: CacheUnavailable) -> None:
        if not self.down:
            log.warning("cache unavailable, reading through to the database: %s", error.message)
            self.down = True

    def worked(self) -> None:
        if self.down:
            log.info("cache reachable again")
            self.down = False


_outage = _Outage()


async def cached(
    cache: Cache,
    key: str,
    loader: Callable[[], Awaitable[T]],
    ttl: float | None = 300.0,
    *,
    current: Callable[[Any], bool] | None = None,
) -> T:
    """Return the cached value of ``key``, or load it, cache it (unless None) and return it.

    With ``current``, a cached value is used only when ``current(value)`` holds (typically: it
    carries the generation the store holds now); otherwise it is loaded and replaced. A cache
    whose invalidations can be lost (Redis down during a write, or restarted with data saved
    before) can then serve nothing older than the store.

    A cache that is down is skipped: the loader's value is returned as if nothing were cached.
    """
    try:
        hit = await cache.get(key)
        _outage.worked()
    except CacheUnavailable as e:
        _outage.failed(e)
        return await loader()
    fresh = hit is not None and (current is None or current(hit))
    metrics.cache_lookup(fresh)
    if hit is not None and fresh:
        return hit  # type: ignore[no-any-return]  # stored by this function from a T
    value = await loader()
    if value is not None:
        try:
            await cache.set(key, value, ttl)
        except CacheUnavailable as e:
            _outage.failed(e)
    return value


async def invalidate(cache: Cache, *keys: str, prefix: str | None = None) -> None:
    """Delete ``keys`` (and every key under ``prefix``); an unreachable cache is logged, not raised.

    While the cache is down nothing can be stale in it for long: values carry a TTL, and a cache
    that lost its data on restart holds no stale values at all.
    """
    try:
        if keys:
            await cache.delete(*keys)
        if prefix is not None:
            await cache.delete_prefix(prefix)
        _outage.worked()
    except CacheUnavailable as e:
        _outage.failed(e)


__all__ = ["NAMESPACE", "Cache", "cached", "invalidate"]
