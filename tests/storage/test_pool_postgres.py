"""What a pooled PostgreSQL connection carries back to the pool."""

from __future__ import annotations

import pytest

from pliers.storage.postgres.events import PostgresEventStore
from pliers.testing import TestDatabase

pytestmark = pytest.mark.integration


async def test_a_transaction_left_open_is_rolled_back_before_the_next_user(
    pliers_db: TestDatabase,
) -> None:
    store = await PostgresEventStore.connect(pliers_db.url, min_size=1, max_size=1)
    try:
        async with store.connection() as conn:
            first = conn.get_server_pid()
            await conn.execute(
                "BEGIN; INSERT INTO events (id, type, aggregate_id, sequence_number)"
                " VALUES ('left-open', 'test.open', 'a', 1)"
            )
            assert conn.is_in_transaction()
        async with store.connection() as conn:
            assert conn.get_server_pid() == first  # the same connection, back from the pool
            assert not conn.is_in_transaction()
    finally:
        await store.close()
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 0
