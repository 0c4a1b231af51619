"""Public submissions are limited per client address, across processes through Redis."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from keys_helpers import bearer

from pliers.api.app import create_app
from pliers.testing import TestCache, running_runtime, serve
from pliers.testing.factories import FormBuilder

pytestmark = pytest.mark.integration

PUBLIC_FORM = FormBuilder().with_name("Limited").with_text_field("name").build() | {"public": True}


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A server whose public submissions are limited to 3 a minute per address."""
    async with (
        running_runtime(database_url, public_rate_limit="3/minute") as rt,
        serve(create_app(runtime=rt)) as live,
        httpx.AsyncClient(base_url=live.base_url, timeout=30) as http,
    ):
        yield http


async def test_the_fourth_submission_in_a_minute_is_429(limited: httpx.AsyncClient) -> None:
    form_id = (await limited.post("/v1/forms/forms", json=PUBLIC_FORM)).json()["data"]["id"]
    url = f"/v1/public/forms/{form_id}/submissions"
    for i in range(3):
        sent = await limited.post(url, json={"data": {"name": f"n{i}"}})
        assert sent.status_code == 201
    refused = await limited.post(url, json={"data": {"name": "n4"}})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    listed = await limited.get(f"/v1/submissions/submissions?formId={form_id}")
    assert len(listed.json()["data"]["submissions"]) == 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(base: str, server: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert server.poll() is None, server.stdout.read() if server.stdout else ""
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.1)


@pytest.fixture
def two_servers(pliers_db_url: str, pliers_cache: TestCache) -> Iterator[tuple[list[str], str]]:
    """Two `pliers serve` processes on one database and one Redis, 4 submissions a minute."""
    admin_key = secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIERS_")}
    env |= {
        "PLIERS_DATABASE_URL": pliers_db_url,
        "PLIERS_REDIS_URL": pliers_cache.url,
        "PLIERS_ADMIN_KEY": admin_key,
        "PLIERS_PUBLIC_RATE_LIMIT": "4/minute",
        "PLIERS_DISPATCHER_ENABLED": "false",
    }
    ports = [free_port(), free_port()]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "pliers", "serve", "--port", str(port), "--no-migrate"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for port in ports
    ]
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base, server in zip(bases, servers, strict=True):
            wait_until_up(base, server)
        yield bases, admin_key
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.communicate(timeout=30)


async def test_the_limit_is_shared_by_two_processes_through_redis(
    two_servers: tuple[list[str], str],
) -> None:
    (first, second), admin_key = two_servers
    async with httpx.AsyncClient(timeout=30) as http:
        created = await http.post(
            f"{first}/v1/forms/forms", json=PUBLIC_FORM, headers=bearer(admin_key)
        )
        form_id = created.json()["data"]["id"]
        path = f"/v1/public/forms/{form_id}/submissions"
        statuses = [
            (
                await http.post(
                    f"{base}{path}",
                    json={"data": {"name": "x"}},
                    # changes nothing: `pliers serve` trusts no proxy unless told to
                    headers={"X-Forwarded-For": f"203.0.113.{i}"},
                )
            ).status_code
            for i, base in enumerate((first, second, first, second, first, second))
        ]
    assert statuses == [201, 201, 201, 201, 429, 429]
