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
def inner(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester directory configured like a Pliers application's test suite."""
    pytester.makeini(INNER_INI)
    return pytester
