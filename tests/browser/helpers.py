"""Forms and API calls the browser tests share."""

from __future__ import annotations

from typing import Any

import httpx
from playwright.async_api import Page

from pliers.testing import LiveServer

#: A form to fill by hand: one control of each kind a person meets.
CONTACT: dict[str, Any] = {
    "name": "Contact us",
    "description": "Tell us how to reach you.",
    "public": True,
    "fields": [
        {"name": "name", "type": "text", "label": "Your name", "required": True},
        {"name": "email", "type": "email", "label": "E-mail", "required": True},
        {"name": "age", "type": "integer", "label": "Age", "validation": {"min": 0}},
        {"name": "meeting", "type": "datetime", "label": "Call me at"},
        {
            "name": "contact",
            "type": "radio",
            "label": "Reach me by",
            "options": ["mail", "phone"],
            "required": True,
        },
        {
            "name": "topics",
            "type": "checkbox",
            "label": "Topics",
            "options": [{"value": "news", "label": "News"}, {"value": 2, "label": "Events"}],
        },
        {"name": "size", "type": "select", "label": "T-shirt size", "options": ["S", "M", "L"]},
        {
            "name": "agree",
            "type": "checkbox",
            "label": "I agree to be contacted",
            "validation": {"oneOf": [True]},
        },
        {
            "name": "message",
            "type": "textarea",
            "label": "Message",
            "description": "Anything else we should know.",
        },
    ],
}


async def create_form(live: LiveServer, definition: dict[str, Any] = CONTACT) -> str:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        created = await client.post("/v1/forms/forms", json=definition)
    assert created.status_code == 201, created.text
    form_id: str = created.json()["data"]["id"]
    return form_id


async def submissions(live: LiveServer, form_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        found = await client.get("/v1/submissions/submissions", params={"formId": form_id})
    listed: list[dict[str, Any]] = found.json()["data"]["submissions"]
    return listed


async def fill_contact(page: Page, *, email: str = "ada@example.com") -> None:
    await page.get_by_label("Your name").fill("Ada Lovelace")
    await page.get_by_label("E-mail").fill(email)
    await page.get_by_label("Age", exact=True).fill("36")
    await page.get_by_label("Call me at").fill("2026-11-25T16:00")
    await page.get_by_label("phone").check()
    await page.get_by_label("Events").check()
    await page.get_by_label("T-shirt size").select_option("M")
    await page.get_by_label("I agree to be contacted").check()
    await page.get_by_label("Message").fill("Hello <b>there</b>")
