"""The console with authentication off: its pages, CSV, notifications and their retry."""

from __future__ import annotations

import asyncio
import json
import re
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

ATTACK = "<script>alert(1)</script>"


@pytest.fixture
async def quiet_runtime(database_url: str) -> AsyncIterator[Runtime]:
    """A runtime that queues mail and delivers none unless a test says so."""
    async with running_runtime(database_url, dispatcher_enabled=False) as rt:
        yield rt


@pytest.fixture
async def console(quiet_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(create_app(runtime=quiet_runtime)) as client:
        yield client


async def _form(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    definition = {
        "name": ATTACK,
        "public": True,
        "fields": [
            {"name": "name", "type": "text"},
            {"name": "tags", "type": "multiselect", "options": ["a", "b"]},
            {"name": "ok", "type": "boolean"},
        ],
        "notifications": [{"type": "email", "to": ["ops@example.com"], "subject": ATTACK}],
        **overrides,
    }
    created = await client.post("/v1/forms/forms", json=definition)
    assert created.status_code == 201, created.text
    form: dict[str, Any] = created.json()["data"]
    return form


async def _submit(client: httpx.AsyncClient, form_id: str, **data: Any) -> None:
    body = {"formId": form_id, "data": data}
    response = await client.post("/v1/submissions/submissions", json=body)
    assert response.status_code == 201, response.text


def _csrf(html: str) -> str:
    return Page(html).find("input", name="csrf")[0].attrs["value"]


async def test_pages_carry_the_consoles_headers(console: httpx.AsyncClient) -> None:
    form = await _form(console)
    for path in (
        "/console",
        f"/console/forms/{form['id']}",
        "/console/notifications",
        "/console/events",
    ):
        response = await console.get(path)
        assert response.status_code == 200, path
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "Authentication is off" in response.text


async def test_the_csrf_cookie_is_http_only_and_strict(console: httpx.AsyncClient) -> None:
    response = await console.get("/console")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("pliers_csrf=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP here; see the HTTPS test
    again = await console.get("/console")
    assert "set-cookie" not in again.headers  # one token per browser


async def test_behind_https_cookies_are_secure(quiet_runtime: Runtime) -> None:
    transport = httpx.ASGITransport(app=create_app(runtime=quiet_runtime))
    async with httpx.AsyncClient(transport=transport, base_url="https://pliers.test") as client:
        response = await client.get("/console")
    assert "Secure" in response.headers["set-cookie"]


async def test_forms_list_and_form_page(console: httpx.AsyncClient) -> None:
    form = await _form(console)
    private = await _form(console, name="Private", public=False)
    await _submit(console, form["id"], name=ATTACK, tags=["a", "b"], ok=True)
    listing = await console.get("/console")
    assert ATTACK not in listing.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in listing.text
    page = Page(listing.text)
    assert page.find("a", href=f"/console/forms/{form['id']}")
    assert page.find("a", href=f"/f/{form['id']}")
    assert not page.find("a", href=f"/f/{private['id']}")
    detail = await console.get(f"/console/forms/{form['id']}")
    assert ATTACK not in detail.text
    page = Page(detail.text)
    assert page.one(id="public-link").attrs["href"] == f"/f/{form['id']}"
    row = page.one(id="submissions-table").children[1].children[0]
    cells = [c.text.strip() for c in row.children]
    assert cells[1:4] == [ATTACK, "a, b", "yes"]
    assert '"name": "&lt;script&gt;' in detail.text.replace("&#34;", '"')


async def test_submissions_are_paged(console: httpx.AsyncClient) -> None:
    form = await _form(console, notifications=[])
    for i in range(30):
        await _submit(console, form["id"], name=f"person {i}")
    first = Page((await console.get(f"/console/forms/{form['id']}")).text)
    rows = first.one(id="submissions-table").children[1].children
    assert len(rows) == 25
    [more] = [a for a in first.find("a") if a.text == "Next page"]
    second = Page((await console.get(more.attrs["href"])).text)
    names = [r.children[1].text for r in second.one(id="submissions-table").children[1].children]
    assert names == [f"person {i}" for i in range(25, 30)]
    assert not [a for a in second.find("a") if a.text == "Next page"]


async def test_csv_download(console: httpx.AsyncClient) -> None:
    form = await _form(console, notifications=[])
    await _submit(console, form["id"], name="Ada", tags=["b"])
    response = await console.get(f"/console/forms/{form['id']}/submissions.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    header, row = response.text.splitlines()
    assert header.endswith("name,tags,ok")
    assert row.endswith("Ada,b,")
    missing = await console.get("/console/forms/no-such-form/submissions.csv")
    assert missing.status_code == 404


async def test_a_failed_notification_is_retried_with_the_csrf_token(
    quiet_runtime: Runtime,
    console: httpx.AsyncClient,
    email_provider: MockEmailProvider,
) -> None:
    form = await _form(console)
    await _submit(console, form["id"], name="Ada")
    outbox = quiet_runtime.notifications
    assert outbox is not None
    email_provider.fail(400, "Invalid recipient")
    async with EmailService(api_key="k", base_url=email_provider.base_url, timeout=5) as mail:
        await Dispatcher(outbox, mail, retry_initial=0.0, max_attempts=1).drain()
    [failed] = await outbox.list(status="failed")

    listing = await console.get("/console/notifications", params={"status": "failed"})
    assert ATTACK not in listing.text
    page = Page(listing.text)
    assert "Invalid recipient" in page.one(id="notifications-table").text
    action = f"/console/notifications/{failed.id}/retry"
    assert page.one("form", action=action)

    refused = await console.post(action, data={"csrf": "forged"})
    assert refused.status_code == 403
    assert (await outbox.list(status="failed")) == [failed]

    retried = await console.post(action, data={"csrf": _csrf(listing.text)})
    assert retried.status_code == 303
    assert retried.headers["location"] == f"/console/notifications?done={failed.id}"
    [queued] = await outbox.list(status="queued")
    assert queued.id == failed.id
    shown = await console.get(retried.headers["location"])
    assert "queued again" in shown.text
    assert not Page(shown.text).find("form", action=action)


async def test_unknown_pages_are_html(console: httpx.AsyncClient) -> None:
    missing = await console.get("/console/forms/no-such-form")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "no-store" in missing.headers["cache-control"]


async def test_the_live_view_starts_after_the_stores_head(console: httpx.AsyncClient) -> None:
    form = await _form(console)
    page = Page(
        (await console.get("/console/events?types=submission.created,%20form.created")).text
    )
    state = page.one(id="live-state")
    assert state.attrs["data-types"] == "submission.created,form.created"
    assert int(state.attrs["data-head"]) >= 1
    assert form["id"]


async def test_with_authentication_off_sign_in_leads_to_the_console(
    console: httpx.AsyncClient,
) -> None:
    response = await console.get("/console/sign-in")
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    assert re.search("Sign out", (await console.get("/console")).text) is None


async def test_the_consoles_stream_takes_upgrades_from_its_own_origin_only(
    quiet_runtime: Runtime, console: httpx.AsyncClient
) -> None:
    async with serve(create_app(runtime=quiet_runtime)) as live:
        url = f"{live.ws_url}/console/stream"
        with pytest.raises(InvalidStatus):
            await connect(url, origin=Origin("http://evil.example"))
        async with connect(url, origin=Origin(live.base_url)) as ws:
            subscribe = {"type": "subscribe", "filter": {"eventTypes": ["form.created"]}}
            await ws.send(json.dumps(subscribe))
            confirmed = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert confirmed["type"] == "subscription_confirmed"
            form = await _form(console)
            event = json.loads(await asyncio.wait_for(ws.recv(), 30))
            assert event["data"]["aggregateId"] == form["id"]


@pytest.mark.parametrize(
    "path",
    [
        "/console/forms/%00",
        "/console/forms/%ED%A0%80/submissions.csv",
        "/console/notifications?formId=%00",
        "/console/notifications?status=bogus",
        "/console/forms/x?cursor=%00%00",
        "/console/events?types=" + "x" * 3000,
    ],
)
async def test_bad_input_is_a_4xx_page(console: httpx.AsyncClient, path: str) -> None:
    response = await console.get(path)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("text/html")


async def test_a_retry_of_a_strange_id_is_not_found(console: httpx.AsyncClient) -> None:
    await console.get("/console")
    csrf = console.cookies["pliers_csrf"]
    for notification_id in ("%00", "a%20b", "x" * 300):
        response = await console.post(
            f"/console/notifications/{notification_id}/retry", data={"csrf": csrf}
        )
        assert response.status_code == 404
