"""The client with authentication on: keys, scopes, and the stream refusing a missing key."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator

import pytest
from client_servers import default_sigint
from fastapi import FastAPI

from pliers.api.app import create_app
from pliers.client import AsyncPliers, Forbidden, Unauthorized
from pliers.runtime import Runtime
from pliers.testing import LiveServer, running_runtime, serve

pytestmark = pytest.mark.integration

ADMIN_KEY = "admin-" + "k" * 40


@pytest.fixture
async def secured(database_url: str) -> AsyncIterator[LiveServer]:
    runtime: Runtime
    async with running_runtime(database_url, admin_key=ADMIN_KEY) as runtime:
        app: FastAPI = create_app(runtime=runtime)
        async with serve(app) as server:
            yield server


async def test_keys_are_created_listed_used_and_revoked(secured: LiveServer) -> None:
    async with AsyncPliers(secured.base_url, api_key=ADMIN_KEY) as admin:
        created = await admin.keys.create("reader", ["events:read"])
        assert created.key is not None
        assert created.scopes == ["events:read"]
        listed = await admin.keys.list()
        assert [k.id for k in listed] == [created.id]
        assert all(k.key is None for k in listed)
        await admin.events.publish({"type": "a.b", "aggregateId": "k-1"})

        async with AsyncPliers(secured.base_url, api_key=created.key) as reader:
            assert [e.aggregate_id for e in await reader.events.aggregate("k-1")] == ["k-1"]
            with pytest.raises(Forbidden) as forbidden:
                await reader.events.publish({"type": "a.b", "aggregateId": "k-2"})
            assert forbidden.value.status == 403
            assert forbidden.value.code == "FORBIDDEN"
            revoked = await admin.keys.revoke(created.id)
            assert revoked.revoked_at is not None
            with pytest.raises(Unauthorized) as unauthorized:
                await reader.events.aggregate("k-1")
            assert unauthorized.value.code == "UNAUTHORIZED"


async def test_the_stream_without_a_key_is_refused_with_a_typed_error(
    secured: LiveServer,
) -> None:
    async with AsyncPliers(secured.base_url) as anonymous:
        stream = anonymous.events.stream(from_position=0)
        with pytest.raises(Unauthorized):
            await anext(aiter(stream))
    async with AsyncPliers(secured.base_url, api_key=ADMIN_KEY) as admin:
        await admin.events.publish({"type": "a.b", "aggregateId": "s-1"})
        stream = admin.events.stream(from_position=0)
        first = await anext(aiter(stream))
        await stream.aclose()
        assert first.aggregate_id == "s-1"


async def test_tail_with_a_key(secured: LiveServer) -> None:
    """``pliers events tail --key`` follows a server with authentication on; without, it says no."""
    async with AsyncPliers(secured.base_url, api_key=ADMIN_KEY) as admin:
        await admin.events.publish({"type": "door.opened", "aggregateId": "d-1"})
    base = (sys.executable, "-m", "pliers", "events", "tail", "--json", "--url", secured.base_url)
    refused = await asyncio.create_subprocess_exec(
        *base, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    _, err = await asyncio.wait_for(refused.communicate(), 60)
    assert refused.returncode == 1
    assert "401" in err.decode()
    tail = await asyncio.create_subprocess_exec(
        *base,
        "--from-position",
        "0",
        "--key",
        ADMIN_KEY,
        stdout=asyncio.subprocess.PIPE,
        preexec_fn=default_sigint,
    )
    assert tail.stdout is not None
    try:
        line = await asyncio.wait_for(tail.stdout.readline(), 60)
    finally:
        tail.send_signal(signal.SIGINT)
        await asyncio.wait_for(tail.communicate(), 30)
    assert json.loads(line)["aggregateId"] == "d-1"


async def test_the_documents_and_the_docs_page_need_no_key(secured: LiveServer) -> None:
    async with AsyncPliers(secured.base_url) as anonymous:
        for path in ("/openapi.json", "/asyncapi.json", "/docs", "/docs/assets/swagger-ui.css"):
            assert (await anonymous.request("GET", path)).status_code == 200, path
        with pytest.raises(Unauthorized):
            await anonymous.events.aggregate("x")
