"""Redis pub/sub broker: notices reach every process subscribed to the same Redis database."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from pliers.broker import CHANNEL
from pliers.cache.redis import connect
from pliers.errors import BrokerUnavailable

#: How long one wait for a message lasts before checking the connection again (seconds).
_POLL = 1.0
#: How long subscribing may take, the server's confirmation included (seconds).
SUBSCRIBE_TIMEOUT = 3.0


class RedisListener:
    def __init__(self, pubsub: Any, channel: str) -> None:
        self._pubsub = pubsub
        self._channel = channel

    def __aiter__(self) -> RedisListener:
        return self

    async def __anext__(self) -> int:
        while True:
            try:
                message = await self._pubsub.get_message(
                    ignore_subscribe_messages=True, timeout=_POLL
                )
            except (RedisError, OSError) as e:
                raise BrokerUnavailable(f"Redis pub/sub connection lost: {e}") from e
            if message is None or message.get("type") != "message":
                continue
            try:
                return int(message["data"])
            except (TypeError, ValueError):
                continue  # not a notice of ours; positions are plain integers

    async def close(self) -> None:
        with contextlib.suppress(RedisError, OSError):  # the connection may be gone already
            await self._pubsub.aclose()


class RedisBroker:
    def __init__(self, client: aioredis.Redis, *, channel: str = CHANNEL, owned: bool = False):
        self._client = client
        self._channel = channel
        self._owned = owned

    @classmethod
    def from_url(cls, url: str, *, channel: str = CHANNEL) -> RedisBroker:
        return cls(connect(url), channel=channel, owned=True)

    async def publish(self, position: int) -> None:
        try:
            await self._client.publish(self._channel, str(position))
        except (RedisError, OSError) as e:
            raise BrokerUnavailable(f"Redis publish failed: {e}") from e

    async def listen(self) -> RedisListener:
        pubsub = self._client.pubsub()
        try:
            # a hung Redis accepts the connection and never confirms: bounded
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                await pubsub.subscribe(self._channel)
                # wait for the confirmation so that notices published from now on are heard
                while (await pubsub.get_message(timeout=_POLL)) is None:
                    pass
        except (RedisError, OSError, TimeoutError) as e:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
            reason = str(e) or f"no confirmation within {SUBSCRIBE_TIMEOUT:g} s"
            raise BrokerUnavailable(f"Redis subscribe failed: {reason}") from e
        return RedisListener(pubsub, self._channel)

    async def ping(self) -> None:
        try:
            await self._client.ping()
        except (RedisError, OSError) as e:
            raise BrokerUnavailable(f"Redis unreachable: {e}") from e

    async def close(self) -> None:
        if self._owned:
            await self._client.aclose()
