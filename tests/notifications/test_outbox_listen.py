"""On PostgreSQL, committed mail wakes the dispatchers of every process (LISTEN/NOTIFY).

The dispatchers here poll once a minute, so mail delivered within seconds was announced, not
found by the poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import urlsplit

import asyncpg
import pytest

from pliers.runtime import Runtime
from pliers.storage.postgres.events import PostgresEventStore
from pliers.storage.postgres.outbox import CHANNEL, PostgresOutboxStore
from pliers.testing import MockEmailProvider, running_runtime

from .helpers import all_sent, eventually, form_resource, submit, written

pytestmark = pytest.mark.integration

SLOW_POLL = 60.0


@asynccontextmanager
async def worker_and_web(
    url: str, email_provider: MockEmailProvider, **worker_settings: Any
) -> AsyncIterator[tuple[Runtime, Runtime]]:
    """Two runtimes on one database: one delivers mail (polling once a minute), one does not."""
    async with (
        running_runtime(
            url,
            sendgrid_api_key="key",
            sendgrid_base_url=email_provider.base_url,
            notify_poll_seconds=SLOW_POLL,
            **worker_settings,
        ) as worker,
        running_runtime(url, dispatcher_enabled=False) as web,
    ):
        yield worker, web


async def listening_pids(url: str) -> list[int]:
    """Backends of this test's database that are listening for queued mail."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND query = $2",
            urlsplit(url).path.lstrip("/"),
            f'LISTEN "{CHANNEL}"',
        )
    finally:
        await conn.close()
    return [r["pid"] for r in rows]


async def idle_listener(url: str, dispatcher_rt: Runtime) -> int:
    """The pid of the dispatcher's LISTEN connection, once its start-up rounds are over."""
    await eventually(lambda: _one_listener(url), "the dispatcher listens")
    assert dispatcher_rt.dispatcher is not None
    await asyncio.sleep(0.3)  # the wake-up that follows LISTEN has been claimed by now
    [pid] = await listening_pids(url)
    return pid


async def _one_listener(url: str) -> bool:
    return len(await listening_pids(url)) == 1


async def test_mail_queued_by_another_process_is_delivered_without_waiting_for_the_poll(
    pliers_db_url: str, email_provider: MockEmailProvider
) -> None:
    async with worker_and_web(pliers_db_url, email_provider) as (worker, web):
        await idle_listener(pliers_db_url, worker)
        await submit(web, form_resource())
        await eventually(lambda: all_sent(worker.notifications), "delivered", limit=10)
    assert len(email_provider.sent) == 1


async def test_the_dispatcher_listens_again_after_losing_its_connection(
    pliers_db_url: str, email_provider: MockEmailProvider
) -> None:
    async with worker_and_web(pliers_db_url, email_provider) as (worker, web):
        first = await idle_listener(pliers_db_url, worker)
        admin = await asyncpg.connect(pliers_db_url)
        try:
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        second = await idle_listener(pliers_db_url, worker)
        assert second != first
        await submit(web, form_resource())
        await eventually(lambda: all_sent(worker.notifications), "delivered", limit=10)


async def test_only_committed_mail_is_announced(pliers_db_url: str) -> None:
    notices: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(pliers_db_url)
    await listener.add_listener(CHANNEL, lambda *notice: notices.put_nowait(notice[3]))
    try:
        async with running_runtime(pliers_db_url, dispatcher_enabled=False) as web:
            assert web.notifications is not None
            form = form_resource(
                [
                    {"type": "email", "to": ["a@example.com"], "subject": "one"},
                    {"type": "email", "to": ["b@example.com"], "subject": "two"},
                ]
            )
            with pytest.raises(RuntimeError, match="after the hook"):
                await queue_then_fail(web, form)
            await submit(web, form)
            assert await asyncio.wait_for(notices.get(), 5) == "2"
        await asyncio.sleep(0.2)
        assert notices.empty()
    finally:
        await listener.close()


async def queue_then_fail(rt: Runtime, form: dict[str, Any]) -> None:
    assert rt.notifications is not None
    submission = {"id": "rolled-back", "formId": form["id"], "data": {"name": "Ada"}}
    async with rt.store.transaction() as tx:
        await rt.notifications.hook(tx, [written(form, submission)])
        raise RuntimeError("the submission failed after the hook")


async def test_a_retry_asked_of_another_process_is_delivered_without_waiting_for_the_poll(
    pliers_db_url: str, email_provider: MockEmailProvider
) -> None:
    email_provider.fail(400, "The from address does not match a verified Sender Identity")
    retries_once = worker_and_web(pliers_db_url, email_provider, notify_max_attempts=1)
    async with retries_once as (worker, web):
        assert web.notifications is not None
        await idle_listener(pliers_db_url, worker)
        await submit(web, form_resource())
        await eventually(lambda: _all_failed(web), "refused for good", limit=10)
        email_provider.reset()
        [failed] = await web.notifications.list()
        await web.notifications.retry(failed.id)
        await eventually(lambda: all_sent(worker.notifications), "delivered", limit=10)


async def _all_failed(rt: Runtime) -> bool:
    assert rt.notifications is not None
    found = await rt.notifications.list()
    return bool(found) and {n.status for n in found} == {"failed"}


async def test_listening_is_tried_again_while_the_database_cannot_be_reached(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level("WARNING", logger="pliers.storage.postgres.listen")
    unreachable = SimpleNamespace(url="postgresql://postgres@127.0.0.1:1/pliers", timeout=5.0)
    woke: list[None] = []
    watching = asyncio.create_task(
        PostgresOutboxStore(cast(PostgresEventStore, unreachable)).watch(lambda: woke.append(None))
    )

    async def tried_twice() -> bool:
        return sum("cannot listen for queued mail" in r.getMessage() for r in caplog.records) >= 2

    try:
        await eventually(tried_twice, "a second attempt after the first failed", limit=10)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching
    assert woke == []
    assert watching.cancelled()
