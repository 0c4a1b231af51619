"""The examples of docs/testing.md run, each as a test module, and pass."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).parents[2] / "docs" / "testing.md"
BLOCKS = re.findall(r"```(python|ini)\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
#: blocks that open with ``# file: <path>`` make up a project of their own
FILE = re.compile(r"\A# file: (?P<path>\S+)\n")
EXAMPLES = [code for kind, code in BLOCKS if kind == "python" and not FILE.match(code)]
PROJECT = {m["path"]: code[m.end() :] for _, code in BLOCKS if (m := FILE.match(code))}


def count_tests(blocks: list[str]) -> int:
    return sum(len(re.findall(r"^(?:async )?def test_", b, flags=re.M)) for b in blocks)


def test_the_page_has_examples() -> None:
    """Every fixture of the plugin appears in at least one example."""
    assert len(EXAMPLES) >= 5
    code = "\n".join([*EXAMPLES, *PROJECT.values()])
    fixtures = re.findall(
        r"^(?:async )?def (\w+)\(",
        (DOC.parents[1] / "src/pliers/testing/fixtures.py").read_text(),
        flags=re.M,
    )
    for fixture in fixtures:
        if not fixture.startswith(("pytest_", "_")):
            assert fixture in code, f"{fixture} has no example"


def test_examples_pass(inner: pytest.Pytester) -> None:
    """The examples, one module each, pass together in one run."""
    for number, block in enumerate(EXAMPLES):
        inner.makepyfile(**{f"test_example_{number}": block})
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=count_tests(EXAMPLES))


def test_a_project_that_is_not_a_pliers_app(pytester: pytest.Pytester) -> None:
    """The project of "not a Pliers app" (its own ini, Alembic, no Pliers tables) passes."""
    assert {"pytest.ini", "conftest.py", "migrations/env.py"} <= set(PROJECT)
    for path, code in PROJECT.items():
        (pytester.path / path).parent.mkdir(parents=True, exist_ok=True)
        (pytester.path / path).write_text(code)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=count_tests([c for p, c in PROJECT.items() if "test_" in p]))
