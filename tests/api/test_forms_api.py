"""The Form Engine over HTTP, on PostgreSQL and SQLite: forms as events and a read model."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest

from pliers.events.model import NewEvent
from pliers.runtime import Runtime
from pliers.testing.factories import FormBuilder

pytestmark = pytest.mark.integration


def registration_form() -> dict[str, Any]:
    return (
        FormBuilder.create()
        .with_name("Registration Form")
        .with_text_field("name", True)
        .with_text_field("email", True)
        .with_validation(
            [
                {"field": "email", "type": "email"},
                {"field": "name", "type": "minLength", "value": 2},
            ]
        )
        .build()
    )


async def create(client: httpx.AsyncClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await client.post("/v1/forms/forms", json=body or registration_form())
    assert response.status_code == 201, response.text
    form: dict[str, Any] = response.json()["data"]
    return form


async def events_of(client: httpx.AsyncClient, aggregate_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/events/events/aggregates/{aggregate_id}")
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()["data"]["events"]
    return events


async def count_rows(database_url: str, table: str) -> int:
    """Rows of a read-model table, read straight from the database."""
    if database_url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(database_url.removeprefix("sqlite:///"))) as db:
            return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table}"))
    finally:
        await conn.close()


async def test_create_returns_the_form_and_records_form_created(client: httpx.AsyncClient) -> None:
    body = registration_form() | {"description": "Sign up for the event"}
    form = await create(client, body)
    assert uuid.UUID(form["id"])
    assert form["name"] == "Registration Form"
    assert form["description"] == "Sign up for the event"
    assert form["fields"] == body["fields"]
    assert form["validation"] == body["validation"]
    assert form["notifications"] == []
    assert form["version"] == 1
    assert form["status"] == "active"
    assert form["createdAt"] == form["updatedAt"]

    [event] = await events_of(client, form["id"])
    assert event["type"] == "form.created"
    assert event["aggregateType"] == "form"
    assert event["sequenceNumber"] == 1
    assert event["payload"]["formId"] == form["id"]
    assert event["payload"]["name"] == "Registration Form"
    assert event["payload"]["version"] == 1
    assert event["payload"]["definition"] == {
        "fields": body["fields"],
        "validation": body["validation"],
        "notifications": [],
    }

    fetched = await client.get(f"/v1/forms/forms/{form['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == {"success": True, "data": form}


async def test_creating_a_form_announces_the_committed_position(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Live-stream listeners hear about events written by the engines, not only by publish."""
    heard: list[int] = []
    runtime.events.add_listener(heard.append)
    form = await create(client)
    [event] = await events_of(client, form["id"])
    assert heard == [event["position"]]


async def test_broken_definitions_are_400_and_store_nothing(
    client: httpx.AsyncClient, database_url: str
) -> None:
    broken = {
        "duplicate field names": (
            FormBuilder().with_text_field("a").with_text_field("a").build(),
            "fields[1].name",
        ),
        "bad field name": (FormBuilder().with_text_field("first-name").build(), "fields[0].name"),
        "unknown field type": (FormBuilder().with_field("a", "colour").build(), "fields[0].type"),
        "rule on an unknown field": (
            FormBuilder().with_text_field("a").with_validation([{"field": "b", "type": "email"}]),
            "validation[0].field",
        ),
        "unknown rule type": (
            FormBuilder().with_text_field("a").with_validation([{"field": "a", "type": "luhn"}]),
            "validation[0].type",
        ),
        "parameter of the wrong kind": (
            FormBuilder()
            .with_text_field("a")
            .with_validation([{"field": "a", "type": "maxLength", "value": "ten"}]),
            "validation[0].value",
        ),
        "invalid regex": (
            FormBuilder()
            .with_text_field("a")
            .with_validation([{"field": "a", "type": "pattern", "value": "[a-"}]),
            "validation[0].value",
        ),
        "choice field without options": (
            FormBuilder().with_field("a", "select").build(),
            "fields[0].options",
        ),
        "bad notification": (
            FormBuilder().with_text_field("a").with_notification(to=[], subject="x").build(),
            "notifications[0].to",
        ),
    }
    for what, (body, place) in broken.items():
        payload = body.build() if isinstance(body, FormBuilder) else body
        response = await client.post("/v1/forms/forms", json=payload)
        assert response.status_code == 400, what
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR", what
        assert "validation" in error["message"], what
        assert place in error["message"], (what, error["message"])
        assert place in [d["field"] for d in error["details"]], what

    listed = await client.get("/v1/forms/forms")
    assert listed.json()["data"]["forms"] == []
    query = await client.post("/v1/events/events/query", json={"query": {}})
    assert query.json()["data"]["events"] == []
    assert await count_rows(database_url, "forms") == 0
    assert await count_rows(database_url, "form_versions") == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ([1, 2], 400, "VALIDATION_ERROR"),
        ("a form", 400, "VALIDATION_ERROR"),
        (None, 400, "VALIDATION_ERROR"),
    ],
)
async def test_bodies_that_are_not_objects_are_400(
    client: httpx.AsyncClient, body: Any, status: int, code: str
) -> None:
    response = await client.post("/v1/forms/forms", json=body)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_malformed_json_and_wrong_media_type(client: httpx.AsyncClient) -> None:
    malformed = await client.post(
        "/v1/forms/forms", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["error"]["code"] == "INVALID_JSON"
    form = await client.post(
        "/v1/forms/forms", content=b"name=x", headers={"content-type": "text/plain"}
    )
    assert form.status_code == 415


async def test_update_makes_a_new_version_and_keeps_the_old_one(
    client: httpx.AsyncClient,
) -> None:
    form = await create(client)
    replacement = (
        FormBuilder()
        .with_name("Registration v2")
        .with_text_field("name", True)
        .with_email_field("email", True)
        .with_field("age", "integer", validation={"min": 18})
        .build()
    )
    response = await client.put(
        f"/v1/forms/forms/{form['id']}", json=replacement | {"expectedVersion": 1}
    )
    assert response.status_code == 200, response.text
    updated = response.json()["data"]
    assert updated["version"] == 2
    assert updated["name"] == "Registration v2"
    assert updated["fields"] == replacement["fields"]
    assert updated["createdAt"] == form["createdAt"]
    assert updated["updatedAt"] > form["updatedAt"]

    old = await client.get(f"/v1/forms/forms/{form['id']}", params={"version": 1})
    assert old.status_code == 200
    assert old.json()["data"]["version"] == 1
    assert old.json()["data"]["fields"] == form["fields"]
    current = await client.get(f"/v1/forms/forms/{form['id']}")
    assert current.json()["data"] == updated
    missing = await client.get(f"/v1/forms/forms/{form['id']}", params={"version": 3})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "FORM_NOT_FOUND"

    events = await events_of(client, form["id"])
    assert [(e["type"], e["sequenceNumber"]) for e in events] == [
        ("form.created", 1),
        ("form.updated", 2),
    ]
    assert events[1]["payload"]["version"] == 2
    assert events[1]["payload"]["definition"]["fields"] == replacement["fields"]


async def test_stale_expected_version_is_409(client: httpx.AsyncClient) -> None:
    form = await create(client)
    await client.put(f"/v1/forms/forms/{form['id']}", json=registration_form())
    stale = await client.put(
        f"/v1/forms/forms/{form['id']}", json=registration_form() | {"expectedVersion": 1}
    )
    assert stale.status_code == 409
    error = stale.json()["error"]
    assert error["code"] == "VERSION_CONFLICT"
    assert error["details"] == {"expectedVersion": 1, "actualVersion": 2}
    bad = await client.put(
        f"/v1/forms/forms/{form['id']}", json=registration_form() | {"expectedVersion": "2"}
    )
    assert bad.status_code == 400


async def test_racing_updates_with_the_same_expected_version_let_one_win(
    client: httpx.AsyncClient,
) -> None:
    form = await create(client)
    bodies = [
        FormBuilder().with_name(f"Racer {i}").with_text_field("x").build() | {"expectedVersion": 1}
        for i in range(2)
    ]
    responses = await asyncio.gather(
        *(client.put(f"/v1/forms/forms/{form['id']}", json=b) for b in bodies)
    )
    assert sorted(r.status_code for r in responses) == [200, 409]
    loser = next(r for r in responses if r.status_code == 409)
    assert loser.json()["error"]["code"] == "VERSION_CONFLICT"
    winner = next(r for r in responses if r.status_code == 200).json()["data"]
    current = (await client.get(f"/v1/forms/forms/{form['id']}")).json()["data"]
    assert current["version"] == 2
    assert current["name"] == winner["name"]
    assert [e["type"] for e in await events_of(client, form["id"])] == [
        "form.created",
        "form.updated",
    ]


async def test_a_failed_append_leaves_the_update_unstored(
    client: httpx.AsyncClient, database_url: str, runtime: Runtime
) -> None:
    """An event someone else put on the form's aggregate makes the update conflict and roll back.

    (Through the API a raw event to a form is refused; it is put straight into the store here.)
    """
    form = await create(client)
    intruder = {"type": "form.annotated", "aggregateId": form["id"], "sequenceNumber": 2}
    refused = await client.post("/v1/events/events", json={"event": intruder})
    assert refused.json()["error"]["code"] == "AGGREGATE_OWNED"
    await runtime.store.append([NewEvent.model_validate(intruder)])

    response = await client.put(f"/v1/forms/forms/{form['id']}", json=registration_form())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SEQUENCE_CONFLICT"
    current = (await client.get(f"/v1/forms/forms/{form['id']}")).json()["data"]
    assert current == form
    assert (await client.get(f"/v1/forms/forms/{form['id']}?version=2")).status_code == 404
    assert await count_rows(database_url, "form_versions") == 1


async def test_a_failed_append_leaves_no_new_form(
    client: httpx.AsyncClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the id the form would get already has events, the form is not stored at all."""
    taken = str(uuid.uuid4())
    squatter = {"type": "form.created", "aggregateId": taken}
    assert (await client.post("/v1/events/events", json={"event": squatter})).status_code == 201
    monkeypatch.setattr(
        "pliers.forms.service.uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(taken))
    )

    response = await client.post("/v1/forms/forms", json=registration_form())
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SEQUENCE_CONFLICT"
    assert (await client.get(f"/v1/forms/forms/{taken}")).status_code == 404
    assert await count_rows(database_url, "forms") == 0
    assert len(await events_of(client, taken)) == 1


async def test_archive(client: httpx.AsyncClient) -> None:
    form = await create(client)
    response = await client.delete(f"/v1/forms/forms/{form['id']}")
    assert response.status_code == 200
    archived = response.json()["data"]
    assert archived["status"] == "archived"
    assert archived["version"] == 1

    again = await client.delete(f"/v1/forms/forms/{form['id']}")
    assert again.status_code == 200
    assert again.json()["data"] == archived
    update = await client.put(f"/v1/forms/forms/{form['id']}", json=registration_form())
    assert update.status_code == 409
    assert update.json()["error"]["code"] == "FORM_ARCHIVED"
    events = await events_of(client, form["id"])
    assert [e["type"] for e in events] == ["form.created", "form.archived"]
    assert events[1]["payload"] == {"formId": form["id"], "name": form["name"], "version": 1}


@pytest.mark.parametrize(
    "form_id",
    ["5b0c6c8e-8a0c-4f53-9a46-3f0b1f3f9d11", "not a uuid", "x" * 300, "nul%00", "%ED%A0%80"],
)
async def test_unknown_form_is_404(client: httpx.AsyncClient, form_id: str) -> None:
    for method, path in [
        ("GET", "/v1/forms/forms/{id}"),
        ("PUT", "/v1/forms/forms/{id}"),
        ("DELETE", "/v1/forms/forms/{id}"),
        ("GET", "/v1/forms/forms/{id}/submissions.csv"),
    ]:
        body = registration_form() if method == "PUT" else None
        response = await client.request(method, path.format(id=form_id), json=body)
        assert response.status_code == 404, (method, path)
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "FORM_NOT_FOUND"


async def test_list_walks_every_form_once(client: httpx.AsyncClient) -> None:
    created = [
        await create(client, FormBuilder().with_name(f"F{i}").with_text_field("a").build())
        for i in range(5)
    ]
    await client.delete(f"/v1/forms/forms/{created[1]['id']}")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = (await client.get("/v1/forms/forms", params=params)).json()["data"]
        seen.extend(f["name"] for f in page["forms"])
        assert len(page["forms"]) <= 2
        if not page["hasMore"]:
            assert page["nextCursor"] is None
            break
        cursor = page["nextCursor"]
    assert seen == ["F0", "F1", "F2", "F3", "F4"]

    archived = (await client.get("/v1/forms/forms", params={"status": "archived"})).json()["data"]
    assert [f["name"] for f in archived["forms"]] == ["F1"]
    bad = await client.get("/v1/forms/forms", params={"cursor": "garbage"})
    assert bad.status_code == 400
    assert (await client.get("/v1/forms/forms", params={"limit": 0})).status_code == 400


async def test_a_form_is_private_unless_it_says_public(client: httpx.AsyncClient) -> None:
    form = await create(client)
    assert form["public"] is False
    assert form["allowedOrigins"] == []


async def test_public_settings_are_stored_returned_and_recorded(client: httpx.AsyncClient) -> None:
    body = registration_form() | {"public": True, "allowedOrigins": ["https://example.com"]}
    form = await create(client, body)
    assert form["public"] is True
    assert form["allowedOrigins"] == ["https://example.com"]
    fetched = (await client.get(f"/v1/forms/forms/{form['id']}")).json()["data"]
    assert fetched["public"] is True
    assert fetched["allowedOrigins"] == ["https://example.com"]
    [event] = await events_of(client, form["id"])
    assert event["payload"]["definition"]["public"] is True

    replaced = await client.put(f"/v1/forms/forms/{form['id']}", json=registration_form())
    assert replaced.status_code == 200
    assert replaced.json()["data"]["public"] is False  # a replacement replaces the settings too
