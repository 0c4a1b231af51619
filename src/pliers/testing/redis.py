"""An isolated Redis database per test: claimed so no concurrent test or run shares it."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis

CLAIM_KEY = "pliers:test:claim:{index}"
CLAIM_SECONDS = 600
FIRST_INDEX, LAST_INDEX = 1, 15  # database 0 holds the claims


def with_index(url: str, index: int) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{index}"))


async def claim_database(url: str) -> tuple[int, str]:
    """Claim a free database index on the server at ``url``; returns (index, claim token)."""
    token = f"{os.getpid()}:{uuid.uuid4().hex}"
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
        key = CLAIM_KEY.format(index=index)
        if (await client.get(key)) == token.encode():
            await client.delete(key)
    finally:
        await client.aclose()
