"""The live stream as an async iterator that survives drops and restarts of the server.

It relies on the stream's resume rule: a subscription with ``fromPosition`` first sends the
stored matching events after that position, then live ones, with no gap and no duplicate. After
any drop the iterator reconnects (backing off with stamina while the server is away) and
subscribes again from the position of the last event it yielded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import stamina
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from pliers.api.schemas import StoredEvent
from pliers.client.errors import StreamError, error_for


def stream_url(base_url: str) -> str:
    """``http://host:port`` -> ``ws://host:port/v1/events/stream`` (https -> wss)."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    path = parts.path.rstrip("/") + "/v1/events/stream"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def _reconnectable(exc: Exception) -> bool:
    """Worth connecting again: the server is away or restarting, not refusing us."""
    if isinstance(exc, InvalidStatus):
        return exc.response.status_code >= 500
    return isinstance(exc, OSError | TimeoutError | InvalidHandshake)


class EventStream:
    """``async for event in stream``: :class:`StoredEvent` in position order, for ever.

    ``position`` is the position of the last event yielded (or the starting one).
    """

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        filter: Mapping[str, Sequence[str]] | None = None,  # the protocol's name
        from_position: int | None = None,
        max_wait: float = 2.0,
        open_timeout: float = 10.0,
        wait_for_server: bool = True,
        on_subscribed: Callable[[dict[str, Any]], None] | None = None,
        on_dropped: Callable[[], None] | None = None,
    ) -> None:
        self.url = stream_url(base_url)
        self.filter = {k: list(v) for k, v in (filter or {}).items()}
        self.position = from_position
        #: how many times the stream connected (1 + reconnections)
        self.connections = 0
        #: how many subscriptions the server confirmed
        self.subscriptions = 0
        #: set when the server confirms a subscription: live events are delivered from then on
        self.subscribed = asyncio.Event()
        self._headers = {"authorization": f"Bearer {api_key}"} if api_key else {}
        self._max_wait = max_wait
        self._open_timeout = open_timeout
        #: False: a server that cannot be reached for the first connection is an error at once
        #: (later drops are always waited out)
        self._wait_for_server = wait_for_server
        #: told of each confirmed subscription, and of each drop before reconnecting
        self._on_subscribed = on_subscribed
        self._on_dropped = on_dropped
        self._events: AsyncIterator[StoredEvent] | None = None

    def __aiter__(self) -> AsyncIterator[StoredEvent]:
        if self._events is None:
            self._events = self._follow()
        return self._events

    async def __anext__(self) -> StoredEvent:
        return await self.__aiter__().__anext__()

    async def aclose(self) -> None:
        """Close the connection (a ``break`` out of ``async for`` leaves it to the collector)."""
        if self._events is not None:
            await self._events.aclose()  # type: ignore[attr-defined]  # an async generator

    async def _connect(self) -> ClientConnection:
        if self.connections == 0 and not self._wait_for_server:
            return await connect(
                self.url, additional_headers=self._headers, open_timeout=self._open_timeout
            )
        async for attempt in stamina.retry_context(
            on=_reconnectable, attempts=None, timeout=None, wait_max=self._max_wait
        ):
            with attempt:
                return await connect(
                    self.url, additional_headers=self._headers, open_timeout=self._open_timeout
                )
        raise AssertionError("unreachable: the retries above never end")  # pragma: no cover

    def _subscribe(self) -> str:
        message: dict[str, Any] = {"type": "subscribe", "filter": self.filter}
        if self.position is not None:
            message["fromPosition"] = self.position
        return json.dumps(message)

    async def _follow(self) -> AsyncIterator[StoredEvent]:
        while True:
            try:
                ws = await self._connect()
            except InvalidStatus as e:  # refused: no key, a bad key, a missing scope
                raise error_for(e.response.status_code, _json(e.response.body)) from e
            self.connections += 1
            try:
                await ws.send(self._subscribe())
                async for raw in ws:
                    message = json.loads(raw)
                    kind = message.get("type")
                    if kind == "event":
                        event = StoredEvent.model_validate(message["data"])
                        if self.position is not None and event.position <= self.position:
                            continue  # never twice, whatever a server replays
                        self.position = event.position
                        yield event
                    elif kind == "subscription_confirmed":
                        self.subscriptions += 1
                        self.subscribed.set()
                        if self._on_subscribed is not None:
                            self._on_subscribed(message)
                    elif kind == "error":
                        code, text = message.get("code", "STREAM_ERROR"), message.get("message")
                        if str(code).endswith("_UNAVAILABLE"):
                            raise _Unavailable(str(text))
                        raise StreamError(400, str(code), str(text))
            except (ConnectionClosed, OSError, TimeoutError):
                pass  # dropped: connect again and resume after self.position
            except _Unavailable:
                await asyncio.sleep(self._max_wait)  # the server's store is away for a moment
            finally:
                await ws.close()
            self.subscribed.clear()
            if self._on_dropped is not None:
                self._on_dropped()


class _Unavailable(Exception):
    """The server cannot serve a subscription now (its store is unreachable)."""


def _json(body: bytes | bytearray | None) -> Any:
    try:
        return json.loads(body or b"")
    except ValueError:
        return None
