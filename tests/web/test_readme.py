"""The README's browser walk-through works as written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

README = Path(__file__).parents[2] / "README.md"


def _readme_form() -> dict[str, object]:
    section = README.read_text(encoding="utf-8").split("## Try it in a browser", 1)[1]
    body = re.search(r"-d '(\{.*?\})'", section, re.DOTALL)
    assert body is not None, "the README's curl lost its body"
    definition: dict[str, object] = json.loads(body[1])
    return definition


async def test_the_readmes_form_is_public_and_takes_a_submission(client: httpx.AsyncClient) -> None:
    created = await client.post("/v1/forms/forms", json=_readme_form())
    assert created.status_code == 201
    form_id = created.json()["data"]["id"]
    page = await client.get(f"/f/{form_id}")
    assert page.status_code == 200
    assert "Your name" in page.text
    sent = await client.post(
        f"/f/{form_id}", data={"name": "Ada", "email": "ada@example.com", "topic": "Support"}
    )
    assert "Thank you" in sent.text
    console = await client.get(f"/console/forms/{form_id}")
    assert "ada@example.com" in console.text
