"""Concurrent publishes ask which aggregates the engines own in one query per group."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from pliers.events.service import MAX_LOOKED_UP, GroupedLookups


class Owners:
    """Owns the ids it was given; records each query's ids."""

    def __init__(self, owned: set[str]) -> None:
        self.owned_ids = owned
        self.queries: list[list[str]] = []

    async def owned(self, aggregate_ids: Sequence[str]) -> set[str]:
        self.queries.append(list(aggregate_ids))
        await asyncio.sleep(0)
        return self.owned_ids.intersection(aggregate_ids)


async def test_concurrent_lookups_share_a_query_and_get_their_own_answers() -> None:
    ids = [str(uuid.uuid4()) for _ in range(20)]
    owners = Owners({ids[3], ids[11]})
    lookups = GroupedLookups(owners)
    answers = await asyncio.gather(*(lookups.owned([i]) for i in ids))
    assert answers == [{i} if i in (ids[3], ids[11]) else set() for i in ids]
    # queued before the writer ran: one query for all twenty, where each used to ask alone
    assert [sorted(q) for q in owners.queries] == [sorted(ids)]


async def test_a_group_asks_for_a_bounded_number_of_ids() -> None:
    owners = Owners(set())
    lookups = GroupedLookups(owners)
    batch = [str(uuid.uuid4()) for _ in range(MAX_LOOKED_UP // 2 + 1)]
    await asyncio.gather(*(lookups.owned(batch) for _ in range(3)))
    assert all(len(q) <= MAX_LOOKED_UP for q in owners.queries)
    assert len(owners.queries) == 3


async def test_a_failed_query_fails_each_lookup_of_its_group() -> None:
    class Down(Owners):
        async def owned(self, aggregate_ids: Sequence[str]) -> set[str]:
            raise ConnectionError("database down")

    lookups = GroupedLookups(Down(set()))
    results = await asyncio.gather(
        *(lookups.owned([str(uuid.uuid4())]) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
