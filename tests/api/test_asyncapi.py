"""``/asyncapi.json`` is a valid AsyncAPI 3.0 document that names every stream message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from pliers.stream.protocol import _MODELS

pytestmark = pytest.mark.integration

SCHEMA = Path(__file__).parent / "vendor" / "asyncapi-3.0.0.schema.json"


async def test_document_is_valid_asyncapi_3(client: httpx.AsyncClient) -> None:
    response = await client.get("/asyncapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    assert document["asyncapi"] == "3.0.0"
    jsonschema.Draft7Validator(json.loads(SCHEMA.read_text())).validate(document)


async def test_every_message_is_described_with_an_example_that_fits_it(
    client: httpx.AsyncClient,
) -> None:
    """Client messages are the ones the server parses; each example fits its own schema."""
    document = (await client.get("/asyncapi.json")).json()
    channel = document["channels"]["stream"]
    assert channel["address"] == "/v1/events/stream"
    messages = channel["messages"]
    client_types = {m["examples"][0]["payload"]["type"] for m in messages.values()}
    assert set(_MODELS) <= client_types
    assert {"event", "subscription_confirmed", "unsubscribed", "pong", "error"} <= client_types
    for name, message in messages.items():
        schema = {**message["payload"], "components": document["components"]}
        jsonschema.Draft202012Validator(schema).validate(message["examples"][0]["payload"])
        assert name in json.dumps(document["operations"])
    for needle in ("fromPosition", "1008", "no gap and no duplicate"):
        assert needle in document["info"]["description"]


async def test_the_openapi_description_links_the_stream_document(
    client: httpx.AsyncClient,
) -> None:
    description = (await client.get("/openapi.json")).json()["info"]["description"]
    assert "(/asyncapi.json)" in description
