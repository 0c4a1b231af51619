"""What the app does to its process when it starts a runtime of its own (``pliers serve``)."""

from __future__ import annotations

import asyncio
import gc

import pytest

from pliers.api.app import create_app
from pliers.settings import load_settings

pytestmark = pytest.mark.integration


async def test_a_started_server_freezes_what_lives_as_long_as_it(database_url: str) -> None:
    """Objects alive once the runtime has started are moved out of the collector's sight, so a
    full collection (a 1,000-event batch makes several) does not walk every module and schema."""

    def start_and_count() -> tuple[int, bool]:
        async def main() -> tuple[int, bool]:
            app = create_app(load_settings(database_url=database_url))
            async with app.router.lifespan_context(app):
                runtime = app.state.runtime
                return gc.get_freeze_count(), not any(runtime is o for o in gc.get_objects())

        # in a thread of its own, as the app leaves a non-main thread's signals alone
        return asyncio.run(main())

    before = gc.get_freeze_count()
    try:
        frozen, runtime_out_of_sight = await asyncio.to_thread(start_and_count)
    finally:
        gc.unfreeze()
    assert frozen > before
    assert runtime_out_of_sight
