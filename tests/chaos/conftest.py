"""The chaos suite: faults injected into throwaway servers while Pliers runs on them."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from chaos_services import Postgres, Redis

from pliers.testing.throwaway import StartError


def _unavailable(what: str, error: Exception) -> None:
    message = f"cannot start a throwaway {what}: {error}"
    if os.environ.get("PLIERS_REQUIRE_SERVICES") == "1":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def postgres() -> Iterator[Postgres]:
    try:
        server = Postgres()
    except StartError as e:
        _unavailable("PostgreSQL", e)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    try:
        server = Redis()
    except (OSError, AssertionError, TimeoutError) as e:
        _unavailable("Redis", e)
    try:
        yield server
    finally:
        server.close()
