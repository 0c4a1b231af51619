"""``pliers worker``: delivers what is queued, in its own process, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from pliers.testing import running_runtime

from .helpers import all_sent, eventually, form_resource, submit

pytestmark = pytest.mark.integration


async def test_worker_logs_queued_mail_with_the_console_backend(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pliers.db'}"
    async with running_runtime(url, dispatcher_enabled=False) as rt:
        await submit(rt, form_resource())

    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIERS_")}
    env["PLIERS_NOTIFY_POLL_SECONDS"] = "0.1"
    env["COLUMNS"] = "200"  # rich wraps log lines at the terminal width
    worker = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "pliers",
        "worker",
        "--database-url",
        url,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        async with running_runtime(url, dispatcher_enabled=False) as rt:
            await eventually(lambda: all_sent(rt.notifications), "the worker delivers", 30)
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(worker.communicate(), 30)
    text = output.decode()
    assert worker.returncode == 0, text
    assert "console (no PLIERS_SENDGRID_API_KEY)" in text
    assert "ops@example.com" in text
