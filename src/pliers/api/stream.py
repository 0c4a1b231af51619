"""``WS /v1/events/stream``: the live stream of stored events (README, "Live events")."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect

from pliers import metrics
from pliers.api.auth import requires
from pliers.runtime import Runtime
from pliers.stream.connection import Connection
from pliers.stream.quota import QuotaExceeded

router = APIRouter(tags=["events"])
log = logging.getLogger(__name__)

#: Close code for a client that cannot keep up or holds too much (RFC 6455 "policy violation").
TOO_SLOW = 1008
#: Close code for every client when the server stops (RFC 6455 "going away").
GOING_AWAY = 1001

#: this process's open stream connections, for :func:`going_away`
_open: set[WebSocket] = set()


async def going_away() -> int:
    """Close every stream connection of this process with 1001; returns how many."""
    closing = list(_open)
    _open.clear()

    async def close(websocket: WebSocket) -> None:
        with contextlib.suppress(Exception):  # the client may be gone already
            await websocket.close(GOING_AWAY, "server shutting down")

    await asyncio.gather(*(close(w) for w in closing))
    return len(closing)


@router.websocket("/v1/events/stream")
@requires("events:read")
async def stream(websocket: WebSocket) -> None:
    rt: Runtime = websocket.app.state.runtime
    client = websocket.client.host if websocket.client else "unknown"
    await websocket.accept()
    try:
        rt.stream_quota.connect(client)
    except QuotaExceeded as e:
        await websocket.close(TOO_SLOW, e.message)
        return
    try:
        await _serve(websocket, rt, client)
    finally:
        rt.stream_quota.disconnect(client)


async def _serve(websocket: WebSocket, rt: Runtime, client: str) -> None:
    conn = Connection(
        rt.hub,
        buffer=rt.settings.stream_buffer,
        max_message_bytes=rt.settings.stream_max_message_bytes,
        max_depth=rt.settings.max_json_depth,
        quota=rt.stream_quota,
        client=client,
    )
    metrics.STREAM_CONNECTIONS.inc()
    _open.add(websocket)
    reader = asyncio.create_task(_read(websocket, conn))
    writer = asyncio.create_task(_write(websocket, conn))
    too_slow = asyncio.create_task(conn.overflowed.wait())
    try:
        done, _ = await asyncio.wait(
            {reader, writer, too_slow}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        for task in (reader, writer, too_slow):
            task.cancel()
        outcomes = await asyncio.gather(reader, writer, too_slow, return_exceptions=True)
        conn.close()
        _open.discard(websocket)
        metrics.STREAM_CONNECTIONS.dec()
        for outcome in outcomes:
            if isinstance(outcome, Exception) and not isinstance(outcome, WebSocketDisconnect):
                log.error("live stream connection failed", exc_info=outcome)
    if too_slow in done:
        metrics.STREAM_SLOW_CLOSED.inc()
        with contextlib.suppress(Exception):  # the client may be gone already
            await websocket.close(
                TOO_SLOW,
                f"client too slow: more than {conn.capacity} messages waiting to be sent",
            )


async def _read(websocket: WebSocket, conn: Connection) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            text = data.decode("utf-8", "replace")
        await conn.handle(text)


async def _write(websocket: WebSocket, conn: Connection) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        while True:
            await websocket.send_text(await conn.next_message())
