"""Limits below ASGI (pliers.api.connections): connections per client address, the request head's
deadline and the Host check of protected mode, on a real socket against uvicorn running
:class:`GuardedHTTP`, as ``pliers serve`` runs it."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI

from pliers.api.connections import ConnectionRules, GuardedHTTP, connection_rules
from pliers.settings import Settings
from pliers.testing import apps

pytestmark = pytest.mark.integration
#: the app these tests serve, on one backend (what is tested happens before any route runs)
on_sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TIMEOUT = 10.0
Serve = Callable[..., AbstractAsyncContextManager[int]]


@asynccontextmanager
async def guarded(app: FastAPI, **rules: Any) -> AsyncIterator[int]:
    """``app`` served by uvicorn with :class:`GuardedHTTP` on a free port; yields the port."""
    given = {"max_per_client": 50, "header_timeout": 10.0, **rules}
    http = functools.partial(GuardedHTTP, rules=ConnectionRules(**given))
    async with apps.serve(app, http=http) as server:
        yield server.port


@pytest.fixture
def serve(app: FastAPI) -> Serve:
    return functools.partial(guarded, app)


async def response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT)
    return int(status_line.split()[1]), headers, body


def get(path: str = "/health", host: str = "127.0.0.1", **headers: str) -> bytes:
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), TIMEOUT) == b""


@on_sqlite
async def test_a_client_past_its_connection_cap_reads_429_and_the_cap_frees_up(
    serve: Serve,
) -> None:
    async with serve(max_per_client=3) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
        for reader, writer in held:
            writer.write(get())
            assert (await response(reader))[0] == 200

        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get())
        status, headers, body = await response(reader)
        assert status == 429
        assert b'"TOO_MANY_CONNECTIONS"' in body
        assert b"PLIERS_MAX_CONNECTIONS_PER_CLIENT" in body
        assert headers["connection"] == "close"
        assert await closed(reader)
        writer.close()

        _, first = held.pop()
        first.close()
        await first.wait_closed()
        status = 0
        deadline = time.monotonic() + TIMEOUT
        while status != 200 and time.monotonic() < deadline:  # the server sees the close
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(get())
            status = (await response(reader))[0]
            writer.close()
        assert status == 200
        for _, writer in held:
            writer.close()


@on_sqlite
async def test_a_websocket_past_the_cap_is_refused_and_an_upgraded_one_leaves_the_count(
    serve: Serve,
) -> None:
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
    }
    async with serve(max_per_client=1) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get("/v1/events/stream", **upgrade))
        assert (await asyncio.wait_for(reader.readline(), TIMEOUT)).split()[1] == b"101"
        # the WebSocket no longer counts: a plain request is served beside it
        r2, w2 = await asyncio.open_connection("127.0.0.1", port)
        w2.write(get())
        assert (await response(r2))[0] == 200
        # and one more connection than the cap, upgrading, is refused
        r3, w3 = await asyncio.open_connection("127.0.0.1", port)
        w3.write(get("/v1/events/stream", **upgrade))
        status, _, body = await response(r3)
        assert status == 429
        assert b'"TOO_MANY_CONNECTIONS"' in body
        for w in (writer, w2, w3):
            w.close()


@on_sqlite
async def test_trusted_proxies_are_not_counted(serve: Serve) -> None:
    async with serve(max_per_client=1, exempt=["127.0.0.0/8"]) as port:
        held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(4)]
        for reader, writer in held:
            writer.write(get())
            assert (await response(reader))[0] == 200
        for _, writer in held:
            writer.close()


@on_sqlite
async def test_a_head_not_finished_in_time_gets_408_and_the_connection_closes(
    serve: Serve,
) -> None:
    async with serve(header_timeout=0.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(get()[:-10])  # the head, but not its end
        status, headers, body = await response(reader)
        waited = time.monotonic() - started
        assert status == 408
        assert b"PLIERS_HEADER_READ_TIMEOUT" in body
        assert headers["connection"] == "close"
        assert await closed(reader)
        writer.close()
    assert 0.4 < waited < 5


@on_sqlite
async def test_the_deadline_runs_again_after_each_response_on_a_kept_alive_connection(
    serve: Serve,
) -> None:
    async with serve(header_timeout=0.5) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(3):  # complete requests, each within the deadline
            await asyncio.sleep(0.3)
            writer.write(get())
            assert (await response(reader))[0] == 200
        for part in get()[:15]:  # then a head begun a byte at a time, and not finished
            writer.write(bytes([part]))
            await asyncio.sleep(0.02)
        assert (await response(reader))[0] == 408
        writer.close()


@on_sqlite
async def test_a_connection_that_sends_nothing_is_closed_without_an_answer(
    serve: Serve,
) -> None:
    async with serve(header_timeout=0.3) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        assert await closed(reader)
        assert time.monotonic() - started < 5
        writer.close()


LOOPBACK = ["localhost", "127.0.0.1", "[::1]"]


@on_sqlite
@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:9", "[::1]", "[::1]:8000"]
)
async def test_protected_mode_answers_loopback_host_names(serve: Serve, host: str) -> None:
    async with serve(allowed_hosts=LOOPBACK) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get(host=host))
        assert (await response(reader))[0] == 200
        writer.close()


@on_sqlite
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "localhost.evil.example"])
async def test_protected_mode_refuses_other_host_names_with_421(serve: Serve, host: str) -> None:
    async with serve(allowed_hosts=LOOPBACK) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(get("/v1/forms/forms", host=host))
        status, _, body = await response(reader)
        assert status == 421
        assert b'"HOST_NOT_ALLOWED"' in body
        assert b"PLIERS_ALLOWED_HOSTS" in body
        writer.close()


def test_the_host_check_is_on_in_protected_mode_only() -> None:
    settings = Settings(allowed_hosts="localhost, 127.0.0.1,pliers.internal")
    assert connection_rules(settings, protected=True).allowed_hosts == [
        "localhost",
        "127.0.0.1",
        "pliers.internal",
    ]
    assert connection_rules(settings, protected=False).allowed_hosts is None
    assert connection_rules(Settings(allowed_hosts="*"), protected=True).allowed_hosts is None
    rules = connection_rules(Settings(trusted_proxies="10.0.0.0/8"), protected=False)
    assert rules.admit("10.1.2.3")
    assert rules.open == {}
