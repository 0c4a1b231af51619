"""The plugin loads before coverage starts, so importing it must import no part of Pliers."""

from __future__ import annotations

import subprocess
import sys

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
