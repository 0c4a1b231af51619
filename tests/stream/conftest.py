from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from pliers.testing import LiveServer, serve


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[LiveServer]:
    """The app of ``database_url`` (PostgreSQL and SQLite) on a real socket."""
    async with serve(app) as server:
        yield server


@pytest.fixture
async def http(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.base_url) as client:
        yield client


@pytest.fixture
def stream_url(live: LiveServer) -> str:
    return f"{live.ws_url}/v1/events/stream"
