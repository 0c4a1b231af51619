"""Form reads go through the Redis cache; writes invalidate it; Redis down means the database."""

from __future__ import annotations

import socket
from typing import Any, cast

import pytest

from pliers.api.app import create_app
from pliers.testing import FormBuilder, TestCache, TestDatabase, client_for, running_runtime

pytestmark = pytest.mark.integration


def form_body() -> dict[str, Any]:
    return FormBuilder().with_name("Cached").with_text_field("email", required=True).build()


async def test_reads_are_cached_and_a_write_makes_them_stale(
    pliers_db: TestDatabase, pliers_cache: TestCache
) -> None:
    async with (
        running_runtime(pliers_db.url, redis_url=pliers_cache.url) as rt,
        client_for(create_app(runtime=rt)) as client,
    ):
        form_id = (await client.post("/v1/forms/forms", json=form_body())).json()["data"]["id"]
        assert (await client.get(f"/v1/forms/forms/{form_id}")).json()["data"]["name"] == ("Cached")
        assert await pliers_cache.exists(f"pliers:forms:{form_id}:current")

        # Behind the cache's back: the next read still comes from Redis.
        await pliers_db.connection.execute(
            "UPDATE forms SET name = 'Changed underneath' WHERE id = $1", form_id
        )
        cached = await client.get(f"/v1/forms/forms/{form_id}")
        assert cached.json()["data"]["name"] == "Cached"

        updated = await client.put(
            f"/v1/forms/forms/{form_id}",
            json={**form_body(), "name": "Renamed", "expectedVersion": 1},
        )
        assert updated.status_code == 200, updated.text
        fresh = await client.get(f"/v1/forms/forms/{form_id}")
        assert fresh.json()["data"]["name"] == "Renamed"
        assert fresh.json()["data"]["version"] == 2

        archived = await client.delete(f"/v1/forms/forms/{form_id}")
        assert archived.status_code == 200
        after = await client.get(f"/v1/forms/forms/{form_id}")
        assert after.json()["data"]["status"] == "archived"


async def test_a_copy_older_than_the_store_is_never_served(
    pliers_db: TestDatabase, pliers_cache: TestCache
) -> None:
    """A Redis that lost an invalidation, or came back with what it saved before a restart,
    holds an older copy of the form: reads of the form and of its versions serve the store's."""
    async with (
        running_runtime(pliers_db.url, redis_url=pliers_cache.url) as rt,
        client_for(create_app(runtime=rt)) as client,
    ):
        form_id = (await client.post("/v1/forms/forms", json=form_body())).json()["data"]["id"]
        assert (await client.get(f"/v1/forms/forms/{form_id}")).status_code == 200
        assert (await client.get(f"/v1/forms/forms/{form_id}?version=1")).status_code == 200
        keys = [f"pliers:forms:{form_id}:current", f"pliers:forms:{form_id}:v1"]
        saved = [await pliers_cache.dump(key) for key in keys]
        assert all(saved)

        renamed = {**form_body(), "name": "Renamed", "expectedVersion": 1}
        assert (await client.put(f"/v1/forms/forms/{form_id}", json=renamed)).status_code == 200
        assert (await client.delete(f"/v1/forms/forms/{form_id}")).status_code == 200
        for key, value in zip(keys, saved, strict=True):  # the old copies are back
            await pliers_cache.restore(key, 0, cast(bytes, value), replace=True)

        current = (await client.get(f"/v1/forms/forms/{form_id}")).json()["data"]
        assert (current["name"], current["version"], current["status"]) == (
            "Renamed",
            2,
            "archived",
        )
        first = (await client.get(f"/v1/forms/forms/{form_id}?version=1")).json()["data"]
        assert (first["name"], first["version"], first["status"]) == ("Cached", 1, "archived")
        # and the stale copies were replaced by current ones
        again = (await client.get(f"/v1/forms/forms/{form_id}")).json()["data"]
        assert again == current


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_with_redis_unreachable_forms_are_served_from_the_database(
    pliers_db: TestDatabase,
) -> None:
    redis_url = f"redis://127.0.0.1:{closed_port()}/0"
    async with (
        running_runtime(pliers_db.url, redis_url=redis_url) as rt,
        client_for(create_app(runtime=rt)) as client,
    ):
        created = await client.post("/v1/forms/forms", json=form_body())
        assert created.status_code == 201
        form_id = created.json()["data"]["id"]
        read = await client.get(f"/v1/forms/forms/{form_id}")
        assert read.status_code == 200
        assert read.json()["data"]["name"] == "Cached"
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json()["status"] == "degraded"
        assert health.json()["checks"]["redis"]["status"] == "down"
