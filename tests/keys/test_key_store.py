"""The key store port: one suite, run on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from pliers.keys import ApiKey, KeyStore, tokens
from pliers.runtime import Runtime

pytestmark = pytest.mark.integration


@pytest.fixture
def keys(runtime: Runtime) -> KeyStore:
    return runtime.adapters.keys


def a_key(name: str = "ci", **fields: object) -> tuple[ApiKey, str]:
    key_id = tokens.new_id()
    secret = tokens.new_secret(key_id)
    given: dict[str, object] = {
        "id": key_id,
        "name": name,
        "scopes": ("events:read", "forms:write"),
        "digest": tokens.digest(secret),
        "created_at": datetime.now(UTC),
        **fields,
    }
    return ApiKey(**given), secret  # type: ignore[arg-type]


async def test_a_stored_key_reads_back_as_given(keys: KeyStore) -> None:
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    key, _ = a_key(expires_at=expires)
    assert await keys.exists() is False
    await keys.insert(key)
    assert await keys.exists() is True
    found = await keys.get(key.id)
    assert found is not None
    assert (found.id, found.name, found.scopes, found.digest) == (
        key.id,
        key.name,
        key.scopes,
        key.digest,
    )
    assert found.expires_at == expires
    assert found.revoked_at is None
    assert await keys.get(tokens.new_id()) is None


async def test_list_is_oldest_first_and_keeps_revoked_keys(keys: KeyStore) -> None:
    first, _ = a_key("first", created_at=datetime.now(UTC) - timedelta(minutes=1))
    second, _ = a_key("second")
    await keys.insert(second)
    await keys.insert(first)
    await keys.revoke(first.id, datetime.now(UTC))
    assert [k.name for k in await keys.list()] == ["first", "second"]


async def test_revoking_keeps_the_first_revocation_time(keys: KeyStore) -> None:
    key, _ = a_key()
    await keys.insert(key)
    first = datetime.now(UTC).replace(microsecond=0)
    revoked = await keys.revoke(key.id, first)
    assert revoked is not None
    assert revoked.revoked_at == first
    again = await keys.revoke(key.id, first + timedelta(hours=1))
    assert again is not None
    assert again.revoked_at == first
    assert await keys.revoke(tokens.new_id(), first) is None
    assert await keys.exists() is True  # a revoked key still keeps authentication on


async def test_watch_signals_changes_or_returns_at_once(keys: KeyStore, runtime: Runtime) -> None:
    """PostgreSQL signals every change (any process); SQLite has no signal and returns."""

    class Recorder:
        def __init__(self) -> None:
            self.listening_now = asyncio.Event()
            self.changes = asyncio.Event()

        def listening(self) -> None:
            self.listening_now.set()

        def changed(self) -> None:
            self.changes.set()

        def lost(self) -> None:
            self.listening_now.clear()

    recorder = Recorder()
    watching = asyncio.create_task(keys.watch(recorder))
    try:
        if runtime.store.backend == "sqlite":
            await asyncio.wait_for(watching, 10)
            return
        await asyncio.wait_for(recorder.listening_now.wait(), 10)
        key, _ = a_key()
        await keys.insert(key)
        await asyncio.wait_for(recorder.changes.wait(), 10)
        recorder.changes.clear()
        await keys.revoke(key.id, datetime.now(UTC))
        await asyncio.wait_for(recorder.changes.wait(), 10)
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
