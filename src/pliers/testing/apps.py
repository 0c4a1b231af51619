"""Running a Pliers app in a test: a started runtime, an in-process client, a live server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp

from pliers.runtime import Runtime
from pliers.settings import Settings
from pliers.testing.sockets import listening_socket


def runtime_settings(database_url: str, **settings: Any) -> Settings:
    """Settings for a runtime in a test: small pools, and services outside the test (Redis, the
    mail provider) only when given here, never picked up from a developer's ``PLIERS_*``
    environment: no test mails a real address."""
    defaults: dict[str, Any] = {
        "db_pool_min": 1,
        "db_pool_max": 5,
        "redis_url": None,
        "sendgrid_api_key": None,
    }
    return Settings(**{**defaults, **settings, "database_url": database_url})


@asynccontextmanager
async def started_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """A started :class:`Runtime` on ``settings``, closed on exit."""
    runtime = await Runtime.start(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


@asynccontextmanager
async def running_runtime(database_url: str, **settings: Any) -> AsyncIterator[Runtime]:
    """A started :class:`Runtime` on ``database_url`` with small pools, closed on exit
    (settings as :func:`runtime_settings` makes them)."""
    async with started_runtime(runtime_settings(database_url, **settings)) as runtime:
        yield runtime


@asynccontextmanager
async def client_for(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls ``app`` in-process (no socket)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pliers.test") as client:
        yield client


@dataclass(frozen=True)
class LiveServer:
    host: str
    port: int

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"


@asynccontextmanager
async def serve(app: ASGIApp, host: str = "127.0.0.1", **config: Any) -> AsyncIterator[LiveServer]:
    """Run ``app`` under uvicorn on a free port of ``host`` in this event loop; ``config``: more
    settings of :class:`uvicorn.Config` (such as ``http``, its protocol class)."""
    sock = listening_socket(host)
    port = sock.getsockname()[1]
    settings: dict[str, Any] = {"log_level": "warning", "lifespan": "off", "ws_ping_interval": None}
    server = uvicorn.Server(uvicorn.Config(app, **{**settings, **config}))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.005)
        yield LiveServer(host, port)
    finally:
        server.should_exit = True
        await task
        sock.close()
