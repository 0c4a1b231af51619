"""The pytest plugin (entry point ``pytest11``): real PostgreSQL, Redis and a live server."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
import pytest
import redis.asyncio as aioredis
import uvicorn
from fastapi import FastAPI

from pliers.api.app import create_app
from pliers.runtime import Runtime
from pliers.settings import Settings
from pliers.testing import postgres, services
from pliers.testing import redis as redis_db
from pliers.testing.email import MockEmailProvider, email_provider_server
from pliers.testing.factories import EventFactory, FormBuilder


@dataclass(frozen=True)
class PostgresServer:
    admin_url: str
    template: str


@pytest.fixture(scope="session")
def pliers_postgres() -> PostgresServer:
    """The PostgreSQL server of this run, with the migrated template database built."""
    admin_url = services.postgres_admin_url()
    try:
        template = asyncio.run(postgres.ensure_template(admin_url))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        services.unavailable("PostgreSQL", f"{admin_url}: {e}", services.POSTGRES_HOW)
    return PostgresServer(admin_url, template)


@pytest.fixture
async def pliers_db(pliers_postgres: PostgresServer) -> AsyncIterator[postgres.TestDatabase]:
    """A fresh, migrated PostgreSQL database for this test, dropped afterwards."""
    admin = await asyncpg.connect(pliers_postgres.admin_url)
    try:
        name = await postgres.create_test_database(
            admin, pliers_postgres.admin_url, pliers_postgres.template
        )
        url = postgres.with_database(pliers_postgres.admin_url, name)
        conn = await asyncpg.connect(url)
        try:
            yield postgres.TestDatabase(name=name, url=url, connection=conn)
        finally:
            await conn.close()
            await postgres.drop_database(admin, name)
    finally:
        await admin.close()


@asynccontextmanager
async def running_runtime(database_url: str, **settings: Any) -> AsyncIterator[Runtime]:
    """A started :class:`Runtime` on ``database_url`` with small pools, closed on exit."""
    config = Settings(
        **{"db_pool_min": 1, "db_pool_max": 5, **settings, "database_url": database_url}
    )
    runtime = await Runtime.start(config)
    try:
        yield runtime
    finally:
        await runtime.close()


@pytest.fixture
async def pliers_runtime(pliers_db: postgres.TestDatabase) -> AsyncIterator[Runtime]:
    async with running_runtime(pliers_db.url) as runtime:
        yield runtime


@pytest.fixture
def pliers_app(pliers_runtime: Runtime) -> FastAPI:
    """The Pliers application bound to this test's database."""
    return create_app(runtime=pliers_runtime)


@asynccontextmanager
async def client_for(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pliers.test") as client:
        yield client


@pytest.fixture
async def pliers_client(pliers_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client that calls the app in-process (no socket)."""
    async with client_for(pliers_app) as client:
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
async def serve(app: FastAPI, host: str = "127.0.0.1") -> AsyncIterator[LiveServer]:
    """Run ``app`` under uvicorn on a free port of ``host`` in this event loop."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws_ping_interval=None)
    server = uvicorn.Server(config)
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


@pytest.fixture
async def pliers_server(pliers_app: FastAPI) -> AsyncIterator[LiveServer]:
    """The app on a real socket: ``base_url`` for HTTP, ``ws_url`` for WebSocket."""
    async with serve(pliers_app) as live:
        yield live


@dataclass
class TestCache:
    """A Redis database nobody else is using, flushed before and after the test."""

    __test__ = False

    url: str
    index: int
    client: aioredis.Redis


@pytest.fixture
async def pliers_cache() -> AsyncIterator[TestCache]:
    server_url = services.redis_url()
    try:
        index, token = await redis_db.claim_database(server_url)
    except (OSError, aioredis.RedisError) as e:
        services.unavailable("Redis", f"{server_url}: {e}", services.REDIS_HOW)
    url = redis_db.with_index(server_url, index)
    client = aioredis.Redis.from_url(url)
    try:
        await client.flushdb()
        yield TestCache(url=url, index=index, client=client)
    finally:
        await client.flushdb()
        await client.aclose()
        await redis_db.release_database(server_url, index, token)


@pytest.fixture
def event_factory() -> EventFactory:
    return EventFactory()


@pytest.fixture
def form_builder() -> FormBuilder:
    """A fresh :class:`FormBuilder` for the body of ``POST /v1/forms/forms``."""
    return FormBuilder()


@pytest.fixture
async def email_provider() -> AsyncIterator[MockEmailProvider]:
    """A mock of the SendGrid v3 API on a free local port: ``base_url``, ``calls``, controls."""
    async with email_provider_server() as provider:
        yield provider
