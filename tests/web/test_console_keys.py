"""The console with authentication on: signing in with a key, scopes, revocation, signing out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from pliers.api.app import create_app
from pliers.notifications import Dispatcher, EmailService
from pliers.runtime import Runtime
from pliers.testing import MockEmailProvider, client_for, running_runtime, serve

from .html import Page

ADMIN_KEY = "console-test-admin-key-0123456789abcdef"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
READ_ONLY = ["forms:read", "submissions:read", "notifications:read", "events:read"]


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    async with running_runtime(database_url, admin_key=ADMIN_KEY, dispatcher_enabled=False) as rt:
        yield rt


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(runtime=runtime)) as c:
        yield c


async def _key(client: httpx.AsyncClient, scopes: list[str]) -> dict[str, Any]:
    made = await client.post("/v1/keys", json={"name": "console", "scopes": scopes}, headers=ADMIN)
    assert made.status_code == 201, made.text
    key: dict[str, Any] = made.json()["data"]
    return key


async def _sign_in(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    page = await client.get("/console/sign-in")
    assert page.status_code == 200
    csrf = Page(page.text).one("input", name="csrf").attrs["value"]
    return await client.post("/console/sign-in", data={"csrf": csrf, "key": secret})


async def test_the_console_asks_for_a_key(client: httpx.AsyncClient) -> None:
    for path in ("/console", "/console/notifications", "/console/events"):
        response = await client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/console/sign-in"
    csv = await client.get("/console/forms/x/submissions.csv")
    assert csv.status_code == 303


async def test_a_wrong_key_is_refused(client: httpx.AsyncClient) -> None:
    refused = await _sign_in(client, "plk_not-a-key")
    assert refused.status_code == 401
    assert "unknown, revoked or expired" in refused.text
    assert "pliers_session" not in client.cookies
    assert (await client.get("/console")).status_code == 303


async def test_sign_in_needs_the_csrf_token(client: httpx.AsyncClient) -> None:
    await client.get("/console/sign-in")
    forged = await client.post("/console/sign-in", data={"csrf": "x", "key": ADMIN_KEY})
    assert forged.status_code == 403
    assert "pliers_session" not in client.cookies


async def test_sign_in_and_out(client: httpx.AsyncClient) -> None:
    signed_in = await _sign_in(client, ADMIN_KEY)
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/console"
    cookie = next(c for c in signed_in.headers.get_list("set-cookie") if "pliers_session" in c)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    console = await client.get("/console")
    assert console.status_code == 200
    assert "Authentication is off" not in console.text
    csrf = Page(console.text).one("input", name="csrf").attrs["value"]
    out = await client.post("/console/sign-out", data={"csrf": csrf})
    assert out.status_code == 303
    assert "pliers_session" not in client.cookies
    assert (await client.get("/console")).status_code == 303


async def test_a_revoked_key_ends_its_session(client: httpx.AsyncClient) -> None:
    key = await _key(client, READ_ONLY)
    await _sign_in(client, key["key"])
    assert (await client.get("/console")).status_code == 200
    revoked = await client.delete(f"/v1/keys/{key['id']}", headers=ADMIN)
    assert revoked.status_code == 200
    again = await client.get("/console")
    assert again.status_code == 303
    assert "pliers_session" not in client.cookies


async def test_a_read_only_key_sees_no_retry_and_cannot_retry(
    runtime: Runtime, client: httpx.AsyncClient, email_provider: MockEmailProvider
) -> None:
    form = await client.post(
        "/v1/forms/forms",
        headers=ADMIN,
        json={
            "name": "Mail",
            "fields": [{"name": "name", "type": "text"}],
            "notifications": [{"type": "email", "to": ["ops@example.com"], "subject": "New"}],
        },
    )
    body = {"formId": form.json()["data"]["id"], "data": {"name": "Ada"}}
    await client.post("/v1/submissions/submissions", json=body, headers=ADMIN)
    outbox = runtime.notifications
    assert outbox is not None
    email_provider.fail(400, "Invalid recipient")
    async with EmailService(api_key="k", base_url=email_provider.base_url, timeout=5) as mail:
        await Dispatcher(outbox, mail, retry_initial=0.0, max_attempts=1).drain()
    [failed] = await outbox.list(status="failed")

    key = await _key(client, READ_ONLY)
    await _sign_in(client, key["key"])
    listing = await client.get("/console/notifications")
    assert listing.status_code == 200
    assert "failed" in Page(listing.text).one(id="notifications-table").text
    assert "Retry" not in listing.text
    csrf = client.cookies["pliers_csrf"]
    refused = await client.post(f"/console/notifications/{failed.id}/retry", data={"csrf": csrf})
    assert refused.status_code == 403
    assert "notifications:write" in refused.text
    assert [n.status for n in await outbox.list()] == ["failed"]


async def test_pages_need_their_scope(client: httpx.AsyncClient) -> None:
    key = await _key(client, ["notifications:read"])
    await _sign_in(client, key["key"])
    forms = await client.get("/console")
    assert forms.status_code == 403
    assert "forms:read" in forms.text
    notifications = await client.get("/console/notifications")
    assert notifications.status_code == 200
    nav = Page(notifications.text).one("nav").children
    assert [a.text for a in nav] == ["Notifications"]


async def test_the_live_stream_takes_the_session(
    runtime: Runtime, client: httpx.AsyncClient
) -> None:
    async with serve(create_app(runtime=runtime)) as live:
        url = f"{live.ws_url}/console/stream"
        origin = Origin(live.base_url)
        with pytest.raises(InvalidStatus):
            await connect(url, origin=origin)
        key = await _key(client, ["forms:read"])
        await _sign_in(client, key["key"])
        without_scope = {"Cookie": f"pliers_session={key['key']}"}
        with pytest.raises(InvalidStatus):
            await connect(url, origin=origin, additional_headers=without_scope)
        reader = await _key(client, READ_ONLY)
        session = {"Cookie": f"pliers_session={reader['key']}"}
        async with connect(url, origin=origin, additional_headers=session) as ws:
            await ws.send(json.dumps({"type": "subscribe", "fromPosition": 0}))
            confirmed = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert confirmed["type"] == "subscription_confirmed"
