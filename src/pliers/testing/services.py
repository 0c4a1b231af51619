"""Finding the PostgreSQL and Redis servers tests run against."""

from __future__ import annotations

import os

import pytest

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def services_required() -> bool:
    """True when a missing service must fail the test run instead of skipping (CI)."""
    return os.environ.get("PLIERS_REQUIRE_SERVICES", "").lower() in ("1", "true", "yes")


def unavailable(service: str, reason: str, how: str) -> None:
    """Skip the test, or fail it under ``PLIERS_REQUIRE_SERVICES=1``."""
    message = f"{service} unavailable: {reason}. {how}"
    if services_required():
        pytest.fail(f"{message} (PLIERS_REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
    pytest.skip(message)


def postgres_admin_url() -> str:
    return os.environ.get("PLIERS_TEST_DATABASE_URL") or DEFAULT_POSTGRES_URL


def redis_url() -> str:
    return os.environ.get("PLIERS_TEST_REDIS_URL") or DEFAULT_REDIS_URL


POSTGRES_HOW = (
    "Set PLIERS_TEST_DATABASE_URL=postgresql://user@host:port/postgres (a role that may "
    "CREATE DATABASE), or run PostgreSQL on 127.0.0.1:5432"
)
REDIS_HOW = "Set PLIERS_TEST_REDIS_URL=redis://host:port, or run Redis on 127.0.0.1:6379"
