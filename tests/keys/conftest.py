"""An app with authentication on (an admin key), on both backends, on a real socket."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from pliers.api.app import create_app
from pliers.runtime import Runtime
from pliers.testing import running_runtime, serve
from pliers.testing.apps import LiveServer


@pytest.fixture
def admin_key() -> str:
    return secrets.token_hex(24)


@pytest.fixture
async def secured(database_url: str, admin_key: str) -> AsyncIterator[Runtime]:
    async with running_runtime(database_url, admin_key=admin_key) as rt:
        yield rt


@pytest.fixture
def secured_app(secured: Runtime) -> FastAPI:
    return create_app(runtime=secured)


@pytest.fixture
async def live(secured_app: FastAPI) -> AsyncIterator[LiveServer]:
    async with serve(secured_app) as server:
        yield server


@pytest.fixture
async def http(live: LiveServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def admin(admin_key: str) -> dict[str, str]:
    """Headers of a request made with the admin key."""
    return {"Authorization": f"Bearer {admin_key}"}
