"""Talking to the live stream from tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from websockets.asyncio.client import ClientConnection

TIMEOUT = 10.0


async def send(ws: ClientConnection, message: dict[str, Any] | str) -> None:
    await ws.send(message if isinstance(message, str) else json.dumps(message))


async def receive(ws: ClientConnection, wait: float = TIMEOUT) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
    return message


async def subscribe(ws: ClientConnection, **fields: Any) -> dict[str, Any]:
    """Subscribe and return the confirmation."""
    await send(ws, {"type": "subscribe", **fields})
    confirmed = await receive(ws)
    assert confirmed["type"] == "subscription_confirmed", confirmed
    return confirmed


async def events(ws: ClientConnection, count: int, wait: float = TIMEOUT) -> list[dict[str, Any]]:
    """The next ``count`` messages, which must all be events."""
    received = []
    for _ in range(count):
        message = await receive(ws, wait)
        assert message["type"] == "event", message
        received.append(message)
    return received


async def nothing_more(ws: ClientConnection) -> None:
    """Prove no message is pending: a ping is answered by the very next message."""
    await send(ws, {"type": "ping"})
    assert await receive(ws) == {"type": "pong"}
