"""kill -9 of a server process under eight writers: every acknowledged event is stored once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import pytest
from chaos_services import Postgres

from pliers.testing.throwaway import free_port

pytestmark = pytest.mark.chaos

WRITERS = 8
CRASHES = 3
#: acknowledgements to wait for before each crash, and after the last restart
PER_ROUND = 150


class Server:
    """``pliers serve`` in a process of its own, on a fixed port."""

    def __init__(self, database_url: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "PLIERS_DATABASE_URL": database_url,
            "PLIERS_DISPATCHER_ENABLED": "false",
            "PLIERS_LOG_LEVEL": "warning",
        }
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        pliers = Path(sys.executable).parent / "pliers"
        self.process = await asyncio.create_subprocess_exec(
            str(pliers),
            "serve",
            "--port",
            str(self.port),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert self.process.returncode is None, "the server exited on start"
                try:
                    if (await client.get(f"{self.url}/health")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("the server did not start within 60 s")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def test_every_acknowledged_event_survives_kill_9_once_in_sequence(
    postgres: Postgres,
) -> None:
    server = Server(postgres.url)
    await server.start()
    acked: dict[str, list[tuple[str, int]]] = {f"writer-{i}": [] for i in range(WRITERS)}
    retries = 0
    stop = asyncio.Event()

    async def writer(aggregate_id: str) -> None:
        nonlocal retries
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            while not stop.is_set():
                event = {
                    "id": str(uuid.uuid4()),
                    "type": "chaos.wrote",
                    "aggregateId": aggregate_id,
                }
                while True:  # the same event until it is acknowledged: ids make resends safe
                    try:
                        response = await client.post("/v1/events/events", json={"event": event})
                    except httpx.TransportError:
                        response = None
                    if response is not None and response.status_code in (200, 201):
                        data = response.json()["data"]
                        acked[aggregate_id].append((data["eventId"], data["sequenceNumber"]))
                        progress.set()
                        break
                    assert response is None or response.status_code >= 500, response.text
                    retries += 1
                    await asyncio.sleep(0.02)

    progress = asyncio.Event()

    def acks() -> int:
        return sum(len(a) for a in acked.values())

    async def until(target: int) -> None:
        while acks() < target:
            progress.clear()
            await progress.wait()

    writers = [asyncio.create_task(writer(a)) for a in acked]
    try:
        for _ in range(CRASHES):
            await until(acks() + PER_ROUND)
            await server.kill()
            await server.start()
        await until(acks() + PER_ROUND)
    finally:
        stop.set()
        await asyncio.gather(*writers, return_exceptions=True)
        await server.kill()

    total = acks()
    print(f"\n{total} acknowledged events over {CRASHES} kill -9, {retries} resends")
    assert total >= PER_ROUND * (CRASHES + 1)

    conn = await asyncpg.connect(postgres.url)
    try:
        for aggregate_id, written in acked.items():
            rows = await conn.fetch(
                "SELECT id, sequence_number FROM events WHERE aggregate_id = $1"
                " ORDER BY sequence_number",
                aggregate_id,
            )
            stored = [(r["id"], r["sequence_number"]) for r in rows]
            assert [s for _, s in stored] == list(range(1, len(stored) + 1))  # no gap, no repeat
            ids = [i for i, _ in stored]
            assert len(ids) == len(set(ids))
            assert set(written) <= set(stored)  # each acknowledged event, at its sequence
            # at most the one event in flight at the end was stored without an acknowledgement
            assert len(stored) - len(written) <= 1
    finally:
        await conn.close()
