"""The console in Chromium: the live view, the CSV, and user content shown as text."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import uvicorn
from playwright.async_api import BrowserContext, Dialog, expect
from starlette.types import ASGIApp

from pliers.api.app import create_app
from pliers.runtime import Runtime
from pliers.submissions.model import NewSubmission
from pliers.testing import LiveServer, running_runtime, serve

from .helpers import create_form, submissions

ATTACK = '<img src=x onerror="window.pwned=1"><script>window.pwned=1</script>'


async def test_a_submission_appears_in_the_live_view_within_a_second(
    context: BrowserContext, live: LiveServer, screenshots: Path
) -> None:
    form_id = await create_form(live)
    console = await context.new_page()
    await console.goto(f"{live.base_url}/console/events?types=submission.created")
    await expect(console.locator("#live-state")).to_contain_text("Connected")
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        # a form change is not of the chosen type: it must not show
        await client.put(
            f"/v1/forms/forms/{form_id}",
            json={"name": "Other", "fields": [{"name": "name", "type": "text"}], "public": True},
        )
        sent = await client.post(
            "/v1/submissions/submissions", json={"formId": form_id, "data": {"name": "Ada"}}
        )
        answered = time.monotonic()
    assert sent.status_code == 201
    # polled every 20 ms: an expectation's growing poll interval would blur the measure
    await console.wait_for_function(
        "() => document.querySelectorAll('#live-events li').length > 0", polling=20
    )
    shown = time.monotonic() - answered
    event = console.locator("#live-events li")
    await expect(event).to_have_count(1)
    assert shown < 1.0, f"the submission showed {shown:.2f} s after it was stored"
    await expect(event).to_contain_text("submission.created")
    await expect(event).to_contain_text(sent.json()["data"]["id"])
    await console.screenshot(path=screenshots / "console-live.png")


async def test_csv_download(context: BrowserContext, live: LiveServer, tmp_path: Path) -> None:
    form_id = await create_form(live)
    page = await context.new_page()
    await page.goto(f"{live.base_url}/f/{form_id}")
    await page.get_by_label("Your name").fill("Ada, Countess")
    await page.get_by_label("E-mail").fill("ada@example.com")
    await page.get_by_label("phone").check()
    await page.get_by_label("I agree to be contacted").check()
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()

    await page.goto(f"{live.base_url}/console/forms/{form_id}")
    await expect(page.locator("#submissions-table tbody tr")).to_have_count(1)
    async with page.expect_download() as started:
        await page.get_by_role("link", name="Download CSV").click()
    download = await started.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    header, row = saved.read_text(encoding="utf-8").splitlines()
    assert header.split(",")[-9:] == [
        "name",
        "email",
        "age",
        "meeting",
        "contact",
        "topics",
        "size",
        "agree",
        "message",
    ]
    assert '"Ada, Countess",ada@example.com' in row
    assert download.suggested_filename == f"form-{form_id}-submissions.csv"


async def test_attempts_at_script_render_as_text(
    context: BrowserContext, live: LiveServer, screenshots: Path
) -> None:
    dialogs: list[str] = []

    def dialog(opened: Dialog) -> None:
        dialogs.append(opened.message)

    definition = {
        "name": ATTACK,
        "description": ATTACK,
        "public": True,
        "fields": [
            {"name": "q", "type": "text", "label": ATTACK, "description": ATTACK},
            {
                "name": "pick",
                "type": "select",
                "label": "Pick",
                "options": [{"value": "x", "label": ATTACK}],
            },
        ],
    }
    form_id = await create_form(live, definition)
    page = await context.new_page()
    page.on("dialog", dialog)
    await page.goto(f"{live.base_url}/f/{form_id}")
    await expect(page.locator("#form-title")).to_have_text(ATTACK)
    await page.locator("#f-q").fill(ATTACK)
    await page.locator("#f-pick").select_option("x")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    [stored] = await submissions(live, form_id)
    assert stored["data"]["q"] == ATTACK

    await page.goto(f"{live.base_url}/console")
    await expect(page.get_by_role("link", name=ATTACK)).to_be_visible()
    await page.get_by_role("link", name=ATTACK).click()
    await expect(page.locator("h1")).to_have_text(ATTACK)
    await expect(page.locator("#submissions-table tbody td").nth(1)).to_have_text(ATTACK)
    await page.goto(f"{live.base_url}/console/events")
    await expect(page.locator("#live-state")).to_contain_text("Connected")
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        await client.post(
            "/v1/submissions/submissions", json={"formId": form_id, "data": {"q": ATTACK}}
        )
    await expect(page.locator("#live-events li")).to_contain_text(ATTACK.replace('"', '\\"'))
    assert await page.evaluate("() => window.pwned") is None
    assert dialogs == []


async def test_console_screenshots(
    context: BrowserContext, live: LiveServer, screenshots: Path
) -> None:
    form_id = await create_form(live)
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        for name, email in (
            ("Ada Lovelace", "ada@example.com"),
            ("Grace Hopper", "grace@example.com"),
        ):
            data = {
                "name": name,
                "email": email,
                "contact": "mail",
                "agree": True,
                "topics": ["news"],
            }
            await client.post("/v1/submissions/submissions", json={"formId": form_id, "data": data})
    page = await context.new_page()
    await page.goto(f"{live.base_url}/console")
    await page.screenshot(path=screenshots / "console-forms.png")
    await page.goto(f"{live.base_url}/console/forms/{form_id}")
    await expect(page.locator("#submissions-table tbody tr")).to_have_count(2)
    await page.screenshot(path=screenshots / "console-form.png")


async def test_a_wrong_key_is_refused_at_sign_in(
    context: BrowserContext, tmp_path: Path, screenshots: Path
) -> None:
    admin_key = "browser-test-admin-key-0123456789abcdef"
    database = f"sqlite:///{tmp_path / 'keys.db'}"
    async with (
        running_runtime(database, admin_key=admin_key) as rt,
        serve(create_app(runtime=rt)) as live,
    ):
        page = await context.new_page()
        await page.goto(f"{live.base_url}/console")
        assert page.url == f"{live.base_url}/console/sign-in"
        await page.get_by_label("API key").fill("plk_wrong")
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("alert")).to_contain_text("unknown, revoked or expired")
        await expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
        assert page.url == f"{live.base_url}/console/sign-in"
        await page.screenshot(path=screenshots / "console-sign-in.png")
        assert [c["name"] for c in await context.cookies()] == ["pliers_csrf"]

        await page.get_by_label("API key").fill(admin_key)
        await page.get_by_role("button", name="Sign in").click()
        await expect(page.get_by_role("heading", name="Forms")).to_be_visible()
        session = next(c for c in await context.cookies() if c["name"] == "pliers_session")
        assert session["httpOnly"] is True
        assert session["sameSite"] == "Strict"
        assert await page.evaluate("() => document.cookie") == ""  # no script reads either
        await page.get_by_role("button", name="Sign out").click()
        await expect(page.get_by_role("button", name="Sign in")).to_be_visible()


@asynccontextmanager
async def _serving_on(app: ASGIApp, port: int) -> AsyncIterator[LiveServer]:
    """Like :func:`pliers.testing.serve`, on a given port (to start a server where one was)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws_ping_interval=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield LiveServer("127.0.0.1", port)
    finally:
        server.should_exit = True
        await task
        sock.close()


def _answer(name: str) -> dict[str, str]:
    return {"name": name, "email": "someone@example.com", "contact": "mail"}


async def test_the_live_view_resumes_after_a_reconnect(
    context: BrowserContext, runtime: Runtime
) -> None:
    app = create_app(runtime=runtime)
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    async with _serving_on(app, port) as live:
        form_id = await create_form(live)
        page = await context.new_page()
        await page.goto(f"{live.base_url}/console/events?types=submission.created")
        await expect(page.locator("#live-state")).to_contain_text("Connected")
        await runtime.submissions.create(NewSubmission(form_id=form_id, data=_answer("one")))
        await expect(page.locator("#live-events li")).to_have_count(1)
    # The server is gone: the page waits to reconnect while more is stored.
    await expect(page.locator("#live-state")).to_contain_text("reconnecting")
    missed = await runtime.submissions.create(NewSubmission(form_id=form_id, data=_answer("two")))
    await runtime.forms.archive(form_id)  # not of the chosen type
    async with _serving_on(app, port):
        events = page.locator("#live-events li")
        await expect(events).to_have_count(2)
        await expect(events.first).to_contain_text(missed.submission["id"])
        await expect(page.locator("#live-events li[data-type='form.archived']")).to_have_count(0)
        await expect(page.locator("#live-state")).to_contain_text("Connected")
