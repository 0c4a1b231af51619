"""A query page reads what its limit needs, in a store PostgreSQL has never analyzed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pliers.events.model import EventQuery
from pliers.storage.postgres.events import PostgresEventStore, _query_sql
from pliers.testing import TestDatabase

pytestmark = pytest.mark.integration

STORED = 100_000


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in nodes(child))]


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"eventTypes": ["load.t3", "load.t7"]}, "events_type_position_idx"),
        ({"aggregateTypes": ["load5"]}, "events_aggregate_type_position_idx"),
        ({"aggregateIds": [f"load-{i}" for i in range(7, 30)]}, "events_aggregate_position_idx"),
        ({"eventTypes": ["load.t3"], "afterPosition": 75_000}, "events_type_position_idx"),
    ],
)
async def test_a_page_reads_each_listed_value_through_its_index(
    pliers_db: TestDatabase, filters: dict[str, Any], index: str
) -> None:
    store = await PostgresEventStore.connect(pliers_db.url, min_size=1, max_size=1)
    try:
        await pliers_db.connection.execute(
            "ALTER TABLE events SET (autovacuum_enabled = false);"
            "INSERT INTO events (id, type, aggregate_id, aggregate_type, sequence_number)"
            " SELECT 'load-' || g, 'load.t' || (g % 10), 'load-' || (g / 10),"
            "        'load' || (g / 10 % 10), g % 10 + 1"
            f"  FROM generate_series(0, {STORED - 1}) g"
        )
        query = EventQuery.model_validate({**filters, "limit": 100})
        sql, args = _query_sql(query)
        async with store.connection() as conn:
            [[raw]] = await conn.fetch(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", *args)
        plan = nodes((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
        scans = [n for n in plan if n.get("Relation Name") == "events"]
        assert [n["Node Type"] for n in scans] == ["Index Scan"]
        assert scans[0]["Index Name"] == index
        # each listed value stops at the page size (limit + 1 to know whether there is more)
        assert scans[0]["Actual Rows"] <= query.limit + 1
        page = await store.query(query)
        assert len(page.events) == 100
        assert page.has_more
        positions = [e.position for e in page.events]
        assert positions == sorted(positions)
    finally:
        await store.close()
