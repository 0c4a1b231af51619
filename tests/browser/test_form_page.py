"""The hosted form page in Chromium, with script and without."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Browser, expect

from pliers.testing import LiveServer

from .conftest import DESKTOP, PHONE
from .helpers import CONTACT, create_form, fill_contact, submissions


async def test_fill_and_submit_without_script(browser: Browser, live: LiveServer) -> None:
    form_id = await create_form(live)
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{live.base_url}/f/{form_id}")
    await expect(page.locator("#note-meeting")).to_have_text("Date and time in UTC.")
    await fill_contact(page)
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    [stored] = await submissions(live, form_id)
    assert stored["data"]["meeting"] == "2026-11-25T16:00:00Z"
    assert stored["data"]["topics"] == [2]
    assert stored["data"]["age"] == 36
    await context.close()


async def test_server_errors_by_their_fields_without_script(
    browser: Browser, live: LiveServer
) -> None:
    form_id = await create_form(live)
    context = await browser.new_context(java_script_enabled=False)
    page = await context.new_page()
    await page.goto(f"{live.base_url}/f/{form_id}")
    await fill_contact(page, email="ada@localhost")
    await page.get_by_role("button", name="Send").click()
    email = page.get_by_label("E-mail")
    await expect(page.locator("#err-email")).to_contain_text("e-mail address")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_value("ada@localhost")
    await expect(page.get_by_label("Message")).to_have_value("Hello <b>there</b>")
    await expect(page.get_by_label("Events")).to_be_checked()
    assert await submissions(live, form_id) == []
    await context.close()


async def test_screenshots_at_phone_and_desktop_width(
    browser: Browser, live: LiveServer, screenshots: Path
) -> None:
    form_id = await create_form(live)
    for name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        context = await browser.new_context(viewport=viewport, timezone_id="Europe/Paris")
        page = await context.new_page()
        await page.goto(f"{live.base_url}/f/{form_id}")
        await fill_contact(page, email="ada@localhost")
        await page.get_by_role("button", name="Send").click()
        await expect(page.locator("#err-email")).to_be_visible()
        await page.screenshot(path=screenshots / f"form-{name}.png", full_page=True)
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= viewport["width"], f"the page scrolls sideways at {name} width"
        await context.close()
    assert (screenshots / "form-phone.png").stat().st_size > 10_000
    assert CONTACT["name"]
