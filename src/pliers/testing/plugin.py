"""The pytest plugin (entry point ``pytest11``): real PostgreSQL, Redis and a live server per test.

pytest imports this module before coverage starts, so it declares options only and imports no
part of Pliers: the fixtures live in :mod:`pliers.testing.fixtures`, registered from
``pytest_configure``, by which time coverage measures what they import.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

FIXTURES = "pliers.testing.fixtures"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pliers", "pliers.testing: real PostgreSQL and Redis per test")
    group.addoption(
        "--pliers-keep-db",
        action="store_true",
        help="keep a failing test's database (renamed pliers_kept_*) and print its URL",
    )
    group.addoption(
        "--pliers-db-pool",
        type=int,
        default=4,
        metavar="N",
        help="cloned databases kept ready ahead of the tests, per process (default 4)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(FIXTURES):
        config.pluginmanager.register(importlib.import_module(FIXTURES), FIXTURES)


_MOVED = {
    "LiveServer": "pliers.testing.apps",
    "client_for": "pliers.testing.apps",
    "running_runtime": "pliers.testing.apps",
    "serve": "pliers.testing.apps",
    "TestCache": "pliers.testing.redis",
}


def __getattr__(name: str) -> Any:
    """The helpers this module used to define, from where they live now."""
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
