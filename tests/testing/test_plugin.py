"""The plugin costs nothing to a run that uses none of its fixtures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pliers.testing

HEAVY = ("asyncpg", "redis", "fastapi", "httpx", "uvicorn", "starlette", "pydantic")

RECORD_MODULES = """
import atexit, os, sys

def record():  # at exit: after the plugin's own pytest_unconfigure
    loaded = sorted(
        m for m in sys.modules
        if m.split(".")[0] in {heavy!r} or m.startswith(("pliers.runtime", "pliers.api",
                                                          "pliers.storage", "pliers.testing."))
    )
    with open(os.environ["LOADED"], "w") as f:
        f.write(" ".join(loaded))

atexit.register(record)
"""
#: what a run that uses none of the fixtures imports of the plugin
PLUGIN_ITSELF = ["pliers.testing.fixtures", "pliers.testing.hookspecs", "pliers.testing.plugin"]


def test_entry_point_module_imports_nothing_heavy() -> None:
    """Importing the entry point leaves Pliers internals, drivers and FastAPI unimported."""
    code = (
        "import sys, pliers.testing.plugin; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('pliers', 'asyncpg', 'redis', 'fastapi', 'httpx', 'uvicorn'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == ["pliers", "pliers.testing", "pliers.testing.plugin"]


def test_a_run_without_its_fixtures_loads_no_driver_and_finds_no_server(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A plain test with the plugin registered: no driver, no app, no server is looked for,
    and none of the plugin's modules that do so is imported, at the start or at the end."""
    monkeypatch.setenv("LOADED", str(tmp_path / "loaded"))
    # a server lookup would fail loudly: nothing listens there and nothing may be started
    monkeypatch.setenv("PLIERS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:1/postgres")
    monkeypatch.setenv("PLIERS_TEST_START_SERVERS", "0")
    monkeypatch.setenv("PLIERS_REQUIRE_SERVICES", "1")
    inner.makeconftest(RECORD_MODULES.format(heavy=HEAVY))
    inner.makepyfile(test_plain="def test_plain():\n    assert sum([1, 2]) == 3\n")
    # respx is a plugin of this suite's environment, not the plugin's: it imports httpx itself
    result = inner.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:respx")
    result.assert_outcomes(passed=1)
    assert (tmp_path / "loaded").read_text().split() == PLUGIN_ITSELF


def test_public_names_resolve() -> None:
    """Every name in ``pliers.testing.__all__`` is importable from the package."""
    for name in pliers.testing.__all__:
        assert getattr(pliers.testing, name) is not None


async def test_running_runtime_ignores_outside_services_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A developer's real SendGrid key or Redis in PLIERS_* never reaches a test's runtime."""
    from pliers.notifications import ConsoleMailer
    from pliers.testing import running_runtime

    monkeypatch.setenv("PLIERS_SENDGRID_API_KEY", "SG.real-key")
    monkeypatch.setenv("PLIERS_REDIS_URL", "redis://production.example:6379/0")
    async with running_runtime(f"sqlite:///{tmp_path / 'env.db'}") as rt:
        assert rt.settings.sendgrid_api_key is None
        assert rt.settings.redis_url is None
        assert rt.dispatcher is not None
        assert isinstance(rt.dispatcher.mailer, ConsoleMailer)
