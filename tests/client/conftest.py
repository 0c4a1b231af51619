from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from client_servers import ServerProcess
from fastapi import FastAPI

from pliers.client import AsyncPliers
from pliers.testing import LiveServer, serve


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[LiveServer]:
    """The app of ``database_url`` (PostgreSQL and SQLite) on a real socket."""
    async with serve(app) as server:
        yield server


@pytest.fixture
async def pliers(live: LiveServer) -> AsyncIterator[AsyncPliers]:
    async with AsyncPliers(live.base_url) as client:
        yield client


@pytest.fixture
def server_process(database_url: str) -> Iterator[ServerProcess]:
    server = ServerProcess(database_url)
    server.start()
    try:
        yield server
    finally:
        server.terminate()
