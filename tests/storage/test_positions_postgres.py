"""A reader following positions never skips an event that commits late (PostgreSQL)."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from pliers.events.model import EventQuery, NewEvent
from pliers.runtime import Runtime
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
