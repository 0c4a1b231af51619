"""SQLite groups are committed on the event loop by a connection that never waits and never
checkpoints: a lock held by another process sends the group to a thread, and checkpoints run
there too, so the loop is never stalled by the file."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from pliers.errors import ServiceUnavailable
from pliers.events.model import NewEvent
from pliers.storage.sqlite.events import Checkpoints, SqliteEventStore

pytestmark = pytest.mark.integration


def event(aggregate: str, i: int = 0) -> NewEvent:
    return NewEvent(type="direct.tested", aggregate_id=aggregate, id=f"{aggregate}-{i}")


async def ticks_while(work: asyncio.Future[object], every: float = 0.01) -> int:
    """How many times a coroutine got to run every ``every`` seconds until ``work`` ended."""
    count = 0
    while not work.done():
        await asyncio.sleep(every)
        count += 1
    return count


async def test_a_group_waits_for_another_process_lock_without_stalling_the_loop(
    tmp_path: Path,
) -> None:
    path = tmp_path / "p.db"
    store = await SqliteEventStore.connect(path, lock_timeout=5.0)
    try:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write, in progress
        append = asyncio.ensure_future(store.append([event("held")]))
        await asyncio.sleep(0.3)
        assert not append.done()  # waiting for the lock, not refused at once
        holder.execute("COMMIT")
        holder.close()
        [result] = await append
        assert result.sequence_number == 1
        rows = await store.fetch("SELECT id FROM events WHERE aggregate_id = 'held'")
        assert [r[0] for r in rows] == ["held-0"]
    finally:
        await store.close()


async def test_the_loop_runs_while_a_group_waits_out_the_lock_timeout(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    store = await SqliteEventStore.connect(path, lock_timeout=0.5)
    try:
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            append = asyncio.ensure_future(store.append([event("refused")]))
            ticked = await ticks_while(append)
            waited = time.monotonic() - started
            with pytest.raises(ServiceUnavailable):
                await append
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert 0.4 < waited < 5
        assert ticked >= 10  # 0.5 s of waiting, ticking every 10 ms
        assert await store.fetch("SELECT id FROM events WHERE aggregate_id = 'refused'") == []
        # the lock is free again: the next group is written at once
        [result] = await store.append([event("refused", 1)])
        assert result.sequence_number == 1
    finally:
        await store.close()


async def test_commits_on_the_loop_are_checkpointed_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    store = await SqliteEventStore.connect(path)
    try:
        await store.fetch("PRAGMA wal_checkpoint(TRUNCATE)")  # the migrations, into the file
        before = path.stat().st_size
        for i in range(Checkpoints.COMMITS):
            await store.append([event("checkpointed", i)])
        for _ in range(500):  # the checkpoint runs in the background: 5 s at most
            if path.stat().st_size > before:
                break
            await asyncio.sleep(0.01)
        # the events left the write-ahead log for the database file
        assert path.stat().st_size > before
    finally:
        await store.close()
    reopened = sqlite3.connect(path)
    try:
        count = reopened.execute(
            "SELECT count(*) FROM events WHERE aggregate_id = 'checkpointed'"
        ).fetchone()
    finally:
        reopened.close()
    assert count == (Checkpoints.COMMITS,)


async def test_fewer_commits_than_a_checkpoint_needs_stay_in_the_log(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    store = await SqliteEventStore.connect(path)
    try:
        await store.fetch("PRAGMA wal_checkpoint(TRUNCATE)")
        before = path.stat().st_size
        for i in range(Checkpoints.COMMITS - 1):
            await store.append([event("logged", i)])
        await asyncio.sleep(0.1)
        # the group's connection did not checkpoint on its own (that would sync on the loop)
        assert path.stat().st_size == before
    finally:
        await store.close()
