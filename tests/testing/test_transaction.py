"""pliers_transaction: one connection whose transaction every test rolls back."""

from __future__ import annotations

import asyncpg
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("writer", ["left", "right"])
async def test_rows_written_are_gone_in_the_next_test(
    writer: str, pliers_transaction: asyncpg.Connection
) -> None:
    """Both write the same row; without the rollback the second would hit the primary key."""
    assert await pliers_transaction.fetchval("SELECT count(*) FROM events") == 0
    await pliers_transaction.execute(
        "INSERT INTO events (id, type, aggregate_id, sequence_number, payload) "
        "VALUES ('evt-tx', 'test.event', 'tx-aggregate', 1, '{}'::jsonb)"
    )
    assert await pliers_transaction.fetchval("SELECT count(*) FROM events") == 1


async def test_it_is_a_transaction_on_a_migrated_database(
    pliers_transaction: asyncpg.Connection,
) -> None:
    """The connection is inside a transaction, on a clone of the template."""
    assert pliers_transaction.is_in_transaction()
    assert await pliers_transaction.fetchval("SELECT count(*) FROM pliers_migrations") >= 1
    name = await pliers_transaction.fetchval("SELECT current_database()")
    assert name.startswith("pliers_test_")


async def test_a_transaction_inside_the_test_is_a_savepoint(
    pliers_transaction: asyncpg.Connection,
) -> None:
    """A failing block of the test's own is undone alone; the test's transaction goes on."""
    insert = (
        "INSERT INTO events (id, type, aggregate_id, sequence_number, payload) "
        "VALUES ($1, 'test.event', 'sp-aggregate', $2, '{}'::jsonb)"
    )

    async def twice() -> None:
        async with pliers_transaction.transaction():
            await pliers_transaction.execute(insert, "evt-undone", 2)
            await pliers_transaction.execute(insert, "evt-undone", 3)

    await pliers_transaction.execute(insert, "evt-kept", 1)
    with pytest.raises(asyncpg.UniqueViolationError):
        await twice()
    assert pliers_transaction.is_in_transaction()
    ids = await pliers_transaction.fetch("SELECT id FROM events ORDER BY id")
    assert [r["id"] for r in ids] == ["evt-kept"]
