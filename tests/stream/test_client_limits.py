"""What one client address may hold of the live stream: connections and subscriptions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from stream_helpers import receive, send, subscribe
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from pliers.api.app import create_app
from pliers.testing import running_runtime, serve

pytestmark = pytest.mark.integration


@pytest.fixture
async def stream_url(tmp_path: Path) -> AsyncIterator[str]:
    limits = {
        "stream_max_connections_per_client": 3,
        "stream_max_subscriptions_per_client": 5,
        "stream_max_subscriptions": 1000,
    }
    async with (
        running_runtime(f"sqlite:///{tmp_path / 'p.db'}", **limits) as rt,
        serve(create_app(runtime=rt)) as server,
    ):
        yield f"{server.ws_url}/v1/events/stream"


async def test_connections_past_the_limit_are_closed_with_the_reason(stream_url: str) -> None:
    held = [await connect(stream_url) for _ in range(3)]
    try:
        async with connect(stream_url) as extra:
            with pytest.raises(ConnectionClosed) as closed:
                await receive(extra)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1008
        assert "PLIERS_STREAM_MAX_CONNECTIONS_PER_CLIENT" in closed.value.rcvd.reason
        for ws in held:  # the others are untouched
            await subscribe(ws)
    finally:
        await held.pop().close()
    async with connect(stream_url) as again:  # a closed connection frees its place
        await subscribe(again)
    for ws in held:
        await ws.close()


async def test_subscriptions_are_counted_over_all_connections_of_a_client(
    stream_url: str,
) -> None:
    async with connect(stream_url) as first, connect(stream_url) as second:
        for n in range(3):
            await subscribe(first, subscriptionId=f"a{n}")
        for n in range(2):
            await subscribe(second, subscriptionId=f"b{n}")
        await send(second, {"type": "subscribe", "subscriptionId": "b2"})
        refused = await receive(second)
        assert refused["type"] == "error"
        assert refused["code"] == "TOO_MANY_SUBSCRIPTIONS"
        assert "PLIERS_STREAM_MAX_SUBSCRIPTIONS_PER_CLIENT" in refused["message"]

        await send(first, {"type": "unsubscribe", "subscriptionId": "a0"})
        assert (await receive(first))["type"] == "unsubscribed"
        await subscribe(second, subscriptionId="b2")  # the freed place
    async with connect(stream_url) as third:  # closed connections gave theirs back
        for n in range(5):
            await subscribe(third, subscriptionId=f"c{n}")
