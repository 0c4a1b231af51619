"""Store-level behaviour every adapter shares (the conformance suite of the EventStore port)."""

from __future__ import annotations

import asyncio
import json

import pytest

from pliers.errors import DuplicateEvent, SequenceConflict
from pliers.events.model import EventQuery, NewEvent
from pliers.events.store import EventStore

pytestmark = pytest.mark.integration


def event(aggregate: str = "agg", **fields: object) -> NewEvent:
    return NewEvent.model_validate({"type": "test.event", "aggregateId": aggregate, **fields})


async def test_failed_append_rolls_back(store: EventStore) -> None:
    """The seed's rollback case: a conflicting append leaves only the first event."""
    first = event(id="valid", sequenceNumber=1, type="test.valid")
    await store.append([first])
    with pytest.raises(SequenceConflict, match="sequence"):
        await store.append([event(id="invalid", sequenceNumber=1, type="test.invalid")])
    assert [e.id for e in await store.read_aggregate("agg")] == ["valid"]


async def test_concurrent_appends_succeed_or_fail_each_on_their_own(store: EventStore) -> None:
    """Appends sent together (written in one group) keep their own outcome and positions."""
    await store.append([event("taken", id="stored-1")])
    requests = [[event(f"c{i}", id=f"c{i}"), event(f"c{i}")] for i in range(40)]
    requests.append([event("taken", expectedVersion=0)])  # the aggregate has one event
    requests.append([event("taken", id="stored-1")])  # a retry of the stored event
    requests.append([event("other", id="stored-1", type="test.changed")])  # reused id
    outcomes = await asyncio.gather(*(store.append(r) for r in requests), return_exceptions=True)
    *written, conflict, retry, reused = outcomes
    assert isinstance(conflict, SequenceConflict)
    assert isinstance(reused, DuplicateEvent)
    assert not isinstance(retry, BaseException)
    assert [r.duplicate for r in retry] == [True]
    positions = []
    for i, results in enumerate(written):
        assert not isinstance(results, BaseException), results
        assert [r.sequence_number for r in results] == [1, 2]
        stored = await store.read_aggregate(f"c{i}")
        assert [e.position for e in stored] == [r.position for r in results]
        positions += [r.position for r in results]
    assert len(set(positions)) == len(positions) == 80
    assert [e.id for e in await store.read_aggregate("taken")] == ["stored-1"]
    assert await store.read_aggregate("other") == []


async def test_concurrent_appends_numbered_by_the_store_answer_each_its_own(
    store: EventStore,
) -> None:
    """Appends that name no id or number, written in one group: each request is answered with
    its own events, in its order, numbered after the events before them in the group."""
    requests = [
        [event(f"n{i % 3}", payload={"request": i, "n": n}) for n in range(i % 4 + 1)]
        for i in range(30)
    ]
    outcomes = await asyncio.gather(*(store.append(r) for r in requests))
    stored = {e.id: e for a in ("n0", "n1", "n2") for e in await store.read_aggregate(a)}
    assert len(stored) == sum(len(r) for r in requests)
    for events, results in zip(requests, outcomes, strict=True):
        assert len(results) == len(events)
        for given, result in zip(events, results, strict=True):
            kept = stored[result.event_id]
            assert (kept.aggregate_id, kept.payload) == (given.aggregate_id, given.payload)
            assert (kept.sequence_number, kept.position) == (
                result.sequence_number,
                result.position,
            )
    for a in ("n0", "n1", "n2"):
        numbers = [e.sequence_number for e in await store.read_aggregate(a)]
        assert numbers == list(range(1, len(numbers) + 1))


async def test_transaction_rolls_back_appends_when_the_block_fails(store: EventStore) -> None:
    async def append_then_fail() -> None:
        async with store.transaction() as tx:
            await tx.append([event()])
            raise RuntimeError("after the append")

    with pytest.raises(RuntimeError, match="after the append"):
        await append_then_fail()
    assert await store.read_aggregate("agg") == []
    assert await store.head_position() == 0


async def test_positions_increase_across_aggregates(store: EventStore) -> None:
    results = [(await store.append([event(f"a{i % 3}")]))[0] for i in range(9)]
    positions = [r.position for r in results]
    assert positions == sorted(positions)
    assert len(set(positions)) == 9
    assert await store.head_position() == positions[-1]


async def test_explicit_sequences_may_start_anywhere_and_leave_gaps(store: EventStore) -> None:
    for seq in (7, 3, 100):
        await store.append([event(sequenceNumber=seq)])
    [after] = await store.append([event()])
    assert after.sequence_number == 101
    assert [e.sequence_number for e in await store.read_aggregate("agg")] == [3, 7, 100, 101]


async def test_expected_version_zero_means_new_aggregate(store: EventStore) -> None:
    await store.append([event(expectedVersion=0)])
    with pytest.raises(SequenceConflict) as raised:
        await store.append([event(expectedVersion=0)])
    assert raised.value.details == {"aggregateId": "agg", "expectedVersion": 0, "actualVersion": 1}
    [ok] = await store.append([event(expectedVersion=1)])
    assert ok.sequence_number == 2


async def test_batch_assigns_sequences_after_earlier_events_of_the_batch(store: EventStore) -> None:
    results = await store.append(
        [event(), event(sequenceNumber=5), event(), event("other"), event(expectedVersion=6)]
    )
    assert [r.sequence_number for r in results] == [1, 5, 6, 1, 7]


async def test_identical_resend_is_a_duplicate_and_different_content_is_not(
    store: EventStore,
) -> None:
    original = event(id="e-1", payload={"n": 1})
    [first] = await store.append([original])
    [again] = await store.append([original])
    assert again.duplicate
    assert again.position == first.position
    with pytest.raises(DuplicateEvent):
        await store.append([event(id="e-1", payload={"n": 2})])


async def test_batch_mixing_stored_and_new_ids_is_refused(store: EventStore) -> None:
    await store.append([event(id="old")])
    with pytest.raises(DuplicateEvent):
        await store.append([event(id="old"), event(id="new")])
    assert [e.id for e in await store.read_aggregate("agg")] == ["old"]


async def test_query_filters_combine(store: EventStore) -> None:
    await store.append(
        [
            event("f1", type="form.created", correlationId="c1"),
            event("f1", type="form.updated", correlationId="c1"),
            event("s1", type="submission.created", correlationId="c2"),
        ]
    )
    page = await store.query(
        EventQuery.model_validate({"aggregateTypes": ["form"], "correlationId": "c1", "limit": 1})
    )
    assert [e.type for e in page.events] == ["form.created"]
    assert page.has_more
    rest = await store.query(
        EventQuery.model_validate({"aggregateTypes": ["form"], "cursor": page.next_cursor})
    )
    assert [e.type for e in rest.events] == ["form.updated"]
    assert not rest.has_more
    assert rest.next_cursor is None


async def test_query_merges_listed_values_in_position_order(store: EventStore) -> None:
    """Repeated values count once; the other lists still filter; pages follow positions."""
    await store.append([event(f"a{i % 3}", type=f"list.t{i % 4}", id=f"e{i}") for i in range(24)])
    query = {
        "eventTypes": ["list.t1", "list.t2", "list.t1"],
        "aggregateIds": ["a1", "a2", "a9"],
        "limit": 5,
    }
    expected = [f"e{i}" for i in range(24) if i % 4 in (1, 2) and i % 3 in (1, 2)]
    seen: list[str] = []
    page = await store.query(EventQuery.model_validate(query))
    seen += [e.id for e in page.events]
    while page.has_more:
        page = await store.query(EventQuery.model_validate({**query, "cursor": page.next_cursor}))
        seen += [e.id for e in page.events]
    assert seen == expected
    none = await store.query(EventQuery.model_validate({"eventTypes": []}))
    assert none.events == []


@pytest.mark.parametrize(
    "filters",
    [{}, {"eventTypes": ["json.b", "json.a"]}, {"aggregateIds": ["j1"]}, {"eventTypes": []}],
)
async def test_a_page_written_by_the_database_is_the_page_of_the_model(
    store: EventStore, filters: dict[str, object]
) -> None:
    """query_json serves what query's wire form says, byte for byte apart from spacing."""
    payload = {"text": 'é ✓ "quoted"', "n": 3, "x": 2.5, "none": None, "list": [1, {"a": []}]}
    await store.append(
        [
            event(
                f"j{i % 2}",
                type=f"json.{'ab'[i % 2]}",
                payload=payload,
                metadata={"i": i},
                correlationId="corr" if i % 3 else None,
                timestamp="2026-01-02T03:04:05.123456+02:00",
            )
            for i in range(7)
        ]
    )
    query: dict[str, object] = {**filters, "limit": 2}
    while True:
        model = await store.query(EventQuery.model_validate(query))
        served = await store.query_json(EventQuery.model_validate(query))
        assert json.loads(served.to_json()) == model.to_wire()
        if not model.has_more:
            break
        query["cursor"] = model.next_cursor


async def test_query_by_timestamp_range(store: EventStore) -> None:
    await store.append(
        [
            event(timestamp="2026-01-01T00:00:00Z", id="jan"),
            event(timestamp="2026-02-01T00:00:00+01:00", id="feb"),
            event(timestamp="2026-03-01T00:00:00Z", id="mar"),
        ]
    )
    page = await store.query(
        EventQuery.model_validate(
            {"timestampRange": {"from": "2026-01-15T00:00:00Z", "to": "2026-02-28T00:00:00Z"}}
        )
    )
    assert [e.id for e in page.events] == ["feb"]
    assert page.events[0].timestamp.isoformat() == "2026-01-31T23:00:00+00:00"


async def test_migrations_are_recorded_and_not_reapplied(store: EventStore) -> None:
    assert await store.migrate() == []


async def test_aggregate_json_is_the_wire_form_of_the_events(store: EventStore) -> None:
    """The database-built JSON of an aggregate equals StoredEvent.to_wire(), field for field."""
    await store.append(
        [
            event(payload={"n": 1, "nested": {"list": [1, "two", None]}}, metadata={"m": "é"}),
            event(correlationId="c", causationId="d", timestamp="2026-03-01T12:00:00.5+02:00"),
            event("other"),
            event(sequenceNumber=10, version=3),
        ]
    )
    for window in ({}, {"from_sequence": 2, "to_sequence": 10, "limit": 1}):
        wire = [e.to_wire() for e in await store.read_aggregate("agg", **window)]
        assert json.loads(await store.read_aggregate_json("agg", **window)) == wire
    assert json.loads(await store.read_aggregate_json("nothing")) == []
