"""The examples of docs/testing.md run, each as a test module, and pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).parents[2] / "docs" / "testing.md"
BLOCKS = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    """Every fixture in the table appears in at least one example."""
    assert len(BLOCKS) >= 5
    code = "\n".join(BLOCKS)
    for fixture in ("pliers_db", "pliers_cache", "pliers_client", "pliers_server", "event_factory"):
        assert fixture in code


def test_examples_pass(inner: pytest.Pytester) -> None:
    """The examples, one module each, pass together in one run."""
    for number, block in enumerate(BLOCKS):
        inner.makepyfile(**{f"test_example_{number}": block})
    expected = sum(len(re.findall(r"^(?:async )?def test_", b, flags=re.M)) for b in BLOCKS)
    result = inner.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=expected)
