"""Fixtures of the project's own suite: every store test runs on PostgreSQL and on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from pliers.api.app import create_app
from pliers.events.store import EventStore
from pliers.runtime import Runtime
from pliers.testing import client_for, running_runtime

BACKENDS = ["postgres", "sqlite"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of each backend: a cloned PostgreSQL database, or a new SQLite file."""
    if request.param == "postgres":
        return str(request.getfixturevalue("pliers_db_url"))
    return f"sqlite:///{tmp_path / 'pliers.db'}"


@pytest.fixture
async def runtime(database_url: str) -> AsyncIterator[Runtime]:
    async with running_runtime(database_url) as rt:
        yield rt


@pytest.fixture
def store(runtime: Runtime) -> EventStore:
    return runtime.store


@pytest.fixture
def app(runtime: Runtime) -> FastAPI:
    return create_app(runtime=runtime)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c
