"""``GET /health`` and what the API does when the database goes away."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from pliers import __version__
from pliers.api.app import create_app
from pliers.testing import TestDatabase, client_for, running_runtime

pytestmark = pytest.mark.integration


async def test_healthy_names_the_backend(client: httpx.AsyncClient, database_url: str) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert body["version"] == __version__
    assert body["checks"]["database"]["status"] == "up"
    assert body["checks"]["database"]["backend"] == database_url.split(":", 1)[0].replace(
        "postgresql", "postgres"
    )


async def test_database_down_is_503_unhealthy_and_writes_are_503(
    pliers_db: TestDatabase, pliers_postgres: object
) -> None:
    async with running_runtime(pliers_db.url) as runtime:
        app = create_app(runtime=runtime)
        async with client_for(app) as client:
            assert (await client.get("/health")).status_code == 200
            admin = await asyncpg.connect(pliers_postgres.admin_url)  # type: ignore[attr-defined]
            try:
                await admin.execute(f'ALTER DATABASE "{pliers_db.name}" ALLOW_CONNECTIONS false')
                await admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
                    pliers_db.name,
                )
                health = await client.get("/health")
                assert health.status_code == 503
                assert health.json()["status"] == "unhealthy"
                assert health.json()["checks"]["database"]["status"] == "down"

                write = await client.post(
                    "/v1/events/events", json={"event": {"type": "a.b", "aggregateId": "x"}}
                )
                assert write.status_code == 503
                assert write.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
                assert "Traceback" not in write.text
            finally:
                await admin.execute(f'ALTER DATABASE "{pliers_db.name}" ALLOW_CONNECTIONS true')
                await admin.close()
            # and it recovers without a restart
            assert (await client.get("/health")).status_code == 200
