"""What a client reads on a real socket: every status it was given, on a connection it may reuse."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from pliers.api.app import create_app
from pliers.testing import LiveServer, running_runtime, serve

pytestmark = pytest.mark.integration

TIMEOUT = 10.0


@pytest.fixture
async def live(app: FastAPI) -> AsyncIterator[LiveServer]:
    async def boom() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/v1/boom", boom, methods=["GET", "POST"])
    async with serve(app) as server:
        yield server


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: status, headers (lower case), body."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT)
    return int(status_line.split()[1]), headers, body


def request(method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: pliers.test"]
    if body or method in ("POST", "PUT"):
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_after_a_500_the_connection_answers_the_next_request(live: LiveServer) -> None:
    reader, writer = await asyncio.open_connection(live.host, live.port)
    try:
        for _ in range(3):
            writer.write(request("GET", "/v1/boom"))
            status, headers, body = await read_response(reader)
            assert status == 500
            assert b'"INTERNAL_ERROR"' in body
            assert b"a bug" not in body
            if headers.get("connection") == "close":  # allowed, but then it must be said
                return
            writer.write(request("GET", "/health"))
            status, _, _ = await read_response(reader)
            assert status == 200
    finally:
        writer.close()


async def test_an_oversized_body_sent_whole_gets_its_413(live: LiveServer) -> None:
    """A client that writes its whole 2 MiB body before reading still reads the 413."""
    body = b'{"event": {"type": "a.b", "aggregateId": "x", "payload": {"blob": "'
    body += b"x" * (2 * 1024 * 1024) + b'"}}}'
    statuses = []
    for _ in range(5):
        reader, writer = await asyncio.open_connection(live.host, live.port)
        try:
            writer.write(request("POST", "/v1/events/events", body))
            await writer.drain()
            status, headers, _ = await read_response(reader)
            statuses.append(status)
            if headers.get("connection") != "close":
                writer.write(request("GET", "/health"))
                assert (await read_response(reader))[0] == 200
        finally:
            writer.close()
    assert statuses == [413] * 5


async def test_a_large_body_declared_with_expect_continue_is_refused_unread(
    live: LiveServer,
) -> None:
    """The client waits for ``100 Continue``; it gets the 413 instead and sends nothing."""
    reader, writer = await asyncio.open_connection(live.host, live.port)
    try:
        head = (
            "POST /v1/events/events HTTP/1.1\r\nHost: pliers.test\r\n"
            "Content-Type: application/json\r\nContent-Length: 50000000\r\n"
            "Expect: 100-continue\r\n\r\n"
        )
        writer.write(head.encode())
        status, headers, _ = await read_response(reader)
        assert status == 413
        assert headers["connection"] == "close"
    finally:
        writer.close()


async def test_a_half_sent_body_is_answered_408_and_closed(tmp_path: Path) -> None:
    async with (
        running_runtime(f"sqlite:///{tmp_path / 'p.db'}", body_read_timeout=0.5) as rt,
        serve(create_app(runtime=rt)) as server,
    ):
        reader, writer = await asyncio.open_connection(server.host, server.port)
        try:
            writer.write(request("POST", "/v1/events/events", b"{" * 100)[:-60])
            started = time.monotonic()
            status, headers, body = await read_response(reader)
            waited = time.monotonic() - started
            assert status == 408
            assert b"PLIERS_BODY_READ_TIMEOUT" in body
            assert headers["connection"] == "close"
            assert await asyncio.wait_for(reader.read(), TIMEOUT) == b""  # closed by the server
        finally:
            writer.close()
    assert 0.4 < waited < 5
