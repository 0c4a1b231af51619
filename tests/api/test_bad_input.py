"""Malformed input of every kind gets a 4xx envelope and stores nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pliers.api.app import create_app
from pliers.events.store import EventStore
from pliers.testing import client_for, running_runtime

pytestmark = pytest.mark.integration

GOOD = {"type": "test.event", "aggregateId": "agg-1"}


async def assert_nothing_stored(store: EventStore) -> None:
    assert await store.head_position() == 0


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    error: dict[str, Any] = body["error"]
    return error


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**GOOD, "type": "Form.Created"}, "event.type"),
        ({**GOOD, "type": "single"}, "event.type"),
        ({**GOOD, "type": "a." + "b" * 100}, "event.type"),
        ({**GOOD, "aggregateId": ""}, "event.aggregateId"),
        ({**GOOD, "aggregateId": "has space"}, "event.aggregateId"),
        ({**GOOD, "aggregateId": "a/b"}, "event.aggregateId"),
        ({**GOOD, "aggregateId": 123}, "event.aggregateId"),
        ({**GOOD, "id": "bad id!"}, "event.id"),
        ({**GOOD, "sequenceNumber": -1}, "event.sequenceNumber"),
        ({**GOOD, "sequenceNumber": "5"}, "event.sequenceNumber"),
        ({**GOOD, "sequenceNumber": 1.5}, "event.sequenceNumber"),
        ({**GOOD, "sequenceNumber": True}, "event.sequenceNumber"),
        ({**GOOD, "sequenceNumber": 2**63}, "event.sequenceNumber"),
        ({**GOOD, "expectedVersion": -3}, "event.expectedVersion"),
        ({**GOOD, "version": 0}, "event.version"),
        ({**GOOD, "timestamp": "yesterday"}, "event.timestamp"),
        ({**GOOD, "timestamp": "2026-01-01T00:00:00"}, "event.timestamp"),
        ({**GOOD, "timestamp": "0001-01-01T00:00:00+14:00"}, "event.timestamp"),
        ({**GOOD, "timestamp": "9999-12-31T23:59:59-14:00"}, "event.timestamp"),
        ({**GOOD, "timestamp": "0001-01-01T00:00:00Z"}, "event.timestamp"),
        ({**GOOD, "timestamp": "9999-12-31T23:59:59.999999Z"}, "event.timestamp"),
        ({**GOOD, "payload": [1, 2]}, "event.payload"),
        ({**GOOD, "metadata": "x"}, "event.metadata"),
        ({**GOOD, "correlationId": "a\u0000b"}, "event.correlationId"),
        ({**GOOD, "unknownField": 1}, "event.unknownField"),
    ],
)
async def test_wrong_values_are_400_naming_the_field(
    client: httpx.AsyncClient, store: EventStore, body: dict[str, Any], field: str
) -> None:
    error = assert_error(
        await client.post("/v1/events/events", json={"event": body}), 400, "VALIDATION_ERROR"
    )
    assert "validation" in error["message"]
    assert field in [d["field"] for d in error["details"]]
    await assert_nothing_stored(store)


async def test_every_failing_field_is_reported_at_once(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/events/events", json={"event": {"type": "BAD", "sequenceNumber": -1}}
    )
    fields = {d["field"] for d in assert_error(response, 400, "VALIDATION_ERROR")["details"]}
    assert fields == {"event.type", "event.aggregateId", "event.sequenceNumber"}


@pytest.mark.parametrize(
    "raw", [b"{", b"not json", b'{"event": }', b"\xff\xfe", b"[" * 50_000, b""]
)
async def test_malformed_json_is_400(
    client: httpx.AsyncClient, store: EventStore, raw: bytes
) -> None:
    response = await client.post(
        "/v1/events/events", content=raw, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] in ("INVALID_JSON", "VALIDATION_ERROR")
    await assert_nothing_stored(store)


@pytest.mark.parametrize("body", [[], "text", 42, None, {"events": []}, {"event": None}])
async def test_wrong_envelope_shapes_are_400(client: httpx.AsyncClient, body: object) -> None:
    assert_error(await client.post("/v1/events/events", json=body), 400, "VALIDATION_ERROR")


@pytest.mark.parametrize(
    "body",
    [
        {"query": {"limit": 0}},
        {"query": {"limit": 1001}},
        {"query": {"eventTypes": "form.created"}},
        {"query": {"afterPosition": -1}},
        {"query": {"timestampRange": {"from": "nope"}}},
        {"query": {"timestampRange": {"from": "0001-01-01T00:00:00+14:00"}}},
        {"query": {"timestampRange": {"to": "9999-12-31T23:59:59-14:00"}}},
        {"query": {"whatever": 1}},
        {"query": {"cursor": "cDoxMTgwNTkxNjIwNzE3NDExMzAzNDI0"}},  # "p:" + 2**70
        {"query": {"cursor": "cDotMQ"}},  # "p:-1"
        {"query": {"cursor": "cjox"}},  # "r:1", a cursor of another listing
        {"query": {"cursor": "!!"}},
    ],
)
async def test_bad_queries_are_400(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    assert_error(await client.post("/v1/events/events/query", json=body), 400, "VALIDATION_ERROR")


async def test_the_edges_of_the_storable_range_are_stored_and_found(
    client: httpx.AsyncClient,
) -> None:
    edges = [
        "0001-01-01T00:00:00.000001Z",
        "9999-12-31T23:59:59.999998Z",
        "0001-01-01T13:59:00-14:00",
    ]
    for n, timestamp in enumerate(edges):
        event = {**GOOD, "aggregateId": f"edge-{n}", "timestamp": timestamp}
        response = await client.post("/v1/events/events", json={"event": event})
        assert response.status_code == 201, response.text
    window = {"from": "0001-01-01T00:00:00.000001Z", "to": "9999-12-31T23:59:59.999998Z"}
    query = {"query": {"timestampRange": window}}
    found = (await client.post("/v1/events/events/query", json=query)).json()["data"]["events"]
    assert [e["timestamp"] for e in found] == [
        "0001-01-01T00:00:00.000001Z",
        "9999-12-31T23:59:59.999998Z",
        "0001-01-02T03:59:00.000000Z",
    ]


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"fromSequence": -1}, {"toSequence": "x"}, {"limit": "many"}]
)
async def test_bad_aggregate_read_parameters_are_400(
    client: httpx.AsyncClient, params: dict[str, Any]
) -> None:
    response = await client.get("/v1/events/events/aggregates/agg-1", params=params)
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_bad_aggregate_id_in_path_is_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/events/events/aggregates/" + "x" * 256)
    assert_error(response, 400, "VALIDATION_ERROR")


async def test_payload_the_store_cannot_hold_is_400(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    """NUL characters and unpaired surrogates are refused, not a 500."""
    for payload in ('{"a": "\\u0000"}', '{"a": "\\ud800"}', '{"a": NaN}', '{"a": [Infinity]}'):
        raw = f'{{"event": {{"type": "test.event", "aggregateId": "a", "payload": {payload}}}}}'
        response = await client.post(
            "/v1/events/events", content=raw, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, response.text
    await assert_nothing_stored(store)


def nested(depth: int) -> dict[str, Any]:
    """A JSON object ``depth`` levels deep."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize("depth", [65, 250, 10_000])
async def test_a_body_nesting_past_the_limit_is_400_naming_it(
    client: httpx.AsyncClient, store: EventStore, depth: int
) -> None:
    """The whole body counts: ``{"event": {"payload": ...}}`` adds two levels to the payload."""
    raw = '{"event": {"type": "test.event", "aggregateId": "a", "payload": '
    raw += '{"a": ' * (depth - 3) + "{}" + "}" * (depth - 3) + "}}"
    response = await client.post(
        "/v1/events/events", content=raw, headers={"content-type": "application/json"}
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "64 levels" in error["message"]
    assert "PLIERS_MAX_JSON_DEPTH" in error["message"]
    await assert_nothing_stored(store)


async def test_every_value_within_the_limit_is_read_back(client: httpx.AsyncClient) -> None:
    """At the limit, an event's payload and a submission's metadata are stored and read back."""
    event = {"type": "test.deep", "aggregateId": "deep", "payload": nested(62)}
    response = await client.post("/v1/events/events", json={"event": event})
    assert response.status_code == 201, response.text
    query = await client.post("/v1/events/events/query", json={"query": {}})
    assert query.status_code == 200, query.text
    assert query.json()["data"]["events"][0]["payload"] == nested(62)
    aggregate = await client.get("/v1/events/events/aggregates/deep")
    assert aggregate.json()["data"]["events"][0]["payload"] == nested(62)

    fields = [{"name": "n", "type": "text"}]
    form = await client.post("/v1/forms/forms", json={"name": "Deep", "fields": fields})
    form_id = form.json()["data"]["id"]
    submitted = await client.post(
        "/v1/submissions/submissions", json={"formId": form_id, "data": {}, "metadata": nested(63)}
    )
    assert submitted.status_code == 201, submitted.text
    listed = await client.get("/v1/submissions/submissions", params={"formId": form_id})
    assert listed.status_code == 200, listed.text


async def test_the_nesting_limit_is_a_setting(tmp_path: Path) -> None:
    async with (
        running_runtime(f"sqlite:///{tmp_path / 'p.db'}", max_json_depth=8) as rt,
        client_for(create_app(runtime=rt)) as client,
    ):
        event = {"type": "test.event", "aggregateId": "a", "payload": nested(7)}
        response = await client.post("/v1/events/events", json={"event": event})
    assert "8 levels" in assert_error(response, 400, "VALIDATION_ERROR")["message"]


async def test_non_json_content_type_is_415(client: httpx.AsyncClient, store: EventStore) -> None:
    response = await client.post(
        "/v1/events/events", content=b"event=1", headers={"content-type": "text/plain"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert "text/plain" in response.json()["error"]["message"]
    await assert_nothing_stored(store)


@pytest.mark.parametrize(
    "declared",
    ["application/json; charset=utf-8", "Application/JSON", "application/cloudevents+json"],
)
async def test_json_content_types_with_parameters_or_suffix_are_accepted(
    client: httpx.AsyncClient, declared: str
) -> None:
    raw = json.dumps({"event": GOOD})
    response = await client.post(
        "/v1/events/events", content=raw, headers={"content-type": declared}
    )
    assert response.status_code == 201, response.text


async def test_a_put_checks_the_declared_type_too(client: httpx.AsyncClient) -> None:
    response = await client.put(
        "/v1/forms/forms/some-form", content=b"<form/>", headers={"content-type": "application/xml"}
    )
    assert_error(response, 415, "UNSUPPORTED_MEDIA_TYPE")


async def test_oversized_body_is_413(client: httpx.AsyncClient, store: EventStore) -> None:
    payload = {"blob": "x" * (1024 * 1024)}
    response = await client.post("/v1/events/events", json={"event": {**GOOD, "payload": payload}})
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    await assert_nothing_stored(store)


async def test_oversized_body_without_length_is_413(
    client: httpx.AsyncClient, store: EventStore
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # streamed, so no Content-Length header
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        "/v1/events/events", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "PAYLOAD_TOO_LARGE")
    await assert_nothing_stored(store)


async def test_unknown_route_is_json_404(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/v1/nothing/here"), 404, "NOT_FOUND")


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/v1/events/events"), 405, "METHOD_NOT_ALLOWED")


def forged(kind: str, value: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


@pytest.mark.parametrize("value", [2**63, 2**70, -1])
async def test_forged_cursors_are_400_on_every_paginated_route(
    client: httpx.AsyncClient, value: int
) -> None:
    query = {"query": {"cursor": forged("p", value)}}
    assert_error(await client.post("/v1/events/events/query", json=query), 400, "VALIDATION_ERROR")
    forms = await client.get("/v1/forms/forms", params={"cursor": forged("r", value)})
    assert_error(forms, 400, "VALIDATION_ERROR")
    fields = [{"name": "n", "type": "text"}]
    form = await client.post("/v1/forms/forms", json={"name": "F", "fields": fields})
    params = {"formId": form.json()["data"]["id"], "cursor": forged("r", value)}
    submissions = await client.get("/v1/submissions/submissions", params=params)
    assert_error(submissions, 400, "VALIDATION_ERROR")
