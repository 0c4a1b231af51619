"""Public forms: read and submitted without a key, CORS for their own origins, rate limited."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from pliers.testing.factories import FormBuilder

pytestmark = pytest.mark.integration

ALLOWED = "https://shop.example.com"
OTHER = "https://evil.example.net"


def definition(public: bool = True, **extra: Any) -> dict[str, Any]:
    body = (
        FormBuilder()
        .with_name("Contact")
        .with_text_field("name", True)
        .with_notification(to=["owner@example.com"], subject="New contact")
        .build()
    )
    return body | {"public": public, "allowedOrigins": [ALLOWED], **extra}


async def create(http: httpx.AsyncClient, admin: dict[str, str], **kwargs: Any) -> str:
    response = await http.post("/v1/forms/forms", json=definition(**kwargs), headers=admin)
    assert response.status_code == 201, response.text
    form_id: str = response.json()["data"]["id"]
    return form_id


async def submissions_of(http: httpx.AsyncClient, admin: dict[str, str], form_id: str) -> list[Any]:
    response = await http.get(f"/v1/submissions/submissions?formId={form_id}", headers=admin)
    listed: list[Any] = response.json()["data"]["submissions"]
    return listed


async def test_a_public_form_reads_without_a_key_and_hides_its_settings(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    form_id = await create(http, admin)
    response = await http.get(f"/v1/public/forms/{form_id}")
    assert response.status_code == 200
    form = response.json()["data"]
    assert set(form) == {"id", "name", "description", "fields", "validation", "version"}
    assert form["fields"][0]["name"] == "name"
    assert "owner@example.com" not in response.text
    assert ALLOWED not in response.text


async def test_a_private_or_unknown_form_is_404_on_both_routes(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    private = await create(http, admin, public=False)
    for form_id in (private, "00000000-0000-0000-0000-000000000000", "not an id"):
        read = await http.get(f"/v1/public/forms/{form_id}")
        assert read.status_code == 404
        assert read.json()["error"]["code"] == "FORM_NOT_FOUND"
        sent = await http.post(
            f"/v1/public/forms/{form_id}/submissions", json={"data": {"name": "Ada"}}
        )
        assert sent.status_code == 404
    assert await submissions_of(http, admin, private) == []


async def test_a_submission_without_a_key_is_stored_as_the_public(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    form_id = await create(http, admin)
    url = f"/v1/public/forms/{form_id}/submissions"
    body = {"data": {"name": "Ada"}, "metadata": {"actor": "admin", "source": "page"}}
    sent = await http.post(url, json=body, headers={"Idempotency-Key": "k-1"})
    assert sent.status_code == 201, sent.text
    again = await http.post(url, json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    submission = sent.json()["data"]
    events = await http.get(f"/v1/events/events/aggregates/{submission['id']}", headers=admin)
    [event] = events.json()["data"]["events"]
    assert event["metadata"]["actor"] == "public"

    refused = await http.post(url, json={"data": {"name": ""}})
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "VALIDATION_ERROR"
    forged = await http.post(url, json={"data": {"name": "Eve"}, "submittedBy": "admin"})
    assert forged.status_code == 400
    assert len(await submissions_of(http, admin, form_id)) == 1


async def test_cors_preflight_from_an_allowed_origin(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    form_id = await create(http, admin)
    preflight = await http.options(
        f"/v1/public/forms/{form_id}/submissions",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in preflight.headers["access-control-allow-methods"]
    allowed_headers = preflight.headers["access-control-allow-headers"].lower()
    assert "content-type" in allowed_headers
    assert "idempotency-key" in allowed_headers

    sent = await http.post(
        f"/v1/public/forms/{form_id}/submissions",
        json={"data": {"name": "Ada"}},
        headers={"Origin": ALLOWED},
    )
    assert sent.status_code == 201
    assert sent.headers["access-control-allow-origin"] == ALLOWED
    refused = await http.post(
        f"/v1/public/forms/{form_id}/submissions",
        json={"data": {}},
        headers={"Origin": ALLOWED},
    )
    assert refused.status_code == 400
    assert refused.headers["access-control-allow-origin"] == ALLOWED  # the page can show why


async def test_cors_refuses_other_origins(http: httpx.AsyncClient, admin: dict[str, str]) -> None:
    form_id = await create(http, admin)
    url = f"/v1/public/forms/{form_id}/submissions"
    preflight = await http.options(
        url, headers={"Origin": OTHER, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.status_code == 403
    read = await http.get(f"/v1/public/forms/{form_id}", headers={"Origin": OTHER})
    assert "access-control-allow-origin" not in read.headers
    posted = await http.post(url, json={"data": {"name": "Eve"}}, headers={"Origin": OTHER})
    assert posted.status_code == 403
    assert posted.json()["error"]["code"] == "FORBIDDEN"
    assert "access-control-allow-origin" not in posted.headers
    assert await submissions_of(http, admin, form_id) == []


async def test_cors_is_only_on_the_public_routes(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    preflight = await http.options(
        "/v1/forms/forms", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers
    listed = await http.get("/v1/forms/forms", headers={**admin, "Origin": ALLOWED})
    assert "access-control-allow-origin" not in listed.headers


async def test_any_origin_when_the_form_says_so(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    form_id = await create(http, admin, allowedOrigins=["*"])
    read = await http.get(f"/v1/public/forms/{form_id}", headers={"Origin": OTHER})
    assert read.headers["access-control-allow-origin"] == OTHER
