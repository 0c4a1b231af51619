"""A reader following positions never skips an event that commits late (PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest

from pliers.events.model import EventQuery, NewEvent
from pliers.runtime import Runtime
from pliers.storage import postgres_append
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


async def test_two_processes_racing_on_one_aggregate_get_contiguous_sequences(
    pliers_db: TestDatabase, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores (as two server processes would have) append to one aggregate at once.

    Each plans from a plain read and inserts only if nothing moved. The first reads of the two are
    held until both have read, so both plan from the same state: one inserts, the other finds the
    store moved on and appends again under the lock. Every append succeeds, numbered 1..60.
    """
    both_read = asyncio.Barrier(2)
    first_reads = 0
    real_inspect = postgres_append._inspect
    locked_appends = 0
    real_append_locked = postgres_append.append_locked

    async def inspect_together(*args: Any) -> Any:
        nonlocal first_reads
        found = await real_inspect(*args)
        first_reads += 1
        if first_reads <= 2:
            await both_read.wait()
        return found

    async def counting_append_locked(*args: Any) -> Any:
        nonlocal locked_appends
        locked_appends += 1
        return await real_append_locked(*args)

    monkeypatch.setattr(postgres_append, "_inspect", inspect_together)
    monkeypatch.setattr(postgres_append, "append_locked", counting_append_locked)
    async with running_runtime(pliers_db.url) as one, running_runtime(pliers_db.url) as two:

        async def append(runtime: Runtime, i: int) -> int:
            [result] = await runtime.store.append(
                [NewEvent(type="test.race", aggregate_id="shared", payload={"i": i})]
            )
            return result.sequence_number

        assigned = await asyncio.gather(*(append(one if i % 2 else two, i) for i in range(60)))
    assert sorted(assigned) == list(range(1, 61))
    stored = await pliers_db.connection.fetch(
        "SELECT sequence_number, position FROM events ORDER BY position"
    )
    assert [r["sequence_number"] for r in stored] == list(range(1, 61))
    assert locked_appends >= 1  # the loser of the first race appended under the lock
