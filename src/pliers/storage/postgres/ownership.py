"""PostgreSQL: which aggregate ids name a form, a submission or a notification."""

from __future__ import annotations

from collections.abc import Sequence

from pliers.storage.postgres.events import PostgresEventStore

_OWNED = """
SELECT id FROM forms WHERE id = ANY($1::text[])
UNION ALL SELECT id FROM submissions WHERE id = ANY($1::text[])
UNION ALL SELECT id FROM notifications WHERE id = ANY($1::text[])
"""


class PostgresOwnedAggregates:
    def __init__(self, store: PostgresEventStore) -> None:
        self.store = store

    async def owned(self, aggregate_ids: Sequence[str]) -> set[str]:
        return {r["id"] for r in await self.store.fetch(_OWNED, list(aggregate_ids))}
