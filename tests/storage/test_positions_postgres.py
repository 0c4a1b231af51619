"""A reader following positions never skips an event that commits late (PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest

from pliers.errors import DuplicateEvent, SequenceConflict
from pliers.events.model import EventQuery, NewEvent
from pliers.runtime import Runtime
from pliers.storage.postgres import append as postgres_append
from pliers.testing import TestDatabase, running_runtime

pytestmark = pytest.mark.integration

WRITERS = 8
APPENDS_PER_WRITER = 40


async def tail(runtime: Runtime, stop: asyncio.Event) -> list[int]:
    """Follow positions like a subscriber would; returns every position seen, in order."""
    seen: list[int] = []
    after = 0
    while True:
        finished = stop.is_set()
        page = await runtime.store.query(EventQuery(after_position=after, limit=25))
        for event in page.events:
            seen.append(event.position)
            after = event.position
        if finished and not page.has_more:
            return seen
        if not page.events:
            await asyncio.sleep(0.001)


async def slow_writer(runtime: Runtime, writer: int, rng: random.Random) -> None:
    """Appends inside transactions that stay open a little after the append, as engines do."""
    for i in range(APPENDS_PER_WRITER):
        event = NewEvent(
            type="test.tail", aggregate_id=f"agg-{rng.randrange(5)}", payload={"w": writer, "i": i}
        )
        if i % 2:
            async with runtime.store.transaction() as tx:
                await tx.append([event])
                await asyncio.sleep(rng.random() / 500)
        else:
            await runtime.store.append([event])


async def test_tailing_reader_sees_every_event_under_concurrent_writers(
    pliers_db: TestDatabase,
) -> None:
    async with running_runtime(pliers_db.url, db_pool_max=WRITERS + 2) as runtime:
        stop = asyncio.Event()
        reader = asyncio.create_task(tail(runtime, stop))
        rng = random.Random(7)
        await asyncio.gather(*(slow_writer(runtime, w, rng) for w in range(WRITERS)))
        stop.set()
        seen = await reader

    stored = [
        r["position"]
        for r in await pliers_db.connection.fetch("SELECT position FROM events ORDER BY position")
    ]
    assert len(stored) == WRITERS * APPENDS_PER_WRITER
    assert seen == stored  # nothing skipped, nothing twice, strictly increasing


async def test_the_tail_check_catches_commits_out_of_position_order(
    pliers_db: TestDatabase,
) -> None:
    """Plain INSERTs that bypass the append lock can commit out of order, and the check sees it.

    This proves the comparison above is able to fail: without the lock a reader skips.
    """
    late = await asyncpg.connect(pliers_db.url)
    early = await asyncpg.connect(pliers_db.url)
    try:
        insert = (
            "INSERT INTO events (id, type, aggregate_id, sequence_number) "
            "VALUES ($1, 'test.raw', $1, 1) RETURNING position"
        )
        late_tx = late.transaction()
        await late_tx.start()
        late_position = await late.fetchval(insert, "late")
        early_position = await early.fetchval(insert, "early")  # autocommits first
        assert late_position < early_position

        seen = [
            r["position"]
            for r in await pliers_db.connection.fetch(
                "SELECT position FROM events WHERE position > 0 ORDER BY position"
            )
        ]
        after = seen[-1]
        await late_tx.commit()
        missed = await pliers_db.connection.fetch(
            "SELECT position FROM events WHERE position > $1", after
        )
        assert missed == []  # a reader following positions never learns about "late"...
        assert (
            await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 2
        )  # ...yet it is stored
    finally:
        await late.close()
        await early.close()


class HeldReads:
    """Patches the append's first ``held`` plain reads to wait for each other, so that appends
    plan from the same state and really meet; counts the reads, and the appends that had to be
    planned again under the lock."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, held: int = 2) -> None:
        self.barrier = asyncio.Barrier(max(held, 1))
        self.held = held
        self.reads = 0
        self.replanned = 0
        real_inspect = postgres_append._inspect
        real_append_locked = postgres_append.append_locked

        async def inspect_together(*args: Any) -> Any:
            found = await real_inspect(*args)
            self.reads += 1
            if self.reads <= self.held:
                await self.barrier.wait()
            return found

        async def counting_append_locked(*args: Any) -> Any:
            self.replanned += 1
            return await real_append_locked(*args)

        monkeypatch.setattr(postgres_append, "_inspect", inspect_together)
        monkeypatch.setattr(postgres_append, "append_locked", counting_append_locked)


async def test_two_processes_racing_on_one_aggregate_get_contiguous_sequences(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores (as two server processes would have) append to one aggregate at once.

    Each plans from a plain read (the events name their ids, so the store does not number them
    itself) and inserts only if the aggregate did not move meanwhile. The first reads of the two
    are held until both have read, so both plan from the same state: one inserts, the other finds
    the aggregate moved on and appends again under the lock. Every append succeeds, numbered
    1..60.
    """
    held = HeldReads(monkeypatch)
    async with running_runtime(pliers_db.url) as one, running_runtime(pliers_db.url) as two:

        async def append(runtime: Runtime, i: int) -> int:
            [result] = await runtime.store.append(
                [NewEvent(type="test.race", aggregate_id="shared", id=f"race-{i}")]
            )
            return result.sequence_number

        assigned = await asyncio.gather(*(append(one if i % 2 else two, i) for i in range(60)))
    assert sorted(assigned) == list(range(1, 61))
    stored = await pliers_db.connection.fetch(
        "SELECT sequence_number, position FROM events ORDER BY position"
    )
    assert [r["sequence_number"] for r in stored] == list(range(1, 61))
    assert held.replanned >= 1  # the loser of the first race appended under the lock


async def test_events_the_store_numbers_are_contiguous_across_processes_without_a_read(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Events naming no id, sequence number or expected version are numbered by the insert
    itself, under the append lock: two processes racing on one aggregate get 1..60, and no
    append reads the store first."""
    held = HeldReads(monkeypatch, held=0)
    async with running_runtime(pliers_db.url) as one, running_runtime(pliers_db.url) as two:

        async def append(runtime: Runtime, i: int) -> list[int]:
            results = await runtime.store.append(
                [NewEvent(type="test.race", aggregate_id="shared", payload={"i": i})] * (i % 3 + 1)
            )
            return [r.sequence_number for r in results]

        assigned = await asyncio.gather(*(append(one if i % 2 else two, i) for i in range(30)))
    assert sorted(n for numbers in assigned for n in numbers) == list(range(1, 61))
    assert all(numbers == list(range(numbers[0], numbers[-1] + 1)) for numbers in assigned)
    stored = await pliers_db.connection.fetch(
        "SELECT sequence_number FROM events ORDER BY position"
    )
    assert [r["sequence_number"] for r in stored] == list(range(1, 61))
    assert (held.reads, held.replanned) == (0, 0)


async def test_appends_to_other_aggregates_in_between_leave_a_plan_valid(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both stores plan from the same state; the second to insert finds the first's event, but on
    another aggregate, so its plan still holds and it inserts without planning again."""
    held = HeldReads(monkeypatch)
    async with running_runtime(pliers_db.url) as one, running_runtime(pliers_db.url) as two:
        results = await asyncio.gather(
            one.store.append([NewEvent(type="test.race", aggregate_id="left", id="left-1")]),
            two.store.append([NewEvent(type="test.race", aggregate_id="right", id="right-1")]),
        )
    assert held.replanned == 0
    assert [r.sequence_number for [r] in results] == [1, 1]
    assert sorted(r.position for [r] in results) == [1, 2]


async def test_an_id_stored_in_between_sends_the_plan_back(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two events with one id, on different aggregates: the second is refused as a different
    event under a stored id, not by a unique violation."""
    held = HeldReads(monkeypatch)
    async with running_runtime(pliers_db.url) as one, running_runtime(pliers_db.url) as two:
        results = await asyncio.gather(
            one.store.append([NewEvent(type="test.race", aggregate_id="left", id="same")]),
            two.store.append([NewEvent(type="test.race", aggregate_id="right", id="same")]),
            return_exceptions=True,
        )
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(refused) == 1
    assert isinstance(refused[0], DuplicateEvent)
    assert held.replanned == 1
    stored = await pliers_db.connection.fetch("SELECT id, aggregate_id FROM events")
    assert len(stored) == 1


async def test_an_append_in_a_transaction_overtaken_on_its_aggregate_is_planned_again(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldReads(monkeypatch)
    async with running_runtime(pliers_db.url) as one, running_runtime(pliers_db.url) as two:

        async def in_transaction() -> int:
            async with one.store.transaction() as tx:
                [result] = await tx.append([NewEvent(type="test.race", aggregate_id="shared")])
            return result.sequence_number

        async def alone() -> int:
            [result] = await two.store.append(
                [NewEvent(type="test.race", aggregate_id="shared", id="alone")]
            )
            return result.sequence_number

        assigned = await asyncio.gather(in_transaction(), alone())
    assert sorted(assigned) == [1, 2]
    assert held.replanned == 1
    stored = await pliers_db.connection.fetch(
        "SELECT sequence_number FROM events ORDER BY position"
    )
    assert [r["sequence_number"] for r in stored] == [1, 2]


async def test_appends_that_start_aggregates_are_planned_without_reading(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldReads(monkeypatch, held=0)
    async with running_runtime(pliers_db.url) as runtime:
        [first] = await runtime.store.append(
            [NewEvent(type="test.new", aggregate_id="fresh", expected_version=0)]
        )
        async with runtime.store.transaction() as tx:
            second = await tx.append(
                [
                    NewEvent(type="test.new", aggregate_id="other", expected_version=0),
                    NewEvent(type="test.new", aggregate_id="other"),
                ]
            )
    assert (held.reads, held.replanned) == (0, 0)
    assert first.sequence_number == 1
    assert [r.sequence_number for r in second] == [1, 2]


@pytest.mark.parametrize("in_transaction", [False, True])
async def test_a_new_aggregate_that_exists_after_all_is_a_conflict(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch, in_transaction: bool
) -> None:
    """Planned without reading, the insert finds the aggregate stored and plans again: refused."""
    async with running_runtime(pliers_db.url) as runtime:
        await runtime.store.append([NewEvent(type="test.new", aggregate_id="taken")])
        held = HeldReads(monkeypatch, held=0)
        again = NewEvent(type="test.new", aggregate_id="taken", expected_version=0)

        async def append() -> None:
            if in_transaction:
                async with runtime.store.transaction() as tx:
                    await tx.append([again])
            else:
                await runtime.store.append([again])

        with pytest.raises(SequenceConflict, match="expected version 0 but its version is 1"):
            await append()
    assert held.replanned == 1
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 1


async def test_a_new_aggregate_under_a_stored_id_is_told_apart_from_a_retry(
    pliers_db: TestDatabase,
) -> None:
    async with running_runtime(pliers_db.url) as runtime:
        sent = NewEvent(type="test.new", aggregate_id="a", id="e-1", expected_version=0)
        [stored] = await runtime.store.append([sent])
        [retried] = await runtime.store.append([sent])
        assert retried.duplicate
        assert retried.position == stored.position
        with pytest.raises(DuplicateEvent):
            await runtime.store.append(
                [NewEvent(type="test.new", aggregate_id="b", id="e-1", expected_version=0)]
            )
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 1
