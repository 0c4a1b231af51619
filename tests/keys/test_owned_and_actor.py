"""Engine-owned aggregates refuse raw events; every event records who wrote it."""

from __future__ import annotations

import httpx
import pytest
from keys_helpers import bearer, make_key

from pliers.testing.factories import FormBuilder

pytestmark = pytest.mark.integration


async def engine_ids(http: httpx.AsyncClient, admin: dict[str, str]) -> dict[str, str]:
    """A form, a submission to it and the notification it queued."""
    body = (
        FormBuilder()
        .with_name("Owned")
        .with_text_field("name", True)
        .with_notification(to=["ops@example.com"], subject="New")
        .build()
    )
    form = (await http.post("/v1/forms/forms", json=body, headers=admin)).json()["data"]
    submission = await http.post(
        "/v1/submissions/submissions",
        json={"formId": form["id"], "data": {"name": "Ada"}},
        headers=admin,
    )
    submission_id = submission.json()["data"]["id"]
    listed = await http.get(f"/v1/notifications?submissionId={submission_id}", headers=admin)
    [notification] = listed.json()["data"]["notifications"]
    return {"form": form["id"], "submission": submission_id, "notification": notification["id"]}


async def test_raw_events_to_engine_aggregates_are_409_whatever_the_key(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    owned = await engine_ids(http, admin)
    writer = bearer((await make_key(http, admin, ["events:write"]))["key"])
    for kind, aggregate_id in owned.items():
        before = await http.get(f"/v1/events/events/aggregates/{aggregate_id}", headers=admin)
        for headers in (admin, writer):
            single = await http.post(
                "/v1/events/events",
                json={"event": {"type": "form.archived", "aggregateId": aggregate_id}},
                headers=headers,
            )
            assert single.status_code == 409, (kind, single.text)
            assert single.json()["error"]["code"] == "AGGREGATE_OWNED"
            batch = await http.post(
                "/v1/events/events/batch",
                json={
                    "events": [
                        {"type": "other.thing", "aggregateId": "free-aggregate"},
                        {"type": "other.thing", "aggregateId": aggregate_id},
                    ]
                },
                headers=headers,
            )
            assert batch.status_code == 409, (kind, batch.text)
            assert batch.json()["error"]["code"] == "AGGREGATE_OWNED"
        after = await http.get(f"/v1/events/events/aggregates/{aggregate_id}", headers=admin)
        assert after.json() == before.json()
    free = await http.get("/v1/events/events/aggregates/free-aggregate", headers=admin)
    assert free.json()["data"]["events"] == []
    # the engine still works on its own aggregate
    form_id = owned["form"]
    assert (await http.delete(f"/v1/forms/forms/{form_id}", headers=admin)).status_code == 200


async def test_raw_events_to_other_aggregates_stay_allowed_and_record_the_key(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    key = await make_key(http, admin, ["events:write", "events:read"])
    event = {
        "type": "form.created",
        "aggregateId": "form-123",
        "metadata": {"actor": "someone-else", "source": "import"},
    }
    for aggregate_id in ("form-123", "7f8e2a0c-0b6e-4b8e-9c1d-2f3a4b5c6d7e"):
        sent = await http.post(
            "/v1/events/events",
            json={"event": {**event, "aggregateId": aggregate_id}},
            headers=bearer(key["key"]),
        )
        assert sent.status_code == 201, sent.text
        read = await http.get(
            f"/v1/events/events/aggregates/{aggregate_id}", headers=bearer(key["key"])
        )
        [stored] = read.json()["data"]["events"]
        assert stored["metadata"] == {"actor": key["id"], "source": "import"}


async def test_engine_events_record_the_acting_key(
    http: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    key = await make_key(http, admin, ["forms:write", "submissions:write", "events:read"])
    body = FormBuilder().with_name("Actor").with_text_field("name").build()
    form = (await http.post("/v1/forms/forms", json=body, headers=bearer(key["key"]))).json()
    form_id = form["data"]["id"]
    submissions = [
        http.post(
            "/v1/submissions/submissions",
            json={"formId": form_id, "data": {"name": f"n{i}"}},
            headers=bearer(key["key"]) if i % 2 else admin,
        )
        for i in range(6)
    ]
    import asyncio

    sent = await asyncio.gather(*submissions)
    for i, response in enumerate(sent):
        assert response.status_code == 201
        events = await http.get(
            f"/v1/events/events/aggregates/{response.json()['data']['id']}", headers=admin
        )
        [created] = events.json()["data"]["events"]
        assert created["metadata"]["actor"] == (key["id"] if i % 2 else "admin")
    form_events = await http.get(f"/v1/events/events/aggregates/{form_id}", headers=admin)
    assert form_events.json()["data"]["events"][0]["metadata"]["actor"] == key["id"]
