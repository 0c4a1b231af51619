"""The hosted form page in Chromium with script: JSON to the public submission route."""

from __future__ import annotations

from playwright.async_api import Browser, BrowserContext, Page, expect

from pliers.testing import LiveServer

from .helpers import create_form, fill_contact, submissions


async def test_fill_and_submit_with_script(context: BrowserContext, live: LiveServer) -> None:
    form_id = await create_form(live)
    page = await context.new_page()
    await page.goto(f"{live.base_url}/f/{form_id}")
    await expect(page.locator("#note-meeting")).to_contain_text("Europe/Paris")
    await fill_contact(page)
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert page.url == f"{live.base_url}/f/{form_id}"  # answered by script, not a page load
    [stored] = await submissions(live, form_id)
    assert stored["data"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "age": 36,
        "meeting": "2026-11-25T15:00:00.000Z",  # 16:00 in Paris is 15:00 UTC in November
        "contact": "phone",
        "topics": [2],
        "size": "M",
        "agree": True,
        "message": "Hello <b>there</b>",
    }


async def test_a_double_click_stores_one_submission(
    browser: Browser, context: BrowserContext, live: LiveServer
) -> None:
    form_id = await create_form(live)
    page = await context.new_page()
    await page.goto(f"{live.base_url}/f/{form_id}")
    await fill_contact(page)
    await page.get_by_role("button", name="Send").dblclick()
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert len(await submissions(live, form_id)) == 1

    # Two posts under one page's key racing each other, whatever the script would allow
    await page.goto(f"{live.base_url}/f/{form_id}")
    statuses = await page.evaluate(
        """() => {
        const form = document.getElementById("pliers-form");
        const key = form.elements["pliers.key"].value;
        const send = () => fetch(form.dataset.submitUrl, {method: "POST",
            headers: {"content-type": "application/json", "idempotency-key": key},
            body: JSON.stringify({data: {name: "Ada", email: "ada@example.com",
                contact: "phone", agree: true}})});
        return Promise.all([send(), send()]).then(rs => rs.map(r => r.status).sort());
    }"""
    )
    assert statuses == [200, 201]
    assert len(await submissions(live, form_id)) == 2

    without_script = await browser.new_context(java_script_enabled=False)
    plain = await without_script.new_page()
    await plain.goto(f"{live.base_url}/f/{form_id}")
    await fill_contact(plain)
    await plain.get_by_role("button", name="Send").dblclick()
    await expect(plain.get_by_role("heading", name="Thank you")).to_be_visible()
    assert len(await submissions(live, form_id)) == 3
    await without_script.close()


async def test_keyboard_only(context: BrowserContext, live: LiveServer) -> None:
    form_id = await create_form(live)
    page = await context.new_page()
    await page.goto(f"{live.base_url}/f/{form_id}")
    keys = page.keyboard
    await keys.press("Tab")
    await expect(page.get_by_label("Your name")).to_be_focused()
    await keys.type("Grace Hopper")
    await keys.press("Tab")
    await keys.type("grace@example.com")
    await keys.press("Tab")
    await keys.type("85")
    first_option = page.get_by_label("mail", exact=True)
    for _ in range(12):  # through the date and time's parts, left empty
        await keys.press("Tab")
        if await first_option.evaluate("e => e === document.activeElement"):
            break
    await expect(first_option).to_be_focused()
    await keys.press("Space")  # the first option of the radio group
    await keys.press("Tab")
    await keys.press("Space")  # News
    await keys.press("Tab")
    await keys.press("Space")  # Events
    await keys.press("Tab")
    await expect(page.get_by_label("T-shirt size")).to_be_focused()
    await keys.press("ArrowDown")
    await keys.press("Tab")
    await expect(page.get_by_label("I agree to be contacted")).to_be_focused()
    await keys.press("Space")
    await keys.press("Tab")
    await keys.type("Typed, not clicked")
    await keys.press("Tab")
    await expect(page.get_by_role("button", name="Send")).to_be_focused()
    await keys.press("Enter")
    await expect(page.locator("#form-thanks")).to_be_focused()
    [stored] = await submissions(live, form_id)
    assert stored["data"]["name"] == "Grace Hopper"
    assert stored["data"]["contact"] == "mail"
    assert stored["data"]["topics"] == ["news", 2]
    assert stored["data"]["agree"] is True
    assert stored["data"]["message"] == "Typed, not clicked"


async def _shows_the_servers_error(page: Page) -> None:
    email = page.get_by_label("E-mail")
    await expect(page.locator("#err-email")).to_contain_text("e-mail address")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_attribute("aria-describedby", "err-email")
    await expect(email).to_be_focused()
    await expect(page.locator("#form-problems")).to_contain_text("1 answer needs a change")
    # the answers are kept
    await expect(email).to_have_value("ada@localhost")
    await expect(page.get_by_label("Your name")).to_have_value("Ada Lovelace")
    await expect(page.get_by_label("phone")).to_be_checked()
    await expect(page.get_by_label("Events")).to_be_checked()
    await expect(page.get_by_label("T-shirt size")).to_have_value("M")
    await expect(page.get_by_label("Message")).to_have_value("Hello <b>there</b>")


async def test_server_errors_by_their_fields_with_script(
    context: BrowserContext, live: LiveServer
) -> None:
    form_id = await create_form(live)
    page = await context.new_page()
    await page.goto(f"{live.base_url}/f/{form_id}")
    await fill_contact(
        page, email="ada@localhost"
    )  # the browser takes it; the server wants a domain
    await page.get_by_role("button", name="Send").click()
    await _shows_the_servers_error(page)
    await page.get_by_label("E-mail").fill("ada@example.com")
    await page.get_by_role("button", name="Send").click()
    await expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert len(await submissions(live, form_id)) == 1
