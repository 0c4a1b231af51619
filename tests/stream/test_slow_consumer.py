"""A client that stops reading is disconnected with 1008 instead of being buffered for."""

from __future__ import annotations

import asyncio
import secrets
import socket

import pytest
from stream_helpers import nothing_more, subscribe
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from pliers.api.app import create_app
from pliers.events.model import NewEvent
from pliers.testing import EventFactory, running_runtime, serve

pytestmark = pytest.mark.integration


async def drain(ws: ClientConnection) -> None:
    """Read until the connection closes."""
    while True:
        await asyncio.wait_for(ws.recv(), 15)


async def test_a_client_that_never_reads_is_closed_with_1008(
    database_url: str, event_factory: EventFactory
) -> None:
    async with (
        running_runtime(database_url, stream_buffer=20) as runtime,
        serve(create_app(runtime=runtime)) as live,
    ):
        url = f"{live.ws_url}/v1/events/stream"
        # a small receive buffer and max_queue=1: the client stops reading, like a stuck one;
        # payloads are random so that permessage-deflate cannot shrink them
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (live.host, live.port))
        async with (
            connect(url, sock=sock, max_queue=1) as slow,
            connect(url) as healthy,
        ):
            await subscribe(slow)
            await subscribe(healthy, filter={"eventTypes": ["never.sent"]})
            assert runtime.hub.subscription_count == 2
            for _ in range(40):
                batch = [
                    NewEvent.model_validate(
                        event_factory.build(payload={"blob": secrets.token_hex(25_000)})
                    )
                    for _ in range(10)
                ]
                await runtime.events.publish(batch)
                if runtime.hub.subscription_count == 1:
                    break
                await asyncio.sleep(0.01)
            for _ in range(500):
                if runtime.hub.subscription_count == 1:
                    break
                await asyncio.sleep(0.01)
            assert runtime.hub.subscription_count == 1, "the slow client was not dropped"

            with pytest.raises(ConnectionClosed) as closed:
                await drain(slow)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1008
            assert "too slow" in closed.value.rcvd.reason
            # the other client is unaffected
            await nothing_more(healthy)
