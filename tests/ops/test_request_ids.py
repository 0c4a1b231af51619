"""Request ids: kept when the client gives a valid one, made otherwise, echoed, and written as the
default ``correlationId`` of the events the request writes."""

from __future__ import annotations

import httpx
import pytest
from access_log import access_lines

from pliers.api.observe import REQUEST_ID


async def test_a_valid_request_id_is_kept_and_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/health", headers={"X-Request-ID": "checkout-42.retry:1"})
    assert response.headers["x-request-id"] == "checkout-42.retry:1"


@pytest.mark.parametrize(
    "given",
    ["x" * 129, "two words", 'quote"d', "ünïcode", ""],
)
async def test_an_invalid_request_id_is_replaced(client: httpx.AsyncClient, given: str) -> None:
    response = await client.get("/health", headers=[(b"X-Request-ID", given.encode())])
    made = response.headers["x-request-id"]
    assert made != given
    assert REQUEST_ID.fullmatch(made.encode())


async def test_a_request_id_is_made_when_none_is_given(client: httpx.AsyncClient) -> None:
    first = await client.get("/health")
    second = await client.get("/health")
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


async def test_errors_carry_the_request_id_too(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/nothing/here", headers={"X-Request-ID": "lost-1"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "lost-1"
    bad = await client.post("/v1/events/events", content=b"{", headers={"X-Request-ID": "bad-1"})
    assert bad.status_code == 400
    assert bad.headers["x-request-id"] == "bad-1"


async def test_published_events_take_the_request_id_as_correlation_id(
    client: httpx.AsyncClient,
) -> None:
    events = [
        {"type": "order.placed", "aggregateId": "order-1"},
        {"type": "order.placed", "aggregateId": "order-2", "correlationId": "from-client"},
    ]
    response = await client.post(
        "/v1/events/events/batch", json={"events": events}, headers={"X-Request-ID": "req-7"}
    )
    assert response.status_code == 201, response.text
    query = await client.post("/v1/events/events/query", json={"query": {}})
    stored = {e["aggregateId"]: e["correlationId"] for e in query.json()["data"]["events"]}
    assert stored == {"order-1": "req-7", "order-2": "from-client"}


async def test_a_retry_under_another_request_id_is_the_same_event(
    client: httpx.AsyncClient,
) -> None:
    """The default correlation id is the server's, not the client's: not part of the content."""
    event = {"event": {"type": "order.placed", "aggregateId": "order-9", "id": "evt-9"}}
    first = await client.post("/v1/events/events", json=event, headers={"X-Request-ID": "try-1"})
    again = await client.post("/v1/events/events", json=event, headers={"X-Request-ID": "try-2"})
    assert first.status_code == 201
    assert again.status_code == 200, again.text
    assert again.json()["data"]["eventId"] == "evt-9"
    stored = await client.get("/v1/events/events/aggregates/order-9")
    [only] = stored.json()["data"]["events"]
    assert only["correlationId"] == "try-1"


async def test_forms_and_submissions_take_the_request_id_as_correlation_id(
    client: httpx.AsyncClient,
) -> None:
    form = await client.post(
        "/v1/forms/forms",
        json={"name": "Contact", "fields": [{"name": "name", "type": "text"}]},
        headers={"X-Request-ID": "make-form"},
    )
    assert form.status_code == 201, form.text
    form_id = form.json()["data"]["id"]
    submitted = await client.post(
        "/v1/submissions/submissions",
        json={"formId": form_id, "data": {"name": "Ada"}},
        headers={"X-Request-ID": "send-answer"},
    )
    assert submitted.status_code == 201, submitted.text
    query = await client.post(
        "/v1/events/events/query",
        json={"query": {"eventTypes": ["form.created", "submission.created"]}},
    )
    stored = {e["type"]: e["correlationId"] for e in query.json()["data"]["events"]}
    assert stored == {"form.created": "make-form", "submission.created": "send-answer"}


async def test_log_lines_of_a_request_carry_its_id(client: httpx.AsyncClient) -> None:
    [line] = await access_lines(
        lambda: client.get("/v1/forms/forms/no-such-form", headers={"X-Request-ID": "find-me"})
    )
    assert line["request_id"] == "find-me"
    assert line["route"] == "/v1/forms/forms/{form_id}"
    assert line["path"] == "/v1/forms/forms/no-such-form"
    assert line["status"] == 404
    assert line["duration_ms"] > 0
