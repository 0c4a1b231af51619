"""A client refused for its key reads the 401, however large the body it sends first.

A real socket client against a live server with authentication on: it writes its whole request
(headers and body) before it reads, as many HTTP clients do.
"""

from __future__ import annotations

import asyncio

import pytest

from pliers.testing.apps import LiveServer

pytestmark = pytest.mark.integration

TIMEOUT = 10.0
#: just under PLIERS_MAX_BODY_BYTES' default: a body the server would accept with a key
BODY = b'{"event": {"type": "a.b", "aggregateId": "x", "payload": {"blob": "' + b"x" * 1_000_000
BODY += b'"}}}'


def post(body: bytes, **headers: str) -> bytes:
    lines = [
        "POST /v1/events/events HTTP/1.1",
        "Host: pliers.test",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines if ln)}
    body = await asyncio.wait_for(reader.readexactly(int(headers["content-length"])), TIMEOUT)
    return int(status_line.split()[1]), headers, body


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("connection", ["keep-alive", "close"])
async def test_a_keyless_client_sending_a_large_body_reads_its_401(
    live: LiveServer, connection: str
) -> None:
    for attempt in range(5):
        reader, writer = await asyncio.open_connection(live.host, live.port)
        try:
            writer.write(post(BODY, Connection=connection))
            await asyncio.wait_for(writer.drain(), TIMEOUT)
            status, headers, body = await read_response(reader)
            assert (attempt, status) == (attempt, 401)
            assert b'"UNAUTHORIZED"' in body
            if headers.get("connection") != "close":  # the connection is still usable
                writer.write(b"GET /health HTTP/1.1\r\nHost: pliers.test\r\n\r\n")
                assert (await read_response(reader))[0] == 200
        finally:
            writer.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_wrong_key_with_a_body_leaves_the_connection_usable(live: LiveServer) -> None:
    reader, writer = await asyncio.open_connection(live.host, live.port)
    try:
        for _ in range(3):
            writer.write(
                post(b'{"event": {"type": "a.b", "aggregateId": "x"}}', Authorization="Bearer nope")
            )
            status, headers, _ = await read_response(reader)
            assert status == 401
            assert headers.get("connection") != "close"
    finally:
        writer.close()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_body_held_back_for_100_continue_is_refused_unread_and_closed(
    live: LiveServer,
) -> None:
    reader, writer = await asyncio.open_connection(live.host, live.port)
    try:
        writer.write(post(b"", Expect="100-continue").replace(b"Length: 0", b"Length: 5000"))
        status, headers, _ = await read_response(reader)
        assert status == 401  # not 100 Continue: the client sends nothing more
        assert headers["connection"] == "close"
    finally:
        writer.close()
