"""The live stream needs ``events:read``: in the Authorization header, or ``?key=`` for browsers."""

from __future__ import annotations

import httpx
import pytest
from keys_helpers import make_key
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from pliers.testing.apps import LiveServer

pytestmark = pytest.mark.integration


async def confirmed(ws: object) -> None:
    await ws.send('{"type": "subscribe", "subscriptionId": "s"}')  # type: ignore[attr-defined]
    reply = await ws.recv()  # type: ignore[attr-defined]
    assert "subscription_confirmed" in reply


async def test_the_upgrade_without_a_key_is_refused(live: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{live.ws_url}/v1/events/stream", open_timeout=10):
            pass
    assert refused.value.response.status_code == 401
    assert b"UNAUTHORIZED" in refused.value.response.body


async def test_a_wrong_key_in_the_query_is_refused(live: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{live.ws_url}/v1/events/stream?key=plk_nope", open_timeout=10):
            pass
    assert refused.value.response.status_code == 401


async def test_a_key_without_events_read_is_refused(
    live: LiveServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    writer = await make_key(http, admin, ["events:write"])
    with pytest.raises(InvalidStatus) as refused:
        async with connect(f"{live.ws_url}/v1/events/stream?key={writer['key']}", open_timeout=10):
            pass
    assert refused.value.response.status_code == 403
    assert b"FORBIDDEN" in refused.value.response.body


async def test_a_reader_key_in_the_header_or_the_query_subscribes(
    live: LiveServer, http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    reader = await make_key(http, admin, ["events:read"])
    url = f"{live.ws_url}/v1/events/stream"
    async with connect(
        url, additional_headers={"Authorization": f"Bearer {reader['key']}"}, open_timeout=10
    ) as ws:
        await confirmed(ws)
    async with connect(f"{url}?key={reader['key']}", open_timeout=10) as ws:
        await confirmed(ws)
