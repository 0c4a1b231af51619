"""The plugin loads before coverage starts, so importing it must import no part of Pliers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import pliers.testing
from pliers.testing import plugin


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


def test_helpers_keep_their_old_import_paths() -> None:
    """``pliers.testing`` and ``pliers.testing.plugin`` still hand out the helpers by name."""
    from pliers.testing.apps import client_for, running_runtime, serve

    assert pliers.testing.client_for is client_for
    assert plugin.running_runtime is running_runtime
    assert plugin.serve is serve
    assert set(pliers.testing.__all__) <= set(dir(pliers.testing)) | set(pliers.testing._WHERE)


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
