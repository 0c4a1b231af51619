"""How a response reaches the socket under :class:`GuardedHTTP`: the head and the first part of
the body in one write (:class:`OneWrite`), a streamed head without waiting for its first part."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from pliers.api.connections import ConnectionRules, GuardedHTTP, OneWrite
from pliers.testing import apps

TIMEOUT = 5.0


class RecordingTransport:
    """What a transport was asked to do, in order: ("write", bytes), ("writelines", [bytes]),
    ("close", None)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.calls.append(("write", data))

    def writelines(self, parts: tuple[bytes, ...]) -> None:
        self.calls.append(("writelines", list(parts)))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True
        self.calls.append(("close", None))

    def get_extra_info(self, name: str) -> str:
        return f"extra:{name}"


async def test_the_head_and_the_first_part_go_out_in_one_call_and_the_rest_as_they_come() -> None:
    transport = RecordingTransport()
    writes = OneWrite(transport, asyncio.get_running_loop())  # type: ignore[arg-type]

    writes.write(b"HEAD")
    assert transport.calls == []
    writes.write(b"body-1")
    writes.write(b"body-2")
    await asyncio.sleep(0)  # the flush scheduled for the head finds nothing held

    assert transport.calls == [("writelines", [b"HEAD", b"body-1"]), ("write", b"body-2")]
    assert writes.get_extra_info("peername") == "extra:peername"


async def test_a_head_alone_leaves_on_the_next_turn_of_the_loop() -> None:
    transport = RecordingTransport()
    writes = OneWrite(transport, asyncio.get_running_loop())  # type: ignore[arg-type]

    writes.write(b"HEAD")
    await asyncio.sleep(0)
    assert transport.calls == [("write", b"HEAD")]

    writes.write(b"part")
    assert transport.calls == [("write", b"HEAD"), ("write", b"part")]


async def test_closing_sends_what_is_held_first() -> None:
    transport = RecordingTransport()
    writes = OneWrite(transport, asyncio.get_running_loop())  # type: ignore[arg-type]

    writes.write(b"HEAD")
    writes.close()
    await asyncio.sleep(0)

    assert transport.calls == [("write", b"HEAD"), ("close", None)]


@pytest.mark.integration
async def test_a_stream_head_arrives_before_its_first_part_and_the_connection_goes_on() -> None:
    release = asyncio.Event()

    async def parts() -> AsyncIterator[bytes]:
        await release.wait()
        yield b"first"

    async def stream(request: Request) -> Response:
        return StreamingResponse(parts(), media_type="text/plain")

    async def small(request: Request) -> Response:
        return PlainTextResponse("small")

    app = Starlette(routes=[Route("/stream", stream), Route("/small", small)])
    rules = ConnectionRules(max_per_client=10, header_timeout=10.0)
    async with apps.serve(app, http=functools.partial(GuardedHTTP, rules=rules)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        finally:
            release.set()  # so the server can stop whatever happened
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"transfer-encoding: chunked" in head

        chunked = await asyncio.wait_for(reader.readuntil(b"0\r\n\r\n"), TIMEOUT)
        assert chunked == b"5\r\nfirst\r\n0\r\n\r\n"

        writer.write(b"GET /small HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n")
        assert b"content-length: 5" in head
        assert await asyncio.wait_for(reader.readexactly(5), TIMEOUT) == b"small"
        writer.close()
