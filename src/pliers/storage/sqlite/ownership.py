"""SQLite: which aggregate ids name a form, a submission or a notification."""

from __future__ import annotations

from collections.abc import Sequence

from pliers.storage.sqlite.events import SqliteEventStore


class SqliteOwnedAggregates:
    def __init__(self, store: SqliteEventStore) -> None:
        self.store = store

    async def owned(self, aggregate_ids: Sequence[str]) -> set[str]:
        marks = ",".join("?" * len(aggregate_ids))
        sql = " UNION ALL ".join(
            f"SELECT id FROM {table} WHERE id IN ({marks})"
            for table in ("forms", "submissions", "notifications")
        )
        rows = await self.store.fetch(sql, *aggregate_ids, *aggregate_ids, *aggregate_ids)
        return {r[0] for r in rows}
