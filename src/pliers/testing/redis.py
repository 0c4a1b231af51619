"""An isolated Redis database per test: claimed so no concurrent test or run shares it.

A claim is a key ``pliers:test:claim:N`` in database 0 whose value names the claiming run. A run
keeps one connection named ``pliers-test-run-<run id>`` open while it lives; claims of runs with
no such connection left are stale and removed (the Redis counterpart of PostgreSQL's session
advisory locks). The claim's TTL is the last resort for servers that refuse ``CLIENT LIST``.
"""

from __future__ import annotations

import os
import re
import uuid
from urllib.parse import urlsplit, urlunsplit

import redis
import redis.asyncio as aioredis

CLAIM_KEY = "pliers:test:claim:{index}"
CLAIM_SECONDS = 600
FIRST_INDEX, LAST_INDEX = 1, 15  # database 0 holds the claims
RUN_CLIENT_PREFIX = "pliers-test-run-"
_RUN_TOKEN = re.compile(r"^run-(?P<run>[0-9a-f]{8}):")
#: Delete KEYS[1] only while it still holds ARGV[1].
_DELETE_IF = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class TestCache(aioredis.Redis):
    """A client of a Redis database nobody else is using; ``url`` and ``index`` name it."""

    __test__ = False

    url: str
    index: int

    def __init__(self, url: str, index: int) -> None:
        super().__init__(connection_pool=aioredis.ConnectionPool.from_url(url))
        self.auto_close_connection_pool = True  # as ``Redis.from_url`` does: ``aclose`` ends it
        self.url = url
        self.index = index


def with_index(url: str, index: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{index}"))


def claim_token(run: str | None = None) -> str:
    prefix = f"run-{run}" if run else str(os.getpid())
    return f"{prefix}:{uuid.uuid4().hex}"


async def claim_database(url: str, run: str | None = None) -> tuple[int, str]:
    """Claim a free database index on the server at ``url``; returns (index, claim token)."""
    token = claim_token(run)
    client = aioredis.Redis.from_url(with_index(url, 0))
    try:
        for index in range(FIRST_INDEX, LAST_INDEX + 1):
            if await client.set(CLAIM_KEY.format(index=index), token, nx=True, ex=CLAIM_SECONDS):
                return index, token
    finally:
        await client.aclose()
    raise RuntimeError(f"all Redis databases {FIRST_INDEX}-{LAST_INDEX} are claimed by other tests")


async def release_database(url: str, index: int, token: str) -> None:
    client = aioredis.Redis.from_url(with_index(url, 0))
    try:
        await client.eval(_DELETE_IF, 1, CLAIM_KEY.format(index=index), token)
    finally:
        await client.aclose()


class RunPresence:
    """This run's named connection to a Redis server: while it is open, the run's claims hold."""

    def __init__(self, url: str, run: str) -> None:
        self.run = run
        self._client = redis.Redis.from_url(
            with_index(url, 0), client_name=RUN_CLIENT_PREFIX + run, single_connection_client=True
        )
        self._client.ping()

    def remove_stale_claims(self) -> list[int]:
        """Delete the claims of runs that are gone; returns the indexes freed."""
        try:
            clients = self._client.client_list()
        except redis.ResponseError:
            return []  # CLIENT LIST refused: stale claims expire with their TTL
        alive = {
            c["name"].removeprefix(RUN_CLIENT_PREFIX)
            for c in clients
            if c.get("name", "").startswith(RUN_CLIENT_PREFIX)
        }
        freed = []
        for index in range(FIRST_INDEX, LAST_INDEX + 1):
            key = CLAIM_KEY.format(index=index)
            value = self._client.get(key)
            if value is None:
                continue
            text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
            m = _RUN_TOKEN.match(text)
            if m and m["run"] not in alive and self._client.eval(_DELETE_IF, 1, key, value):
                freed.append(index)
        return freed

    def close(self) -> None:
        self._client.close()
