"""Browser tests: Playwright drives the distribution's Chromium against a live server.

Playwright cannot download its own browser builds here, so it is pointed at the one the system's
packages install (``apt-get install chromium``; ``.ci/run`` does it when it is missing). Without
it the tests are skipped, and fail under ``PLIERS_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, ViewportSize, async_playwright, expect

from pliers.api.app import create_app
from pliers.runtime import Runtime
from pliers.testing import LiveServer, running_runtime, serve
from pliers.testing.services import unavailable

CHROMIUM = os.environ.get("PLIERS_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Where the tests leave their screenshots (the README's come from here).
SCREENSHOTS = Path(os.environ.get("PLIERS_SCREENSHOTS", "coverage/screenshots"))
PHONE: ViewportSize = {"width": 390, "height": 844}
#: How long an expectation waits: generous, for a machine busy with other work. Expectations
#: return as soon as they hold, so this costs nothing when all is well.
expect.set_options(timeout=15_000)
DESKTOP: ViewportSize = {"width": 1280, "height": 900}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        unavailable("Chromium", f"{CHROMIUM} not found", "Install it: apt-get install -y chromium")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A browser window with script on, in a time zone an hour ahead of UTC in winter."""
    opened = await browser.new_context(timezone_id="Europe/Paris", viewport=DESKTOP)
    opened.set_default_timeout(15_000)
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    """The embedded default, as ``pliers serve`` runs on a fresh machine: a SQLite file."""
    async with running_runtime(f"sqlite:///{tmp_path / 'pliers.db'}") as rt:
        yield rt


@pytest.fixture
async def live(runtime: Runtime) -> AsyncIterator[LiveServer]:
    async with serve(create_app(runtime=runtime)) as server:
        yield server


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
