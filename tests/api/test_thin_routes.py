"""Hot routes are served by thin endpoints; what they do not serve reaches the FastAPI routes."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from pliers.api.fast import ENDPOINTS

pytestmark = pytest.mark.integration


def test_the_document_still_describes_every_hot_route(app: FastAPI) -> None:
    """The FastAPI declarations stay the source of the OpenAPI document, request bodies too."""
    paths = app.openapi()["paths"]
    for method, path, _ in ENDPOINTS:
        operation = paths[path][method.lower()]
        assert operation["summary"]
        if method == "POST":
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            assert schema["$ref"].startswith("#/components/schemas/")


async def test_a_json_subtype_is_served_like_plain_json(client: httpx.AsyncClient) -> None:
    """``+json`` types are handed on to the FastAPI route, which accepts them as before."""
    body = b'{"event": {"type": "thin.checked", "aggregateId": "thin-1", "expectedVersion": 0}}'
    responses = [
        await client.post("/v1/events/events", content=body, headers={"content-type": declared})
        for declared in ("application/vnd.pliers+json", "application/json")
    ]
    assert responses[0].status_code == 201, responses[0].text
    assert responses[1].status_code == 409, responses[1].text
    assert responses[1].json()["error"]["code"] == "SEQUENCE_CONFLICT"


async def test_a_refused_body_stores_nothing_and_names_the_field(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/v1/events/events/batch",
        json={"events": [{"type": "thin.ok", "aggregateId": "thin-2"}, {"type": "Bad"}]},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    assert {d["field"] for d in error["details"]} == {"events.1.type", "events.1.aggregateId"}
    read = await client.get("/v1/events/events/aggregates/thin-2")
    assert read.json()["data"]["events"] == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 200),
        ("?fromSequence=2&toSequence=3", 200),
        ("?limit=0", 400),
        ("?fromSequence=-1", 400),
        ("?limit=abc", 400),
        ("?unknown=1", 200),
    ],
)
async def test_aggregate_reads_with_and_without_parameters(
    client: httpx.AsyncClient, query: str, status: int
) -> None:
    events = [{"type": "thin.read", "aggregateId": "thin-3"} for _ in range(4)]
    assert (await client.post("/v1/events/events/batch", json={"events": events})).is_success
    response = await client.get(f"/v1/events/events/aggregates/thin-3{query}")
    assert response.status_code == status, response.text
    if status == 200:
        sequences = [e["sequenceNumber"] for e in response.json()["data"]["events"]]
        assert sequences == ([2, 3] if "fromSequence" in query else [1, 2, 3, 4])
    else:
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"
