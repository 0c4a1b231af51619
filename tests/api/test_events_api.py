"""The seed's Event Engine cases, over HTTP, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from typing import Any

import asyncpg
import httpx
import pytest

from pliers.events.store import EventStore
from pliers.testing import EventFactory

pytestmark = pytest.mark.integration


async def publish(client: httpx.AsyncClient, event: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/events/events", json={"event": event})


async def stored(client: httpx.AsyncClient, aggregate_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/events/events/aggregates/{aggregate_id}")
    assert response.status_code == 200
    events: list[dict[str, Any]] = response.json()["data"]["events"]
    return events


async def test_publish_stores_event_and_reads_it_back(
    client: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    """A published event is acknowledged with its id and read back from its aggregate."""
    event = event_factory.build(
        type="form.created",
        aggregateId="form-123",
        payload={
            "formId": "form-123",
            "name": "Contact Form",
            "definition": {"fields": [{"name": "email", "type": "email", "required": True}]},
        },
    )
    response = await publish(client, event)
    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True
    assert body["data"]["eventId"] == event["id"]
    assert body["data"]["published"] is True
    assert body["data"]["sequenceNumber"] == event["sequenceNumber"]

    events = await stored(client, "form-123")
    assert len(events) == 1
    assert events[0]["id"] == event["id"]
    assert events[0]["type"] == "form.created"
    assert events[0]["aggregateId"] == "form-123"
    assert events[0]["aggregateType"] == "form"
    assert events[0]["payload"] == event["payload"]
    # the server says who wrote it: "local" with authentication off
    assert events[0]["metadata"] == {**event["metadata"], "actor": "local"}
    assert events[0]["position"] == body["data"]["position"]


async def test_invalid_event_is_rejected_with_validation_message(
    client: httpx.AsyncClient,
) -> None:
    """An event missing required fields is a 400 whose message says validation."""
    response = await publish(client, {"type": "invalid.type"})
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["error"]["code"] == "VALIDATION_ERROR"
    assert "validation" in body["error"]["message"]
    assert {"field": "event.aggregateId", "rule": "missing", "message": "Field required"} in body[
        "error"
    ]["details"]


async def test_sequence_conflict_is_409_and_stores_nothing(
    client: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    first = event_factory.build(aggregateId="conflict-test", sequenceNumber=1)
    second = event_factory.build(aggregateId="conflict-test", sequenceNumber=1)
    assert (await publish(client, first)).status_code == 201

    response = await publish(client, second)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "SEQUENCE_CONFLICT"
    assert "sequence" in response.json()["error"]["message"]
    assert [e["id"] for e in await stored(client, "conflict-test")] == [first["id"]]


class TestQuery:
    @pytest.fixture(autouse=True)
    async def seeded(self, client: httpx.AsyncClient, event_factory: EventFactory) -> None:
        for event in (
            event_factory.build(type="form.created", aggregateId="form-1"),
            event_factory.build(type="form.updated", aggregateId="form-1"),
            event_factory.build(type="submission.created", aggregateId="sub-1"),
        ):
            assert (await publish(client, event)).status_code == 201

    async def query(self, client: httpx.AsyncClient, **query: object) -> dict[str, Any]:
        response = await client.post("/v1/events/events/query", json={"query": query})
        assert response.status_code == 200, response.text
        page: dict[str, Any] = response.json()["data"]
        return page

    async def test_by_type(self, client: httpx.AsyncClient) -> None:
        data = await self.query(client, eventTypes=["form.created", "form.updated"], limit=10)
        assert [e["type"] for e in data["events"]] == ["form.created", "form.updated"]

    async def test_by_aggregate(self, client: httpx.AsyncClient) -> None:
        data = await self.query(client, aggregateIds=["form-1"], limit=10)
        assert len(data["events"]) == 2
        assert all(e["aggregateId"] == "form-1" for e in data["events"])

    async def test_limit_and_cursor_walk_every_event_once(self, client: httpx.AsyncClient) -> None:
        first = await self.query(client, limit=1)
        assert len(first["events"]) == 1
        assert first["hasMore"] is True
        seen = [first["events"][0]["id"]]
        cursor = first["nextCursor"]
        while cursor:
            page = await self.query(client, limit=1, cursor=cursor)
            seen += [e["id"] for e in page["events"]]
            cursor = page["nextCursor"]
        assert len(seen) == len(set(seen)) == 3

    async def test_exclude_types_and_aggregate_types(self, client: httpx.AsyncClient) -> None:
        data = await self.query(client, aggregateTypes=["form"], excludeEventTypes=["form.updated"])
        assert [e["type"] for e in data["events"]] == ["form.created"]

    async def test_after_position(self, client: httpx.AsyncClient) -> None:
        everything = (await self.query(client))["events"]
        later = await self.query(client, afterPosition=everything[0]["position"])
        assert [e["id"] for e in later["events"]] == [e["id"] for e in everything[1:]]

    async def test_unknown_cursor_is_400(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/events/events/query", json={"query": {"cursor": "zz"}})
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_racing_explicit_sequences_leave_a_consistent_stream(
    client: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    """Ten concurrent appends with distinct explicit numbers all land, in sequence order."""
    events = [
        event_factory.build(
            aggregateId="concurrent-test", sequenceNumber=i + 1, type="test.concurrent"
        )
        for i in range(10)
    ]
    responses = await asyncio.gather(*(publish(client, e) for e in events))
    succeeded = [r for r in responses if r.status_code == 201]
    assert len(succeeded) == 10
    assert [e["sequenceNumber"] for e in await stored(client, "concurrent-test")] == list(
        range(1, 11)
    )


async def test_racing_appends_without_sequence_numbers_get_1_to_50(
    client: httpx.AsyncClient,
) -> None:
    responses = await asyncio.gather(
        *(
            publish(client, {"type": "test.race", "aggregateId": "race", "payload": {"i": i}})
            for i in range(50)
        )
    )
    assert [r.status_code for r in responses] == [201] * 50
    assigned = sorted(r.json()["data"]["sequenceNumber"] for r in responses)
    assert assigned == list(range(1, 51))
    assert [e["sequenceNumber"] for e in await stored(client, "race")] == list(range(1, 51))


async def test_racing_expected_versions_let_exactly_one_win(client: httpx.AsyncClient) -> None:
    base = {"type": "test.race", "aggregateId": "occ", "expectedVersion": 0}
    responses = await asyncio.gather(*(publish(client, base) for _ in range(8)))
    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    loser = next(r for r in responses if r.status_code == 409).json()["error"]
    assert loser["details"] == {"aggregateId": "occ", "expectedVersion": 0, "actualVersion": 1}
    assert len(await stored(client, "occ")) == 1


async def test_resending_an_event_is_idempotent(
    client: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    event = event_factory.build(aggregateId="idem")
    first = await publish(client, event)
    again = await publish(client, event)
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["data"]["duplicate"] is True
    assert again.json()["data"]["position"] == first.json()["data"]["position"]
    assert len(await stored(client, "idem")) == 1


async def test_same_id_with_different_content_is_409(
    client: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    event = event_factory.build(aggregateId="idem")
    assert (await publish(client, event)).status_code == 201
    response = await publish(client, {**event, "payload": {"changed": True}})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "DUPLICATE_EVENT"
    assert [e["payload"] for e in await stored(client, "idem")] == [event["payload"]]


class TestBatch:
    async def test_batch_is_stored_in_order(self, client: httpx.AsyncClient) -> None:
        events = [
            {"type": "test.batch", "aggregateId": "batch", "payload": {"i": i}} for i in range(5)
        ]
        response = await client.post("/v1/events/events/batch", json={"events": events})
        assert response.status_code == 201
        results = response.json()["data"]["events"]
        assert [r["sequenceNumber"] for r in results] == [1, 2, 3, 4, 5]
        positions = [r["position"] for r in results]
        assert positions == sorted(positions)
        assert [e["payload"]["i"] for e in await stored(client, "batch")] == list(range(5))

    async def test_one_conflict_rejects_the_whole_batch(
        self, client: httpx.AsyncClient, event_factory: EventFactory
    ) -> None:
        taken = event_factory.build(aggregateId="atomic", sequenceNumber=3)
        assert (await publish(client, taken)).status_code == 201
        batch = [
            {"type": "test.batch", "aggregateId": "other", "sequenceNumber": 1},
            {"type": "test.batch", "aggregateId": "atomic", "sequenceNumber": 2},
            {"type": "test.batch", "aggregateId": "atomic", "sequenceNumber": 3},
        ]
        response = await client.post("/v1/events/events/batch", json={"events": batch})
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "SEQUENCE_CONFLICT"
        assert await stored(client, "other") == []
        assert [e["id"] for e in await stored(client, "atomic")] == [taken["id"]]

    async def test_duplicate_ids_inside_a_batch_are_400(self, client: httpx.AsyncClient) -> None:
        batch = [{"id": "same", "type": "test.batch", "aggregateId": "a"}] * 2
        response = await client.post("/v1/events/events/batch", json={"events": batch})
        assert response.status_code == 400
        assert await stored(client, "a") == []

    async def test_more_than_1000_events_is_400(self, client: httpx.AsyncClient) -> None:
        batch = [{"type": "test.batch", "aggregateId": "big"}] * 1001
        response = await client.post("/v1/events/events/batch", json={"events": batch})
        assert response.status_code == 400
        assert await stored(client, "big") == []


async def test_aggregate_read_honours_range_and_limit(client: httpx.AsyncClient) -> None:
    for _ in range(6):
        assert (
            await publish(client, {"type": "test.range", "aggregateId": "r"})
        ).status_code == 201
    response = await client.get(
        "/v1/events/events/aggregates/r", params={"fromSequence": 2, "toSequence": 5, "limit": 3}
    )
    assert [e["sequenceNumber"] for e in response.json()["data"]["events"]] == [2, 3, 4]
    assert await stored(client, "never-written") == []


async def test_seed_raw_sql_rows_are_read_through_the_api(
    client: httpx.AsyncClient, store: EventStore, database_url: str, event_factory: EventFactory
) -> None:
    """1,000 rows written with the seed's plain INSERT, in one transaction, are served back."""
    events = event_factory.build_many(1000, aggregateId="batch-test", type="test.batch")
    rows = [
        (e["id"], e["type"], e["aggregateId"], i + 1, json.dumps({"i": i}))
        for i, e in enumerate(events)
    ]
    if store.backend == "postgres":
        conn = await asyncpg.connect(database_url)
        try:
            async with conn.transaction():
                await conn.executemany(
                    "INSERT INTO events (id, type, aggregate_id, sequence_number, payload) "
                    "VALUES ($1, $2, $3, $4, $5)",
                    rows,
                )
        finally:
            await conn.close()
    else:
        path = database_url.removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.executemany(
                "INSERT INTO events (id, type, aggregate_id, sequence_number, payload) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
    events_read = await stored(client, "batch-test")
    assert len(events_read) == 1000
    assert [e["sequenceNumber"] for e in events_read] == list(range(1, 1001))
    assert events_read[999]["payload"] == {"i": 999}
    assert events_read[0]["aggregateType"] == "test"
    assert [e["id"] for e in events_read] == [e["id"] for e in events]
