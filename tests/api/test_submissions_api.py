"""The Submission Engine over HTTP, on PostgreSQL and SQLite, with the seed's workflow cases."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import sqlite3
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from pliers.api.app import create_app
from pliers.errors import Conflict, ValidationError
from pliers.events.store import Transaction
from pliers.runtime import Runtime
from pliers.submissions.model import Written
from pliers.submissions.service import SubmissionService
from pliers.testing import client_for, running_runtime
from pliers.testing.factories import FormBuilder

pytestmark = pytest.mark.integration


async def create_form(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/forms/forms", json=body)
    assert response.status_code == 201, response.text
    form: dict[str, Any] = response.json()["data"]
    return form


async def submit(
    client: httpx.AsyncClient, form_id: str, data: dict[str, Any], **extra: Any
) -> httpx.Response:
    return await client.post(
        "/v1/submissions/submissions", json={"formId": form_id, "data": data, **extra}
    )


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


async def test_complete_form_creation_and_submission_workflow(
    client: httpx.AsyncClient, form_builder: FormBuilder
) -> None:
    """The seed's workflow: form.created, then submission.created pointing back at the form."""
    form_data = (
        form_builder.with_name("Registration Form")
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
    created = await client.post("/v1/forms/forms", json=form_data)
    assert created.status_code == 201
    assert created.json()["success"] is True
    form_id = created.json()["data"]["id"]

    form_events = await client.get(f"/v1/events/events/aggregates/{form_id}")
    assert form_events.status_code == 200
    assert len(form_events.json()["data"]["events"]) == 1
    assert form_events.json()["data"]["events"][0]["type"] == "form.created"

    submitted = await submit(
        client, form_id, {"name": "John Doe", "email": "john@example.com"}, submittedBy="user-123"
    )
    assert submitted.status_code == 201
    assert submitted.json()["success"] is True
    submission = submitted.json()["data"]
    assert submission["formId"] == form_id
    assert submission["formVersion"] == 1
    assert submission["data"] == {"name": "John Doe", "email": "john@example.com"}
    assert submission["submittedBy"] == "user-123"
    assert submission["status"] == "submitted"
    assert uuid.UUID(submission["id"])

    submission_events = await client.get(f"/v1/events/events/aggregates/{submission['id']}")
    assert submission_events.status_code == 200
    [event] = submission_events.json()["data"]["events"]
    assert event["type"] == "submission.created"
    assert event["aggregateType"] == "submission"
    assert event["payload"] == {
        "submissionId": submission["id"],
        "formId": form_id,
        "formVersion": 1,
        "data": {"name": "John Doe", "email": "john@example.com"},
        "submittedBy": "user-123",
    }

    everything = await client.post(
        "/v1/events/events/query",
        json={"query": {"eventTypes": ["form.created", "submission.created"], "limit": 10}},
    )
    assert everything.status_code == 200
    events = everything.json()["data"]["events"]
    assert len(events) == 2
    form_event = next(e for e in events if e["type"] == "form.created")
    submission_event = next(e for e in events if e["type"] == "submission.created")
    assert submission_event["payload"]["formId"] == form_event["aggregateId"]

    fetched = await client.get(f"/v1/submissions/submissions/{submission['id']}")
    assert fetched.json() == {"success": True, "data": submission}


async def test_form_validation_during_submission(
    client: httpx.AsyncClient, form_builder: FormBuilder, database_url: str
) -> None:
    """The seed's case: an invalid e-mail is a 400 whose message says validation."""
    form = await create_form(
        client,
        form_builder.with_name("Validated Form")
        .with_text_field("email", True)
        .with_validation([{"field": "email", "type": "email"}])
        .build(),
    )
    response = await submit(client, form["id"], {"email": "invalid-email"}, submittedBy="user-123")
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "validation" in body["error"]["message"].lower()
    assert body["error"]["details"] == [
        {"field": "email", "rule": "email", "message": "email must be an e-mail address"}
    ]
    assert await count_rows(database_url, "submissions") == 0


async def test_every_failure_is_reported_with_custom_messages(client: httpx.AsyncClient) -> None:
    form = await create_form(
        client,
        FormBuilder()
        .with_text_field("name", True, validation={"minLength": 2, "message": "Name too short"})
        .with_field("age", "integer", validation={"min": 18})
        .with_select_field("size", ["S", "M", "L"])
        .build(),
    )
    response = await submit(client, form["id"], {"name": "J", "age": 12, "size": "XL", "zip": 1})
    assert response.status_code == 400
    error = response.json()["error"]
    assert "validation" in error["message"]
    assert error["details"] == [
        {"field": "zip", "rule": "unknown", "message": "'zip' is not a field of this form"},
        {"field": "name", "rule": "minLength", "message": "Name too short"},
        {"field": "age", "rule": "min", "message": "age must be at least 18"},
        {
            "field": "size",
            "rule": "select",
            "message": "size must be one of the options ('S', 'M', 'L')",
        },
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"data": {}},
        {"formId": "x"},
        {"formId": "x", "data": [1]},
        {"formId": 5, "data": {}},
        {"formId": "x", "data": {}, "submittedBy": ""},
        {"formId": "x", "data": {}, "extra": True},
    ],
)
async def test_malformed_submission_requests_are_400(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post("/v1/submissions/submissions", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_unstorable_text_is_a_validation_error(client: httpx.AsyncClient) -> None:
    """NUL characters and lone surrogates are refused, never a 500."""
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    for payload in (
        '{"formId": "%s", "data": {"a": "nul\\u0000"}}',
        '{"formId": "%s", "data": {"a": "\\ud800"}}',
        '{"formId": "%s", "data": {"\\ud800": 1}}',
        '{"formId": "%s", "data": {}, "metadata": {"k": "\\u0000"}}',
        '{"formId": "%s", "data": {}, "submittedBy": "\\udfff"}',
    ):
        response = await client.post(
            "/v1/submissions/submissions",
            content=(payload % form["id"]).encode(),
            headers={"content-type": "application/json"},
        )
        assert response.status_code == 400, (payload, response.text)
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_submissions_use_the_current_version(client: httpx.AsyncClient) -> None:
    form = await create_form(client, FormBuilder().with_text_field("a", True).build())
    v2 = FormBuilder().with_text_field("b", True).build()
    assert (await client.put(f"/v1/forms/forms/{form['id']}", json=v2)).status_code == 200
    old_shape = await submit(client, form["id"], {"a": "x"})
    assert old_shape.status_code == 400
    new_shape = await submit(client, form["id"], {"b": "x"})
    assert new_shape.status_code == 201
    assert new_shape.json()["data"]["formVersion"] == 2


async def test_unknown_form_and_unknown_submission_are_404(client: httpx.AsyncClient) -> None:
    response = await submit(client, str(uuid.uuid4()), {"a": 1})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "FORM_NOT_FOUND"
    missing = await client.get(f"/v1/submissions/submissions/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "SUBMISSION_NOT_FOUND"
    listing = await client.get("/v1/submissions/submissions", params={"formId": "nope"})
    assert listing.status_code == 404
    assert listing.json()["error"]["code"] == "FORM_NOT_FOUND"


async def test_archived_form_refuses_submissions(
    client: httpx.AsyncClient, database_url: str
) -> None:
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    assert (await client.delete(f"/v1/forms/forms/{form['id']}")).status_code == 200
    response = await submit(client, form["id"], {"a": "x"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "FORM_ARCHIVED"
    assert await count_rows(database_url, "submissions") == 0


async def test_hooks_run_in_the_transaction_with_the_api_resources(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []

    async def hook(tx: Transaction, written: Sequence[Written]) -> None:
        assert tx.connection is not None
        seen.extend((w.form, w.submission) for w in written)

    runtime.submission_hooks.append(hook)
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    response = await submit(client, form["id"], {"a": "x"}, submittedBy="me")
    assert response.status_code == 201
    fetched_form = (await client.get(f"/v1/forms/forms/{form['id']}")).json()["data"]
    assert seen == [(fetched_form, response.json()["data"])]


async def test_hooks_are_called_once_per_group_with_each_submission(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Concurrent submissions reach a hook together, so it can store what it derives at once."""
    calls: list[list[str]] = []

    async def hook(tx: Transaction, written: Sequence[Written]) -> None:
        calls.append([w.submission["id"] for w in written])

    runtime.submission_hooks.append(hook)
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    responses = await asyncio.gather(
        *(submit(client, form["id"], {"a": str(i)}) for i in range(30))
    )
    assert [r.status_code for r in responses] == [201] * 30
    hooked = [submission_id for call in calls for submission_id in call]
    assert sorted(hooked) == sorted(r.json()["data"]["id"] for r in responses)
    assert len(calls) < 30


@pytest.mark.parametrize(
    ("failure", "status"), [(Conflict("the outbox is full"), 409), (RuntimeError("boom"), 500)]
)
async def test_a_failing_hook_rolls_the_submission_back(
    app: FastAPI,
    client: httpx.AsyncClient,
    runtime: Runtime,
    database_url: str,
    failure: Exception,
    status: int,
) -> None:
    async def hook(tx: Transaction, written: Sequence[Written]) -> None:
        raise failure

    form = await create_form(client, FormBuilder().with_text_field("a").build())
    runtime.submission_hooks.append(hook)
    # a bug in a hook is a 500 response, not an exception raised into the test
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://pliers.test") as tolerant:
        response = await submit(tolerant, form["id"], {"a": "x"})
    assert response.status_code == status
    if status == 500:
        assert response.json()["error"] == {
            "code": "INTERNAL_ERROR",
            "message": "internal server error",
        }
    assert await count_rows(database_url, "submissions") == 0
    listing = await client.get("/v1/submissions/submissions", params={"formId": form["id"]})
    assert listing.json()["data"]["submissions"] == []
    query = await client.post(
        "/v1/events/events/query", json={"query": {"eventTypes": ["submission.created"]}}
    )
    assert query.json()["data"]["events"] == []


async def test_an_occupied_aggregate_rolls_the_submission_back(
    client: httpx.AsyncClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the submission's aggregate already has an event, nothing of the submission is kept."""
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    taken = str(uuid.uuid4())
    squatter = {"type": "submission.created", "aggregateId": taken}
    assert (await client.post("/v1/events/events", json={"event": squatter})).status_code == 201
    monkeypatch.setattr(
        "pliers.submissions.service.uuid", SimpleNamespace(uuid4=lambda: uuid.UUID(taken))
    )
    response = await submit(client, form["id"], {"a": "x"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SEQUENCE_CONFLICT"
    assert (await client.get(f"/v1/submissions/submissions/{taken}")).status_code == 404
    assert await count_rows(database_url, "submissions") == 0


async def test_list_submissions_of_a_form_page_by_page(client: httpx.AsyncClient) -> None:
    form = await create_form(client, FormBuilder().with_field("n", "integer").build())
    other = await create_form(client, FormBuilder().with_field("n", "integer").build())
    for n in range(5):
        assert (await submit(client, form["id"], {"n": n})).status_code == 201
        assert (await submit(client, other["id"], {"n": 100 + n})).status_code == 201
    seen: list[int] = []
    params: dict[str, Any] = {"formId": form["id"], "limit": 2}
    while True:
        page = (await client.get("/v1/submissions/submissions", params=params)).json()["data"]
        seen.extend(s["data"]["n"] for s in page["submissions"])
        if not page["hasMore"]:
            break
        params["cursor"] = page["nextCursor"]
    assert seen == [0, 1, 2, 3, 4]
    everything = (await client.get("/v1/submissions/submissions?limit=100")).json()["data"]
    assert len(everything["submissions"]) == 10


async def test_csv_export_round_trips_and_neutralises_formulas(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("pliers.submissions.service.EXPORT_PAGE", 64)  # several pages
    form = await create_form(
        client,
        FormBuilder()
        .with_text_field("name", True)
        .with_field("comment", "textarea")
        .with_field("count", "integer")
        .with_field("tags", "multiselect", options=["a", "b", "c"])
        .with_field("id", "text")
        .build(),
    )
    tricky = [
        "=cmd|' /C calc'!A0",
        "+1+1",
        "-2+3",
        "@SUM(A1)",
        "\tx",
        "a,b",
        'say "hi"',
        "line\nbreak",
    ]
    sent = []
    for i in range(300):
        data: dict[str, Any] = {"name": f"person {i}", "count": i - 150, "tags": ["a", "c"]}
        if i < len(tricky):
            data["comment"] = tricky[i]
        response = await submit(client, form["id"], data, submittedBy=f"user-{i}")
        assert response.status_code == 201
        sent.append(response.json()["data"])

    response = await client.get(f"/v1/forms/forms/{form['id']}/submissions.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert list(rows[0]) == [
        "id",
        "formVersion",
        "submittedBy",
        "createdAt",
        "name",
        "comment",
        "count",
        "tags",
        "data.id",
    ]
    assert len(rows) == 300
    assert [r["id"] for r in rows] == [s["id"] for s in sent]
    assert rows[0]["submittedBy"] == "user-0"
    assert rows[0]["createdAt"] == sent[0]["createdAt"]
    assert rows[0]["formVersion"] == "1"
    assert rows[0]["count"] == "-150"
    assert rows[0]["tags"] == "a; c"
    assert rows[299]["name"] == "person 299"
    assert rows[299]["comment"] == ""
    assert [r["comment"] for r in rows[: len(tricky)]] == [
        "'=cmd|' /C calc'!A0",
        "'+1+1",
        "'-2+3",
        "'@SUM(A1)",
        "'\tx",
        "a,b",
        'say "hi"',
        "line\nbreak",
    ]


async def test_csv_keeps_the_answers_to_fields_of_earlier_versions(
    client: httpx.AsyncClient,
) -> None:
    """A field removed or renamed by a later version still has its column, after the current."""
    form = await create_form(
        client, FormBuilder().with_text_field("email").with_text_field("phone").build()
    )
    first = await submit(client, form["id"], {"email": "a@example.com", "phone": "555-0100"})
    v2 = FormBuilder().with_text_field("email").with_text_field("mobile").build()
    assert (await client.put(f"/v1/forms/forms/{form['id']}", json=v2)).status_code == 200
    v3 = FormBuilder().with_text_field("mobile").with_text_field("email").build()
    assert (await client.put(f"/v1/forms/forms/{form['id']}", json=v3)).status_code == 200
    second = await submit(client, form["id"], {"email": "b@example.com", "mobile": "555-0199"})
    assert first.status_code == second.status_code == 201

    response = await client.get(f"/v1/forms/forms/{form['id']}/submissions.csv")
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert list(rows[0]) == [
        "id",
        "formVersion",
        "submittedBy",
        "createdAt",
        "mobile",
        "email",
        "phone",
    ]
    assert [(r["formVersion"], r["email"], r["mobile"], r["phone"]) for r in rows] == [
        ("1", "a@example.com", "", "555-0100"),
        ("3", "b@example.com", "555-0199", ""),
    ]


async def test_csv_of_a_form_without_submissions_is_the_header(client: httpx.AsyncClient) -> None:
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    response = await client.get(f"/v1/forms/forms/{form['id']}/submissions.csv")
    assert response.status_code == 200
    assert response.text == "id,formVersion,submittedBy,createdAt,a\r\n"


@pytest.mark.parametrize("submission_id", ["nul%00byte", "%ED%A0%80", "x" * 300, "a b"])
async def test_odd_submission_ids_are_404(client: httpx.AsyncClient, submission_id: str) -> None:
    response = await client.get(f"/v1/submissions/submissions/{submission_id}")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "SUBMISSION_NOT_FOUND"


async def test_concurrent_submissions_succeed_or_fail_each_on_their_own(
    client: httpx.AsyncClient, runtime: Runtime, database_url: str
) -> None:
    """Submissions written together in one transaction still fail alone."""

    async def hook(tx: Transaction, written: Sequence[Written]) -> None:
        if any(w.submission["data"]["n"] == 13 for w in written):
            raise Conflict("thirteen is unlucky")

    runtime.submission_hooks.append(hook)
    form = await create_form(
        client, FormBuilder().with_field("n", "integer", required=True).build()
    )
    datas: list[dict[str, Any]] = [{"n": n} for n in range(40)]
    datas[7] = {"n": "seven"}
    responses = await asyncio.gather(*(submit(client, form["id"], d) for d in datas))
    statuses = [r.status_code for r in responses]
    assert statuses[7] == 400
    assert statuses[13] == 409
    assert statuses.count(201) == 38
    stored = await client.get(
        "/v1/submissions/submissions", params={"formId": form["id"], "limit": 100}
    )
    stored_ns = sorted(s["data"]["n"] for s in stored.json()["data"]["submissions"])
    assert stored_ns == [n for n in range(40) if n not in (7, 13)]
    assert await count_rows(database_url, "submissions") == 38
    query = await client.post(
        "/v1/events/events/query",
        json={"query": {"eventTypes": ["submission.created"], "limit": 100}},
    )
    events = query.json()["data"]["events"]
    assert sorted(e["payload"]["data"]["n"] for e in events) == stored_ns
    positions = [e["position"] for e in events]
    assert positions == sorted(set(positions))


async def test_a_failed_group_append_is_retried_one_by_one(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An append that fails for one submission of a group does not fail the others.

    The submission given an id that is already taken is retried alone with a fresh id.
    """
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    taken = str(uuid.uuid4())
    squatter = {"type": "submission.created", "aggregateId": taken}
    assert (await client.post("/v1/events/events", json={"event": squatter})).status_code == 201
    ids = iter([uuid.UUID(taken), *(uuid.uuid4() for _ in range(100))])
    monkeypatch.setattr("pliers.submissions.service.uuid", SimpleNamespace(uuid4=lambda: next(ids)))
    retried: list[int] = []
    one_by_one = SubmissionService._write_one_by_one

    async def spy(self: SubmissionService, requests: list[Any]) -> list[Any]:
        retried.append(len(requests))
        return await one_by_one(self, requests)

    monkeypatch.setattr(SubmissionService, "_write_one_by_one", spy)
    responses = await asyncio.gather(
        *(submit(client, form["id"], {"a": str(n)}) for n in range(10))
    )
    assert [r.status_code for r in responses] == [201] * 10
    assert retried
    assert retried[0] > 1
    assert taken not in {r.json()["data"]["id"] for r in responses}
    listing = await client.get("/v1/submissions/submissions", params={"formId": form["id"]})
    assert sorted(s["data"]["a"] for s in listing.json()["data"]["submissions"]) == [
        str(n) for n in range(10)
    ]
    squatted = await client.get(f"/v1/events/events/aggregates/{taken}")
    assert len(squatted.json()["data"]["events"]) == 1


async def test_a_hook_failing_in_a_group_undoes_only_its_own_submission(
    client: httpx.AsyncClient, runtime: Runtime, database_url: str
) -> None:
    """Concurrent submissions are written together; one refused by a hook leaves the rest."""

    async def hook(tx: Transaction, written: Sequence[Written]) -> None:
        if any(w.submission["data"]["a"] == "refuse me" for w in written):
            raise ValidationError("Submission validation failed: refused by a hook")

    form = await create_form(client, FormBuilder().with_text_field("a").build())
    runtime.submission_hooks.append(hook)
    values = [f"value {i}" for i in range(9)] + ["refuse me"]
    responses = await asyncio.gather(*(submit(client, form["id"], {"a": v}) for v in values))
    assert [r.status_code for r in responses] == [201] * 9 + [400]
    assert await count_rows(database_url, "submissions") == 9
    query = await client.post(
        "/v1/events/events/query", json={"query": {"eventTypes": ["submission.created"]}}
    )
    assert len(query.json()["data"]["events"]) == 9


# -- Idempotency-Key ---------------------------------------------------------------------------


async def submit_once(
    client: httpx.AsyncClient, form_id: str, data: dict[str, Any], key: str, **extra: Any
) -> httpx.Response:
    return await client.post(
        "/v1/submissions/submissions",
        json={"formId": form_id, "data": data, **extra},
        headers={"Idempotency-Key": key},
    )


async def count_created(client: httpx.AsyncClient) -> int:
    query = await client.post(
        "/v1/events/events/query",
        json={"query": {"eventTypes": ["submission.created"], "limit": 1000}},
    )
    return len(query.json()["data"]["events"])


async def test_a_retry_with_the_same_idempotency_key_is_answered_with_the_stored_submission(
    client: httpx.AsyncClient, database_url: str
) -> None:
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    first = await submit_once(client, form["id"], {"a": "x"}, "key-1", submittedBy="ada")
    again = await submit_once(client, form["id"], {"a": "x"}, "key-1", submittedBy="ada")
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await count_rows(database_url, "submissions") == 1
    assert await count_created(client) == 1


async def test_a_different_submission_under_a_used_key_is_409(
    client: httpx.AsyncClient, database_url: str
) -> None:
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    first = await submit_once(client, form["id"], {"a": "x"}, "key-1")
    changes: tuple[dict[str, Any], ...] = (
        {"data": {"a": "y"}},
        {"data": {"a": "x"}, "submittedBy": "someone else"},
        {"data": {"a": "x"}, "metadata": {"source": "kiosk"}},
    )
    for changed in changes:
        data = changed.pop("data")
        response = await submit_once(client, form["id"], data, "key-1", **changed)
        assert response.status_code == 409, response.text
        error = response.json()["error"]
        assert error["code"] == "IDEMPOTENCY_KEY_REUSED"
        assert first.json()["data"]["id"] in error["message"]
    assert await count_rows(database_url, "submissions") == 1


async def test_idempotency_keys_are_per_form_and_optional(
    client: httpx.AsyncClient, database_url: str
) -> None:
    one = await create_form(client, FormBuilder().with_text_field("a").build())
    two = await create_form(client, FormBuilder().with_text_field("a").build())
    on_one = await submit_once(client, one["id"], {"a": "x"}, "shared")
    on_two = await submit_once(client, two["id"], {"a": "x"}, "shared")
    unkeyed = [await submit(client, one["id"], {"a": "x"}) for _ in range(2)]
    assert [r.status_code for r in (on_one, on_two, *unkeyed)] == [201] * 4
    assert len({r.json()["data"]["id"] for r in (on_one, on_two, *unkeyed)}) == 4
    assert await count_rows(database_url, "submissions") == 4


async def test_concurrent_requests_with_one_key_store_one_submission(
    client: httpx.AsyncClient, database_url: str
) -> None:
    """Retries racing each other (and other submissions in the same groups) store one."""
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    retries = [submit_once(client, form["id"], {"a": "x"}, "racing") for _ in range(20)]
    others = [submit_once(client, form["id"], {"a": str(i)}, f"other-{i}") for i in range(10)]
    responses = await asyncio.gather(*retries, *others)
    racing, other = responses[:20], responses[20:]
    assert sorted(r.status_code for r in racing) == [200] * 19 + [201]
    assert len({r.json()["data"]["id"] for r in racing}) == 1
    assert [r.status_code for r in other] == [201] * 10
    assert await count_rows(database_url, "submissions") == 11
    assert await count_created(client) == 11


async def test_a_retry_after_the_form_was_archived_gets_the_stored_submission(
    client: httpx.AsyncClient,
) -> None:
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    first = await submit_once(client, form["id"], {"a": "x"}, "before-archive")
    assert (await client.delete(f"/v1/forms/forms/{form['id']}")).status_code == 200
    again = await submit_once(client, form["id"], {"a": "x"}, "before-archive")
    assert again.status_code == 200
    assert again.json()["data"] == first.json()["data"]
    fresh = await submit_once(client, form["id"], {"a": "x"}, "after-archive")
    assert fresh.status_code == 409
    assert fresh.json()["error"]["code"] == "FORM_ARCHIVED"


@pytest.mark.parametrize("key", [b"", b"k" * 256, "clé".encode("latin-1"), b"tab\there"])
async def test_unusable_idempotency_keys_are_400(
    client: httpx.AsyncClient, database_url: str, key: bytes
) -> None:
    form = await create_form(client, FormBuilder().with_text_field("a").build())
    response = await client.post(
        "/v1/submissions/submissions",
        json={"formId": form["id"], "data": {"a": "x"}},
        headers={b"Idempotency-Key": key},
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert await count_rows(database_url, "submissions") == 0


async def test_two_processes_racing_with_one_key_store_one_submission(
    pliers_db_url: str,
) -> None:
    """Two runtimes on one PostgreSQL database: the unique index decides, the loser replays."""
    async with (
        running_runtime(pliers_db_url) as first_rt,
        running_runtime(pliers_db_url) as second_rt,
        client_for(create_app(runtime=first_rt)) as first,
        client_for(create_app(runtime=second_rt)) as second,
    ):
        form = await create_form(first, FormBuilder().with_text_field("a").build())
        for round_ in range(10):
            key = f"race-{round_}"
            responses = await asyncio.gather(
                *(submit_once(c, form["id"], {"a": "x"}, key) for c in (first, second) * 3)
            )
            assert sorted(r.status_code for r in responses) == [200] * 5 + [201], [
                r.text for r in responses
            ]
            assert len({r.json()["data"]["id"] for r in responses}) == 1
        assert await count_rows(pliers_db_url, "submissions") == 10
