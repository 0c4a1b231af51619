"""The hosted form page without script: drawn from the definition, posted as an HTML form."""

from __future__ import annotations

import re
from typing import Any

import httpx

from pliers.api.app import create_app
from pliers.testing import client_for, running_runtime

from .forms import EVERY_TYPE, POSTED, STORED
from .html import Page


async def _form(client: httpx.AsyncClient, definition: dict[str, Any] = EVERY_TYPE) -> str:
    created = await client.post("/v1/forms/forms", json=definition)
    assert created.status_code == 201, created.text
    form_id: str = created.json()["data"]["id"]
    return form_id


async def _submissions(client: httpx.AsyncClient, form_id: str) -> list[dict[str, Any]]:
    found = await client.get("/v1/submissions/submissions", params={"formId": form_id})
    submissions: list[dict[str, Any]] = found.json()["data"]["submissions"]
    return submissions


async def test_every_field_type_is_its_native_control(client: httpx.AsyncClient) -> None:
    form_id = await _form(client)
    response = await client.get(f"/f/{form_id}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    inputs = {
        "name": "text",
        "email": "email",
        "site": "url",
        "phone": "tel",
        "height": "number",
        "age": "number",
        "born": "date",
        "meeting": "datetime-local",
        "wake": "time",
        "agree": "checkbox",
    }
    for name, kind in inputs.items():
        control = page.one("input", id=f"f-{name}")
        assert control.attrs["type"] == kind, name
        assert control.attrs["name"] == name
        assert page.find("label", for_=f"f-{name}"), f"{name} has no label"
    assert page.one(id="f-about").tag == "textarea"
    assert "multiple" not in page.one(id="f-size").attrs
    assert page.one(id="f-colours").tag == "select"
    assert "multiple" in page.one(id="f-colours").attrs
    radios = page.find("input", name="contact")
    assert [r.attrs["type"] for r in radios] == ["radio", "radio"]
    assert page.one(id="f-contact").tag == "fieldset"
    assert [r.attrs["value"] for r in page.find("input", name="member")] == ["true", "false"]
    assert [c.attrs["type"] for c in page.find("input", name="topics")] == ["checkbox"] * 2
    assert [o.text for o in page.one(id="f-size").children] == ["Choose…", "S", "M", "Large"]


async def test_validation_attributes_mirror_the_rules(client: httpx.AsyncClient) -> None:
    form_id = await _form(client)
    page = Page((await client.get(f"/f/{form_id}")).text)
    name = page.one(id="f-name").attrs
    assert (name["minlength"], name["maxlength"]) == ("2", "40")
    assert "required" in name
    assert "required" in page.one(id="f-email").attrs
    assert "required" not in page.one(id="f-phone").attrs
    assert all("required" in r.attrs for r in page.find("input", name="contact"))
    height = page.one(id="f-height").attrs
    assert (height["min"], height["max"], height["step"]) == ("0.5", "2.5", "any")
    age = page.one(id="f-age").attrs
    assert (age["min"], age["max"], age["step"]) == ("0", "130", "1")
    assert page.one(id="f-born").attrs["min"] == "1900-01-01"
    assert page.one(id="f-wake").attrs["max"] == "12:00"
    assert "required" in page.one(id="f-agree").attrs  # oneOf [true]: the box must be ticked
    assert re.fullmatch(page.one(id="f-site").attrs["pattern"], "https://example.com")
    assert not re.fullmatch(page.one(id="f-site").attrs["pattern"], "ftp://example.com")
    label = page.one("label", for_="f-name")
    assert "*" in label.text
    assert "(required)" in label.text


async def test_security_headers_and_nonce(client: httpx.AsyncClient) -> None:
    form_id = await _form(client)
    response = await client.get(f"/f/{form_id}")
    csp = response.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", csp)
    assert nonce is not None
    scripts = Page(response.text).find("script")
    runnable = [s for s in scripts if s.attrs.get("type") != "application/json"]
    assert runnable
    assert all(s.attrs.get("nonce") == nonce[1] for s in runnable)
    assert all("src" in s.attrs and s.attrs["src"].startswith("/static/") for s in runnable)
    assert "default-src 'none'" in csp
    assert "frame-ancestors" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-content-type-options"] == "nosniff"
    again = await client.get(f"/f/{form_id}")
    assert again.headers["content-security-policy"] != csp  # a fresh nonce per page


async def test_a_posted_form_is_stored_with_typed_answers(client: httpx.AsyncClient) -> None:
    form_id = await _form(client)
    response = await client.post(f"/f/{form_id}", data=POSTED)
    assert response.status_code == 200, response.text
    assert "Thank you" in response.text
    [stored] = await _submissions(client, form_id)
    assert stored["data"] == STORED


async def test_server_errors_are_shown_by_their_fields_with_the_answers_kept(
    client: httpx.AsyncClient,
) -> None:
    form_id = await _form(client)
    posted = {**POSTED, "name": "A", "email": "ada@localhost", "age": "3.5", "contact": ""}
    response = await client.post(f"/f/{form_id}", data=posted)
    assert response.status_code == 400
    page = Page(response.text)
    for field in ("name", "email", "age", "contact"):
        control = page.one(id=f"f-{field}")
        assert control.attrs.get("aria-invalid") == "true", field
        assert f"err-{field}" in control.attrs["aria-describedby"].split()
        assert "hidden" not in page.one(id=f"err-{field}").attrs
    assert "at least 2" in page.one(id="err-name").text
    assert "e-mail address" in page.one(id="err-email").text
    assert "aria-invalid" not in page.one(id="f-phone").attrs
    assert "hidden" in page.one(id="err-phone").attrs
    # the answers are kept, valid and invalid alike
    assert page.one(id="f-email").attrs["value"] == "ada@localhost"
    assert page.one(id="f-meeting").attrs["value"] == "2026-11-25T16:00"
    assert page.one(id="f-about").text == "Counts things"
    assert [o.text for o in page.one(id="f-colours").children if "selected" in o.attrs] == [
        "red",
        "blue",
    ]
    assert [
        r.attrs["value"] for r in page.find("input", name="member") if "checked" in r.attrs
    ] == ["true"]
    assert "checked" in page.one(id="f-agree").attrs
    assert "4 answers need a change" in page.one(id="form-problems").text
    assert await _submissions(client, form_id) == []


async def test_the_pages_key_stores_one_submission(client: httpx.AsyncClient) -> None:
    form_id = await _form(client)
    page = Page((await client.get(f"/f/{form_id}")).text)
    key = page.one("input", name="pliers.key").attrs["value"]
    posted = {**POSTED, "pliers.key": key}
    first = await client.post(f"/f/{form_id}", data=posted)
    second = await client.post(f"/f/{form_id}", data=posted)
    assert first.status_code == second.status_code == 200
    assert "Thank you" in second.text
    assert len(await _submissions(client, form_id)) == 1
    changed = await client.post(f"/f/{form_id}", data={**posted, "name": "Grace"})
    assert changed.status_code == 409
    assert "Reload the page" in changed.text
    assert len(await _submissions(client, form_id)) == 1


async def test_user_content_is_rendered_as_text(client: httpx.AsyncClient) -> None:
    attack = "<script>alert(1)</script>"
    definition = {
        "name": attack,
        "public": True,
        "description": f'"><img src=x onerror=alert(1)>{attack}',
        "fields": [
            {"name": "q", "type": "text", "label": attack, "description": attack},
            {"name": "pick", "type": "select", "options": [{"value": "x", "label": attack}]},
        ],
    }
    form_id = await _form(client, definition)
    response = await client.get(f"/f/{form_id}")
    assert "<script>alert" not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
    answered = await client.post(f"/f/{form_id}", data={"q": attack, "pick": "nope"})
    assert answered.status_code == 400
    assert "<script>alert" not in answered.text
    assert Page(answered.text).one(id="f-q").attrs["value"] == attack


async def test_unknown_and_archived_forms(client: httpx.AsyncClient) -> None:
    missing = await client.get("/f/no-such-form")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert "not open to the public" in missing.text
    assert (await client.post("/f/no-such-form", data={"q": "x"})).status_code == 404
    form_id = await _form(client)
    await client.delete(f"/v1/forms/forms/{form_id}")
    closed = await client.get(f"/f/{form_id}")
    assert closed.status_code == 410
    assert "closed" in closed.text
    refused = await client.post(f"/f/{form_id}", data=POSTED)
    assert refused.status_code == 410
    assert await _submissions(client, form_id) == []


async def test_a_private_form_has_no_page(client: httpx.AsyncClient) -> None:
    form_id = await _form(client, {**EVERY_TYPE, "public": False})
    assert (await client.get(f"/f/{form_id}")).status_code == 404
    refused = await client.post(f"/f/{form_id}", data=POSTED)
    assert refused.status_code == 404
    assert await _submissions(client, form_id) == []
    unsaid = {k: v for k, v in EVERY_TYPE.items() if k != "public"}
    assert (await client.get(f"/f/{await _form(client, unsaid)}")).status_code == 404


async def test_only_allowed_origins_may_frame_the_page(client: httpx.AsyncClient) -> None:
    closed = await client.get(f"/f/{await _form(client)}")
    assert "frame-ancestors 'none'" in closed.headers["content-security-policy"]
    assert closed.headers["x-frame-options"] == "DENY"
    origins = ["https://shop.example", "http://localhost:3000"]
    form_id = await _form(client, {**EVERY_TYPE, "allowedOrigins": origins})
    framed = await client.get(f"/f/{form_id}")
    csp = framed.headers["content-security-policy"]
    assert "frame-ancestors https://shop.example http://localhost:3000" in csp
    assert "x-frame-options" not in framed.headers


async def test_api_errors_stay_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/forms/forms/no-such-form")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "FORM_NOT_FOUND"


async def test_static_files(client: httpx.AsyncClient) -> None:
    script = await client.get("/static/form.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert (await client.get("/static/pliers.css")).status_code == 200
    assert (await client.get("/static/../templates/base.html")).status_code == 404


async def test_the_page_shares_the_public_routes_rate_limit(database_url: str) -> None:
    async with (
        running_runtime(database_url, public_rate_limit="2/minute") as rt,
        client_for(create_app(runtime=rt)) as client,
    ):
        form_id = await _form(client)
        api = await client.post(f"/v1/public/forms/{form_id}/submissions", json={"data": STORED})
        assert api.status_code == 201
        page = await client.post(f"/f/{form_id}", data={**POSTED, "pliers.key": "second"})
        assert page.status_code == 200
        limited = await client.post(f"/f/{form_id}", data={**POSTED, "pliers.key": "third"})
        assert limited.status_code == 429
        assert limited.headers["content-type"].startswith("text/html")
        assert int(limited.headers["retry-after"]) > 0
        assert "too many submissions" in limited.text
        assert len(await _submissions(client, form_id)) == 2
        [event] = (
            await client.post(
                "/v1/events/events/query",
                json={"query": {"eventTypes": ["submission.created"], "limit": 1}},
            )
        ).json()["data"]["events"]
        assert event["metadata"]["actor"] == "public"


async def test_bad_posts_are_4xx_pages(client: httpx.AsyncClient) -> None:
    form_id = await _form(client)
    cases: list[dict[str, Any]] = [
        {"content": b"x", "headers": {"content-type": "multipart/form-data"}},
        {
            "content": b"--b\r\nbroken",
            "headers": {"content-type": "multipart/form-data; boundary=b"},
        },
        {"content": b'{"name": "Ada"}', "headers": {"content-type": "application/json"}},
        {"content": "&".join(f"f{i}=1" for i in range(1500)).encode()},
        {"content": b"name=%ED%A0%80&email=%00"},
    ]
    for case in cases:
        headers = case.pop("headers", {"content-type": "application/x-www-form-urlencoded"})
        response = await client.post(f"/f/{form_id}", headers=headers, **case)
        assert 400 <= response.status_code < 500, (headers, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
    assert (await client.get("/f/%00")).status_code == 404
    assert await _submissions(client, form_id) == []
