"""Revocation across server processes: ``pliers serve --workers 2`` on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import asyncpg
import httpx
import pytest
from keys_helpers import bearer, make_key
from websockets.asyncio.client import connect

pytestmark = pytest.mark.integration

REQUESTS = 40


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def admin_key() -> str:
    return secrets.token_hex(24)


@pytest.fixture
def two_workers(pliers_db_url: str, admin_key: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIERS_")}
    env |= {"PLIERS_DATABASE_URL": pliers_db_url, "PLIERS_ADMIN_KEY": admin_key}
    server = subprocess.Popen(
        [sys.executable, "-m", "pliers", "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read() if server.stdout else ""
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        yield base, server
    finally:
        server.terminate()
        server.communicate(timeout=30)


async def listeners(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND query = 'LISTEN \"pliers_keys\"'"
        )
        return count
    finally:
        await conn.close()


async def statuses(base: str, secret: str) -> set[int]:
    """Statuses of REQUESTS reads, each on a new connection (so both processes answer some)."""
    found = set()
    for _ in range(REQUESTS):
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            response = await client.get("/v1/events/events/aggregates/x", headers=bearer(secret))
            found.add(response.status_code)
    return found


async def test_a_key_revoked_in_one_process_is_refused_by_the_other(
    two_workers: tuple[str, subprocess.Popen[str]], pliers_db_url: str, admin_key: str
) -> None:
    base, server = two_workers
    admin = bearer(admin_key)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        reader = await make_key(http, admin, ["events:read"])
        streamer = await make_key(http, admin, ["events:read"])
    # a process follows key changes once it remembers a stored key: both do after these
    assert await statuses(base, reader["key"]) == {200}
    deadline = time.monotonic() + 30
    while await listeners(pliers_db_url) < 2:
        assert time.monotonic() < deadline, "the processes do not listen for key changes"
        await asyncio.sleep(0.1)
    assert await statuses(base, reader["key"]) == {200}  # remembered by both processes now

    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        revoked = await http.delete(f"/v1/keys/{reader['id']}", headers=admin)
    assert revoked.status_code == 200
    assert await statuses(base, reader["key"]) == {401}

    ws_base = base.replace("http://", "ws://")
    async with connect(f"{ws_base}/v1/events/stream?key={streamer['key']}") as ws:
        await ws.send('{"type": "ping"}')
        assert "pong" in await ws.recv()
    server.terminate()
    output, _ = server.communicate(timeout=30)
    assert "/v1/events/stream" in output  # the access log is on, and names the stream
    assert streamer["key"] not in output
    assert reader["key"] not in output
    assert admin_key not in output
