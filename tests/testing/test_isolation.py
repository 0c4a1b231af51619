"""Every test sees only its own data: databases and Redis databases are never shared."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from pliers.testing import EventFactory, TestCache, TestDatabase

pytestmark = pytest.mark.integration

SAME_AGGREGATE = "isolation-aggregate"

INNER_TESTS = """
import os

import pytest


def pytest_collection_modifyitems(items):
    if os.environ.get("REVERSE_ORDER"):
        items.reverse()


@pytest.mark.parametrize("writer", ["first", "second", "third", "fourth"])
async def test_writes_the_same_aggregate(writer, pliers_client, event_factory):
    event = event_factory.build(aggregateId="shared", sequenceNumber=1, payload={"writer": writer})
    response = await pliers_client.post("/v1/events/events", json={"event": event})
    assert response.status_code == 201, response.text
    response = await pliers_client.get("/v1/events/events/aggregates/shared")
    assert [e["payload"]["writer"] for e in response.json()["data"]["events"]] == [writer]


@pytest.mark.parametrize("writer", ["first", "second", "third", "fourth"])
async def test_writes_the_same_cache_key(writer, pliers_cache):
    assert await pliers_cache.dbsize() == 0
    assert await pliers_cache.get("shared") is None
    await pliers_cache.set("shared", writer)
    assert await pliers_cache.get("shared") == writer.encode()
"""


async def _publish_and_read(
    client: httpx.AsyncClient, event: dict[str, Any]
) -> list[dict[str, Any]]:
    response = await client.post("/v1/events/events", json={"event": event})
    assert response.status_code == 201, response.text
    response = await client.get(f"/v1/events/events/aggregates/{SAME_AGGREGATE}")
    return list(response.json()["data"]["events"])


@pytest.mark.parametrize("writer", ["left", "right"])
async def test_same_aggregate_id_in_two_tests_sees_only_its_own_event(
    writer: str, pliers_client: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    """Both tests write sequence 1 of one aggregate; a shared database would make one fail."""
    event = event_factory.build(aggregateId=SAME_AGGREGATE, sequenceNumber=1, payload={"w": writer})
    events = await _publish_and_read(pliers_client, event)
    assert [e["payload"]["w"] for e in events] == [writer]


@pytest.mark.parametrize("writer", ["left", "right"])
async def test_raw_rows_in_two_tests_stay_apart(writer: str, pliers_db: TestDatabase) -> None:
    """Rows written straight into the database are gone in the next test's database."""
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 0
    await pliers_db.connection.execute(
        "INSERT INTO events (id, type, aggregate_id, sequence_number, payload) "
        "VALUES ($1, 'test.event', $2, 1, $3::jsonb)",
        f"event-{writer}",
        SAME_AGGREGATE,
        json.dumps({"w": writer}),
    )
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 1


async def test_database_is_migrated_and_named_for_this_run(pliers_db: TestDatabase) -> None:
    """A clone carries the migrations of its template and the run's id in its name."""
    names = await pliers_db.connection.fetch("SELECT name FROM pliers_migrations ORDER BY name")
    assert names[0]["name"] == "0001_events.sql"
    assert pliers_db.name.startswith("pliers_test_")
    assert pliers_db.name == await pliers_db.connection.fetchval("SELECT current_database()")


@pytest.mark.parametrize("writer", ["left", "right"])
async def test_cache_keys_never_leak_between_tests(writer: str, pliers_cache: TestCache) -> None:
    """Each test starts on an empty Redis database that is not database 0."""
    assert pliers_cache.index != 0
    assert pliers_cache.url.endswith(f"/{pliers_cache.index}")
    assert await pliers_cache.dbsize() == 0
    await pliers_cache.set("shared-key", writer)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["REVERSE_ORDER"], id="reversed"),
        pytest.param(["-p", "xdist", "-n", "2"], id="xdist"),
    ],
)
def test_inner_session_isolates_tests(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    """Tests sharing an aggregate id and a cache key pass in any order and under -n 2."""
    inner.makeconftest(INNER_TESTS.split("@pytest.mark", 1)[0])
    inner.makepyfile(test_shared=INNER_TESTS)
    if args == ["REVERSE_ORDER"]:
        monkeypatch.setenv("REVERSE_ORDER", "1")
        args = []
    result = inner.runpytest_subprocess(*args)
    result.assert_outcomes(passed=8)
