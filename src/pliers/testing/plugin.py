"""The pytest plugin (entry point ``pytest11``): real PostgreSQL, Redis and a live server per test.

pytest imports this module on every run of every project that installs the plugin, used or not,
and before coverage starts. So it declares options and hooks only and imports no part of Pliers:
the fixtures live in :mod:`pliers.testing.fixtures`, registered from ``pytest_configure``, and
that module in turn imports drivers, the app and the servers only when a test asks for them.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

FIXTURES = "pliers.testing.fixtures"
#: values of the ``pliers_schema`` ini option
SCHEMAS = ("pliers", "none")


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from pliers.testing import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


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
    parser.addini(
        "pliers_migrations",
        type="paths",
        default=[],
        help="directories of *.sql files applied to the template database in name order, "
        "after Pliers' own migrations",
    )
    parser.addini(
        "pliers_schema",
        default="pliers",
        help="'pliers' (default): the template carries Pliers' tables; 'none': only yours",
    )
    parser.addini(
        "pliers_template_inputs",
        type="paths",
        default=[],
        help="more files or directories whose contents name the template (e.g. Alembic's "
        "versions), so a change to them rebuilds it",
    )


def pytest_configure(config: pytest.Config) -> None:
    check_options(config)
    if not config.pluginmanager.has_plugin(FIXTURES):
        config.pluginmanager.register(importlib.import_module(FIXTURES), FIXTURES)


def check_options(config: pytest.Config) -> str:
    """Refuse misspelt template options when the run starts; returns the schema chosen."""
    schema = str(config.getini("pliers_schema")).strip().lower() or "pliers"
    if schema not in SCHEMAS:
        raise pytest.UsageError(f"pliers_schema = {schema!r}: expected one of {SCHEMAS}")
    for path in config.getini("pliers_migrations"):
        if not Path(path).is_dir():
            raise pytest.UsageError(f"pliers_migrations: {path} is not a directory")
    for path in config.getini("pliers_template_inputs"):
        if not Path(path).exists():
            raise pytest.UsageError(f"pliers_template_inputs: {path} does not exist")
    return schema
