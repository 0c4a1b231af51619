"""Coverage of Pliers by its own suite: pytest-cov's options from ``suite_coverage`` in pyproject.

Loaded with ``-p`` by the project's pytest settings only, so it reaches neither projects that
use the ``pliers.testing`` plugin nor a run that only collects (``--collect-only``), and it leaves
alone a run that chooses for itself (``--cov=...``, ``--no-cov``).
"""

from __future__ import annotations

import copy
from collections.abc import Generator

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("suite_coverage", type="args", default=[], help="pytest-cov options of a run")


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(
    early_config: pytest.Config, parser: pytest.Parser, args: list[str]
) -> Generator[None, None, None]:
    # a wrapper runs before pytest-cov's own hook, which starts coverage when it sees --cov
    known = early_config.known_args_namespace
    options = early_config.getini("suite_coverage")
    if options and not (known.collectonly or known.cov_source or "--no-cov" in args):
        args[:0] = options  # the same list the final parse reads: config.option gets them too
        early_config.known_args_namespace = parser.parse_known_args(
            args, namespace=copy.copy(early_config.option)
        )
    return (yield)
