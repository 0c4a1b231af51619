"""Helpers for tests that run an inner pytest session with the plugin (through ``pytester``)."""

from __future__ import annotations

import pytest

INNER_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
"""


@pytest.fixture
def pytester(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """An inner session is nobody's xdist worker, even when this session's test runs in one: it
    does not inherit the variables xdist sets for its workers."""
    for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(name, raising=False)
    return pytester


@pytest.fixture
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory configured like a Pliers application's test suite."""
    pytester.makeini(INNER_INI)
    return pytester
