"""An aggregate whose highest sequence number is the largest both stores hold takes no more."""

from __future__ import annotations

import httpx
import pytest

from pliers.events.model import MAX_BIGINT

pytestmark = pytest.mark.integration


async def test_an_event_after_the_last_sequence_number_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    """409 SEQUENCE_CONFLICT, not a 500 from the database; nothing is stored."""
    last = {"type": "a.b", "aggregateId": "full", "sequenceNumber": MAX_BIGINT}
    assert (await client.post("/v1/events/events", json={"event": last})).status_code == 201
    for body in (
        {"event": {"type": "a.b", "aggregateId": "full"}},
        {
            "events": [
                {"type": "a.b", "aggregateId": "other"},
                {"type": "a.b", "aggregateId": "full"},
            ]
        },
    ):
        url = "/v1/events/events" if "event" in body else "/v1/events/events/batch"
        response = await client.post(url, json=body)
        assert response.status_code == 409, response.text
        assert response.json()["error"]["code"] == "SEQUENCE_CONFLICT"
    stored = await client.get("/v1/events/events/aggregates/full")
    assert [e["sequenceNumber"] for e in stored.json()["data"]["events"]] == [MAX_BIGINT]
    assert (await client.get("/v1/events/events/aggregates/other")).json()["data"]["events"] == []
