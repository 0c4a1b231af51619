"""Every subscriber sees every matching event, whichever process stored it (Redis pub/sub)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest
from stream_helpers import events, nothing_more, subscribe
from websockets.asyncio.client import connect

from pliers.api.app import create_app
from pliers.testing import EventFactory, TestCache, running_runtime, serve
from pliers.testing.postgres import TestDatabase

pytestmark = pytest.mark.integration

#: Long enough that only a broker notice can deliver an event within a test's waits.
NO_POLLING = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def wait_until_up(base_url: str, process: asyncio.subprocess.Process) -> None:
    async with httpx.AsyncClient(base_url=base_url) as http:
        for _ in range(300):
            assert process.returncode is None, "pliers serve exited"
            try:
                if (await http.get("/health")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"{base_url} did not come up")


@asynccontextmanager
async def pliers_serve(database_url: str, redis_url: str) -> AsyncIterator[str]:
    """A real ``pliers serve`` process; yields its base URL."""
    port = free_port()
    env = {
        **os.environ,
        "PLIERS_DATABASE_URL": database_url,
        "PLIERS_REDIS_URL": redis_url,
        "PLIERS_STREAM_POLL_INTERVAL": str(NO_POLLING),
        "PLIERS_LOG_LEVEL": "warning",
    }
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", "from pliers.cli import main; main()"),
        *("serve", "--port", str(port)),
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(base_url, process)
        yield base_url
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)


async def test_an_event_published_on_one_process_reaches_a_subscriber_on_another(
    pliers_db: TestDatabase, pliers_cache: TestCache, event_factory: EventFactory
) -> None:
    async with (
        pliers_serve(pliers_db.url, pliers_cache.url) as a,
        pliers_serve(pliers_db.url, pliers_cache.url) as b,
    ):
        stream_b = b.replace("http://", "ws://") + "/v1/events/stream"
        async with connect(stream_b) as ws, httpx.AsyncClient(base_url=a) as http_a:
            await subscribe(ws, filter={"eventTypes": ["cross.process"]})
            sent = [event_factory.build(type="cross.process", payload={"n": n}) for n in range(3)]
            for event in sent:
                response = await http_a.post("/v1/events/events", json={"event": event})
                assert response.status_code == 201
            received = await events(ws, 3)
            assert [m["data"]["id"] for m in received] == [e["id"] for e in sent]
            await nothing_more(ws)


@contextmanager
def redis_server(port: int) -> Iterator[subprocess.Popen[bytes]]:
    """A throwaway Redis of this test on ``port``, without persistence."""
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            assert process.poll() is None, "redis-server exited"
            time.sleep(0.05)
        yield process
    finally:
        process.terminate()
        process.wait(timeout=10)


async def test_redis_outage_degrades_health_and_delivery_resumes_without_loss(
    database_url: str, event_factory: EventFactory
) -> None:
    """Redis stops and comes back: the API answers throughout, nothing is lost in between."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    redis_url = f"redis://127.0.0.1:{port}/0"
    settings = {"redis_url": redis_url, "stream_poll_interval": NO_POLLING}
    with redis_server(port) as first:
        async with (
            running_runtime(database_url, **settings) as one,
            running_runtime(database_url, **settings) as two,
            serve(create_app(runtime=one)) as live,
            httpx.AsyncClient(base_url=live.base_url) as http_one,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=create_app(runtime=two)),
                base_url="http://two",
            ) as http_two,
            connect(f"{live.ws_url}/v1/events/stream") as ws,
        ):
            assert (await http_one.get("/health")).json()["status"] == "healthy"
            await subscribe(ws, filter={"eventTypes": ["outage.test"]})

            async def publish(n: int) -> None:
                event = event_factory.build(type="outage.test", payload={"n": n})
                response = await http_two.post("/v1/events/events", json={"event": event})
                assert response.status_code == 201

            await publish(1)
            assert [m["data"]["payload"]["n"] for m in await events(ws, 1)] == [1]

            first.terminate()
            first.wait(timeout=10)
            health = (await http_one.get("/health")).json()
            assert health["status"] == "degraded"
            assert health["checks"]["redis"]["status"] == "down"
            assert health["checks"]["database"]["status"] == "up"
            await publish(2)  # written while Redis is down
            query = {"query": {"eventTypes": ["outage.test"]}}
            answer = await http_one.post("/v1/events/events/query", json=query)
            assert answer.status_code == 200
            assert len(answer.json()["data"]["events"]) == 2

            with redis_server(port):
                # the listener reconnects, reads what it missed from the store, then goes live
                assert [m["data"]["payload"]["n"] for m in await events(ws, 1, 20)] == [2]
                await publish(3)
                assert [m["data"]["payload"]["n"] for m in await events(ws, 1)] == [3]
                await nothing_more(ws)
                assert (await http_one.get("/health")).json()["status"] == "healthy"
