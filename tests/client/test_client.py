"""``pliers.client`` against a live server on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from client_servers import ServerProcess

from pliers.api.contract import DEFINITION
from pliers.client import (
    AsyncPliers,
    Conflict,
    NotFound,
    Pliers,
    PublishResult,
    StoredEvent,
    UnsupportedMediaType,
    ValidationFailed,
)
from pliers.testing import LiveServer

pytestmark = pytest.mark.integration


async def test_events_publish_batch_aggregate_and_typed_results(pliers: AsyncPliers) -> None:
    published = await pliers.events.publish(
        {"type": "order.placed", "aggregateId": "order-1", "payload": {"total": 12}}
    )
    assert isinstance(published, PublishResult)
    assert published.sequence_number == 1
    assert published.duplicate is None
    batch = await pliers.events.batch(
        [{"type": "order.paid", "aggregateId": "order-1"}, {"type": "order.shipped",
                                                           "aggregateId": "order-1"}]
    )  # fmt: skip
    assert batch.count == 2
    assert [r.sequence_number for r in batch.events] == [2, 3]
    events = await pliers.events.aggregate("order-1")
    assert all(isinstance(e, StoredEvent) for e in events)
    assert [e.type for e in events] == ["order.placed", "order.paid", "order.shipped"]
    assert events[0].payload == {"total": 12}
    assert [e.sequence_number for e in await pliers.events.aggregate("order-1", limit=2)] == [1, 2]


async def test_query_iterates_over_every_page(pliers: AsyncPliers) -> None:
    """250 events read 7 at a time: every one once, in position order, over 36 pages."""
    for start in range(0, 250, 50):
        await pliers.events.batch(
            [{"type": "tick.counted", "aggregateId": f"t-{i}", "payload": {"i": i}}
             for i in range(start, start + 50)]
        )  # fmt: skip
    await pliers.events.publish({"type": "other.thing", "aggregateId": "x"})
    first = await pliers.events.query_page(eventTypes=["tick.counted"], limit=7)
    assert first.has_more
    assert first.next_cursor is not None
    found = [e async for e in pliers.events.query(eventTypes=["tick.counted"], limit=7)]
    assert [e.payload["i"] for e in found] == list(range(250))
    positions = [e.position for e in found]
    assert positions == sorted(set(positions))


async def test_each_error_code_is_a_typed_exception(pliers: AsyncPliers) -> None:
    event = {"type": "a.b", "aggregateId": "agg-1", "id": "e-1", "sequenceNumber": 1}
    await pliers.events.publish(event)
    again = await pliers.events.publish(event)
    assert again.duplicate is True
    with pytest.raises(Conflict) as conflict:
        await pliers.events.publish({**event, "id": "e-2"})
    assert conflict.value.status == 409
    assert conflict.value.code == "SEQUENCE_CONFLICT"
    assert "sequence" in conflict.value.message
    with pytest.raises(Conflict) as duplicate:
        await pliers.events.publish({**event, "payload": {"other": True}})
    assert duplicate.value.code == "DUPLICATE_EVENT"
    with pytest.raises(ValidationFailed) as invalid:
        await pliers.events.publish({"type": "NOT VALID", "aggregateId": ""})
    assert invalid.value.status == 400
    assert invalid.value.code == "VALIDATION_ERROR"
    assert {d["field"] for d in invalid.value.details} == {"event.type", "event.aggregateId"}
    with pytest.raises(NotFound) as missing:
        await pliers.forms.get("no-such-form")
    assert missing.value.code == "FORM_NOT_FOUND"
    with pytest.raises(NotFound) as no_notification:
        await pliers.notifications.get("n-1")
    assert no_notification.value.code == "NOTIFICATION_NOT_FOUND"
    with pytest.raises(UnsupportedMediaType) as media:
        await pliers.request("POST", "/v1/events/events", headers={"content-type": "text/plain"})
    assert media.value.code == "UNSUPPORTED_MEDIA_TYPE"


async def test_forms_submissions_and_notifications(pliers: AsyncPliers) -> None:
    definition = {**DEFINITION, "notifications": [
        {"type": "email", "to": ["ops@example.com"], "subject": "New registration"}]}  # fmt: skip
    form = await pliers.forms.create(definition)
    assert form.version == 1
    assert [f.name for f in form.fields] == ["name", "email", "track"]
    assert (await pliers.forms.get(form.id)).name == "Registration Form"
    updated = await pliers.forms.update(form.id, definition, expected_version=1)
    assert updated.version == 2
    with pytest.raises(Conflict) as stale:
        await pliers.forms.update(form.id, definition, expected_version=1)
    assert stale.value.code == "VERSION_CONFLICT"
    assert (await pliers.forms.get(form.id, version=1)).version == 1

    submitted = await pliers.submissions.create(form.id, {"name": "Ada", "email": "a@b.example"})
    assert submitted.form_version == 2
    assert (await pliers.submissions.get(submitted.id)).data["name"] == "Ada"
    with pytest.raises(ValidationFailed) as invalid:
        await pliers.submissions.create(form.id, {"name": "A"})
    assert "validation" in invalid.value.message
    assert {d["field"] for d in invalid.value.details} >= {"name", "email"}
    for i in range(12):
        await pliers.submissions.create(form.id, {"name": f"Person {i}", "email": "p@b.example"})
    listed = [s async for s in pliers.submissions.list(form_id=form.id, page_size=5)]
    assert len(listed) == 13
    assert listed[0].id == submitted.id
    assert "Person 11" in await pliers.forms.export_csv(form.id)

    notifications = await pliers.notifications.list(submission_id=submitted.id)
    assert [n.recipients for n in notifications] == [["ops@example.com"]]
    assert (await pliers.notifications.get(notifications[0].id)).subject == "New registration"

    others = [await pliers.forms.create({**DEFINITION, "name": f"Form {i}"}) for i in range(4)]
    archived = await pliers.forms.archive(others[0].id)
    assert archived.status == "archived"
    with pytest.raises(Conflict) as closed:
        await pliers.submissions.create(others[0].id, {"name": "Ada", "email": "a@b.example"})
    assert closed.value.code == "FORM_ARCHIVED"
    active = [f.id async for f in pliers.forms.list(status="active", page_size=2)]
    assert active == [form.id, *(f.id for f in others[1:])]


async def test_a_retried_submission_reuses_its_idempotency_key(
    pliers: AsyncPliers, live: LiveServer
) -> None:
    """The key the client made is sent with every attempt: the server stores one submission."""
    form = await pliers.forms.create(DEFINITION)
    sent: list[str] = []

    async def record(request: httpx.Request) -> None:
        sent.append(request.headers["idempotency-key"])

    calls = 0

    async def drop_first_answer(response: httpx.Response) -> None:
        # the first answer is lost on the way back, as when a connection breaks after the
        # server stored the submission; the client sees a 503 and sends the request again
        nonlocal calls
        calls += 1
        if calls == 1:
            response.status_code = 503
            response.headers["Retry-After"] = "1"

    http = httpx.AsyncClient(
        base_url=live.base_url,
        event_hooks={"request": [record], "response": [drop_first_answer]},
    )
    async with AsyncPliers(live.base_url, http=http) as client:
        started = time.monotonic()
        submission = await client.submissions.create(
            form.id, {"name": "Ada", "email": "ada@example.com"}
        )
        waited = time.monotonic() - started
    assert waited >= 1.0, "the retry did not wait for Retry-After"
    assert len(sent) == 2
    assert sent[0] == sent[1]
    stored = [s async for s in pliers.submissions.list(form_id=form.id)]
    assert [s.id for s in stored] == [submission.id]


async def test_more_error_codes_are_typed(pliers: AsyncPliers) -> None:
    form = await pliers.forms.create(DEFINITION)
    answers = {"name": "Ada", "email": "ada@example.com"}
    await pliers.submissions.create(form.id, answers, idempotency_key="k-1")
    with pytest.raises(Conflict) as reused:
        await pliers.submissions.create(form.id, {**answers, "name": "Bob"}, idempotency_key="k-1")
    assert reused.value.code == "IDEMPOTENCY_KEY_REUSED"
    with pytest.raises(NotFound) as missing:
        await pliers.submissions.get("nope")
    assert missing.value.code == "SUBMISSION_NOT_FOUND"


def test_the_sync_client(server_process: ServerProcess) -> None:
    """``Pliers`` from code without an event loop (the server runs in a process of its own)."""
    with Pliers(server_process.base_url) as pliers:
        pliers.events.publish({"type": "sync.done", "aggregateId": "s-1"})
        pliers.events.batch([{"type": "sync.done", "aggregateId": f"s-{i}"} for i in range(2, 30)])
        assert [e.aggregate_id for e in pliers.events.aggregate("s-1")] == ["s-1"]
        found = list(pliers.events.query(eventTypes=["sync.done"], limit=4))
        assert len(found) == 29
        form = pliers.forms.create(DEFINITION)
        pliers.submissions.create(form.id, {"name": "Ada", "email": "a@b.example"})
        assert len(list(pliers.submissions.list(form_id=form.id))) == 1
        with pytest.raises(NotFound):
            pliers.submissions.get("nope")


async def test_connection_refused_is_retried_then_raised() -> None:
    """Nothing listens: the client tries ``attempts`` times, then raises httpx's error."""
    async with AsyncPliers("http://127.0.0.1:1", attempts=2, retry_timeout=5) as pliers:
        with pytest.raises(httpx.ConnectError):
            await asyncio.wait_for(pliers.events.aggregate("x"), 30)
