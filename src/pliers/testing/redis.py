"""An isolated Redis database per test: each test process claims one, so no test running at the
same time (in another xdist worker or another run) shares it; its tests flush it in turn.

A claim is a key ``pliers:test:claim:N`` in database 0 whose value names the claiming run. A run
keeps one connection named ``pliers-test-run-<run id>`` open while it lives; claims of runs with
no such connection left are stale and removed (the Redis counterpart of PostgreSQL's session
advisory locks). The claim's TTL is the last resort for servers that refuse ``CLIENT LIST``.
"""

from __future__ import annotations

import contextlib
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


class RunPresence:
    """This run's named connection to a Redis server: while it is open, the run's claims hold.

    A process claims one database for all its tests, one after the other (each test flushes it
    before and after): a claim per test would cost every test a few round trips.
    """

    def __init__(self, url: str, run: str) -> None:
        self.run = run
        self._client = redis.Redis.from_url(
            with_index(url, 0), client_name=RUN_CLIENT_PREFIX + run, single_connection_client=True
        )
        self._client.ping()
        self._claim: tuple[int, str] | None = None

    def database(self) -> int:
        """This process's database: claimed the first time, its claim's TTL renewed after."""
        if self._claim is not None:
            index, token = self._claim
            self._client.expire(CLAIM_KEY.format(index=index), CLAIM_SECONDS)
            return index
        token = claim_token(self.run)
        for index in range(FIRST_INDEX, LAST_INDEX + 1):
            if self._client.set(CLAIM_KEY.format(index=index), token, nx=True, ex=CLAIM_SECONDS):
                self._claim = (index, token)
                return index
        raise RuntimeError(
            f"all Redis databases {FIRST_INDEX}-{LAST_INDEX} are claimed by other test processes"
        )

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
        """Free the claim (only while it is still this process's) and leave."""
        if self._claim is not None:
            index, token = self._claim
            with contextlib.suppress(redis.RedisError, OSError):
                self._client.eval(_DELETE_IF, 1, CLAIM_KEY.format(index=index), token)
        self._client.close()
