"""SQLite's write lock held by another process: a request waits PLIERS_DB_TIMEOUT at most, then
gets 503, as on a PostgreSQL that does not answer."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from pliers.api.app import create_app
from pliers.testing import client_for, running_runtime


@pytest.mark.integration
async def test_a_write_waits_the_db_timeout_for_the_lock_then_gets_503(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    async with (
        running_runtime(f"sqlite:///{path}", db_timeout=0.5) as rt,
        client_for(create_app(runtime=rt)) as client,
    ):
        event = {"type": "lock.tested", "aggregateId": "lock-1"}
        assert (await client.post("/v1/events/events", json={"event": event})).status_code == 201
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")  # another process's write, in progress
        try:
            started = time.monotonic()
            refused = await client.post("/v1/events/events", json={"event": event})
            waited = time.monotonic() - started
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert 0.4 < waited < 5
        assert (await client.post("/v1/events/events", json={"event": event})).status_code == 201
