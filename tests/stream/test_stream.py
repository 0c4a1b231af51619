"""The live stream over a real WebSocket, on PostgreSQL and SQLite."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from stream_helpers import events, nothing_more, receive, send, subscribe
from websockets.asyncio.client import connect

from pliers.events.model import NewEvent
from pliers.runtime import Runtime
from pliers.testing import EventFactory

pytestmark = pytest.mark.integration


async def publish(http: httpx.AsyncClient, event: dict[str, Any]) -> dict[str, Any]:
    response = await http.post("/v1/events/events", json={"event": event})
    assert response.status_code == 201, response.text
    published: dict[str, Any] = response.json()["data"]
    return published


async def test_event_reaches_a_filtered_subscriber(
    stream_url: str, http: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    """The seed's case: subscribe to a type, publish over HTTP, receive it."""
    async with connect(stream_url) as ws:
        await subscribe(ws, filter={"eventTypes": ["test.streaming"]})
        sent = event_factory.build(type="test.streaming", payload={"message": "WebSocket test"})
        await publish(http, sent)
        [message] = await events(ws, 1)
    assert message["data"]["type"] == "test.streaming"
    assert message["data"]["payload"]["message"] == "WebSocket test"
    assert message["data"]["id"] == sent["id"]
    assert isinstance(message["data"]["position"], int)


async def test_five_clients_each_receive_all_three_events(
    stream_url: str, http: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    """The seed's case: several simultaneous clients each see every matching event."""
    clients = [await connect(stream_url) for _ in range(5)]
    try:
        for ws in clients:
            await subscribe(ws, filter={"eventTypes": ["test.multi"]})
        for i in range(3):
            await publish(http, event_factory.build(type="test.multi", payload={"eventNumber": i}))
        for ws in clients:
            received = await events(ws, 3)
            assert [m["data"]["payload"]["eventNumber"] for m in received] == [0, 1, 2]
            await nothing_more(ws)
    finally:
        for ws in clients:
            await ws.close()


async def test_filters_exclude_events_that_do_not_match(
    stream_url: str, http: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    async with connect(stream_url) as ws:
        await subscribe(
            ws,
            filter={"eventTypes": ["order.placed"], "aggregateTypes": ["order"]},
        )
        await publish(http, event_factory.build(type="order.cancelled"))
        await publish(http, event_factory.build(type="user.placed"))
        await publish(http, event_factory.build(type="order.placed", aggregateType="legacy"))
        wanted = await publish(http, event_factory.build(type="order.placed"))
        [message] = await events(ws, 1)
        assert message["data"]["id"] == wanted["eventId"]
        await nothing_more(ws)


async def test_aggregate_id_filter(
    stream_url: str, http: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    async with connect(stream_url) as ws:
        await subscribe(ws, filter={"aggregateIds": ["cart-7"]})
        await publish(http, event_factory.build(aggregateId="cart-8"))
        await publish(http, event_factory.build(aggregateId="cart-7"))
        [message] = await events(ws, 1)
        assert message["data"]["aggregateId"] == "cart-7"


async def test_several_subscriptions_on_one_connection(
    stream_url: str, http: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    """Each subscription gets its own matching events; ids are assigned or kept, never shared."""
    async with connect(stream_url) as ws:
        forms = await subscribe(ws, subscriptionId="forms", filter={"eventTypes": ["form.created"]})
        assigned = await subscribe(ws, filter={"aggregateTypes": ["submission"]})
        assert forms["subscriptionId"] == "forms"
        assert forms["filter"] == {"eventTypes": ["form.created"]}
        other = assigned["subscriptionId"]
        assert other
        assert other != "forms"

        await send(ws, {"type": "subscribe", "subscriptionId": "forms"})
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["code"] == "DUPLICATE_SUBSCRIPTION"

        await publish(http, event_factory.build(type="form.created"))
        await publish(http, event_factory.build(type="submission.created"))
        first, second = await events(ws, 2)
        assert (first["subscriptionId"], first["data"]["type"]) == ("forms", "form.created")
        assert (second["subscriptionId"], second["data"]["type"]) == (other, "submission.created")

        await send(ws, {"type": "unsubscribe", "subscriptionId": "forms"})
        assert await receive(ws) == {"type": "unsubscribed", "subscriptionId": "forms"}
        await publish(http, event_factory.build(type="form.created"))
        await publish(http, event_factory.build(type="submission.created"))
        [only] = await events(ws, 1)
        assert only["subscriptionId"] == other
        await nothing_more(ws)


async def test_one_event_matching_two_subscriptions_is_sent_to_each(
    stream_url: str, http: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    async with connect(stream_url) as ws:
        await subscribe(ws, subscriptionId="a")
        await subscribe(ws, subscriptionId="b", filter={"eventTypes": ["test.event"]})
        await publish(http, event_factory.build())
        received = await events(ws, 2)
        assert sorted(m["subscriptionId"] for m in received) == ["a", "b"]


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("{not json", "INVALID_JSON"),
        ("[1, 2]", "INVALID_MESSAGE"),
        ('{"type": "dance"}', "UNKNOWN_TYPE"),
        ('{"no": "type"}', "UNKNOWN_TYPE"),
        ('{"type": "subscribe", "filter": {"eventTypes": "form.created"}}', "INVALID_FILTER"),
        ('{"type": "subscribe", "filter": {"eventTypes": ["Not A Type"]}}', "INVALID_FILTER"),
        ('{"type": "subscribe", "filter": {"colour": ["red"]}}', "INVALID_FILTER"),
        ('{"type": "subscribe", "fromPosition": -1}', "INVALID_MESSAGE"),
        ('{"type": "subscribe", "fromPosition": "3"}', "INVALID_MESSAGE"),
        ('{"type": "subscribe", "subscriptionId": ""}', "INVALID_MESSAGE"),
        ('{"type": "unsubscribe"}', "INVALID_MESSAGE"),
        ('{"type": "unsubscribe", "subscriptionId": "nope"}', "SUBSCRIPTION_NOT_FOUND"),
        ('{"type": "ping", "extra": 1}', "INVALID_MESSAGE"),
        (
            '{"type": "subscribe", "filter": {"eventTypes": ["a.b"]}, "pad": "'
            + "x" * 70_000
            + '"}',
            "MESSAGE_TOO_LARGE",
        ),
        ("[" * 10_000 + "]" * 10_000, "INVALID_MESSAGE"),
        ('{"type": "subscribe", "filter": ' + "[" * 100 + "]" * 100 + "}", "INVALID_MESSAGE"),
    ],
)
async def test_malformed_messages_get_an_error_and_the_connection_stays_usable(
    stream_url: str, message: str, code: str
) -> None:
    async with connect(stream_url) as ws:
        await send(ws, message)
        error = await receive(ws)
        assert error["type"] == "error"
        assert error["code"] == code
        assert error["message"]
        await nothing_more(ws)
        await subscribe(ws)


async def test_binary_frames_are_read_as_json(stream_url: str) -> None:
    async with connect(stream_url) as ws:
        await ws.send(json.dumps({"type": "ping"}).encode())
        assert await receive(ws) == {"type": "pong"}


async def test_catch_up_then_live_without_gap_or_duplicate(
    stream_url: str, runtime: Runtime, event_factory: EventFactory
) -> None:
    """20 stored; subscribe from the 10th while 20 more are appended: exactly 11-40, in order."""

    def batch(start: int, count: int) -> list[NewEvent]:
        return [
            NewEvent.model_validate(event_factory.build(type="seam.test", payload={"n": n}))
            for n in range(start, start + count)
        ]

    stored = [await runtime.events.publish(batch(n, 1)) for n in range(1, 21)]
    from_position = stored[9][0].position

    async def writer() -> None:
        for n in range(21, 41):
            await runtime.events.publish(batch(n, 1))
            await asyncio.sleep(0)

    async with connect(stream_url) as ws:
        writing = asyncio.create_task(writer())
        await subscribe(ws, filter={"eventTypes": ["seam.test"]}, fromPosition=from_position)
        received = await events(ws, 30)
        await writing
        await nothing_more(ws)
    numbers = [m["data"]["payload"]["n"] for m in received]
    assert numbers == list(range(11, 41))
    positions = [m["data"]["position"] for m in received]
    assert positions == sorted(set(positions))


async def test_catch_up_with_writers_in_parallel_sees_every_event_once(
    stream_url: str, runtime: Runtime, event_factory: EventFactory
) -> None:
    """Concurrent writers and a catch-up longer than one page: nothing lost, nothing repeated."""
    first = [
        NewEvent.model_validate(event_factory.build(type="bulk.test", payload={"n": n}))
        for n in range(600)
    ]
    await runtime.events.publish(first)

    async def writer(offset: int) -> None:
        for n in range(offset, offset + 15):
            event = event_factory.build(type="bulk.test", payload={"n": n})
            await runtime.events.publish([NewEvent.model_validate(event)])

    async with connect(stream_url) as ws:
        await subscribe(ws, fromPosition=0)
        writing = asyncio.gather(writer(1000), writer(2000))
        received = await events(ws, 630)
        await writing
        await nothing_more(ws)
    numbers = [m["data"]["payload"]["n"] for m in received]
    assert numbers[:600] == list(range(600))
    assert sorted(numbers[600:]) == [*range(1000, 1015), *range(2000, 2015)]
    positions = [m["data"]["position"] for m in received]
    assert positions == sorted(set(positions))


async def test_events_written_outside_publish_reach_subscribers_when_committed(
    stream_url: str, runtime: Runtime, event_factory: EventFactory
) -> None:
    """Engines that append in their own transaction announce the position afterwards."""
    async with connect(stream_url) as ws:
        await subscribe(ws, filter={"eventTypes": ["form.created"]})
        async with runtime.store.transaction() as tx:
            [result] = await tx.append(
                [NewEvent.model_validate(event_factory.build(type="form.created"))]
            )
        await runtime.events.committed(result.position)
        [message] = await events(ws, 1)
        assert message["data"]["position"] == result.position
