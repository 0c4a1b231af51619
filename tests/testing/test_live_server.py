"""The live server serves HTTP and WebSocket on a real socket."""

from __future__ import annotations

import asyncio
import re
import socket

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from pliers.testing import LiveServer, serve
from pliers.testing.sockets import listening_socket

pytestmark = pytest.mark.integration


async def hello(_: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    async for message in websocket.iter_text():
        await websocket.send_text(f"echo: {message}")


ECHO_APP = Starlette(routes=[Route("/", hello), WebSocketRoute("/echo", echo)])


async def test_serve_answers_http_and_websocket() -> None:
    """``serve`` puts any ASGI app on a free port, HTTP and WebSocket both."""
    async with serve(ECHO_APP) as live:
        assert live.port > 0
        async with httpx.AsyncClient() as client:
            response = await client.get(live.base_url + "/")
        assert response.text == "hello"
        async with websockets.connect(live.ws_url + "/echo") as ws:
            await ws.send("ping")
            assert await ws.recv() == "echo: ping"
            await ws.send("again")
            assert await ws.recv() == "echo: again"


async def test_serve_stops_listening_on_exit() -> None:
    """Once the block ends the port no longer accepts connections."""
    async with serve(ECHO_APP) as live:
        url = live.base_url
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url + "/")


async def test_pliers_server_serves_the_app_on_this_tests_database(
    pliers_server: LiveServer,
) -> None:
    """The Pliers app answers /health over a real socket, its database check passing."""
    async with httpx.AsyncClient(base_url=pliers_server.base_url) as client:
        response = await client.get("/health")
    assert response.status_code == 200
    assert response.json()["checks"]["database"]["status"] == "up"
    assert pliers_server.ws_url == f"ws://{pliers_server.host}:{pliers_server.port}"


async def test_pliers_server_speaks_websocket(pliers_server: LiveServer) -> None:
    """A WebSocket handshake reaches the app: an unknown route is refused, not left hanging
    (401 first: the fixtures' app has authentication on, and no key was sent)."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(pliers_server.ws_url + "/no-such-socket"):
            pass
    assert refused.value.response.status_code == 401


SHARED_SERVER_TESTS = """
import httpx
import pytest


@pytest.mark.parametrize("n", range(3))
async def test_each_test_its_own_app(n, pliers_server, pliers_db, pliers_admin_key, event_factory):
    event = event_factory.build(aggregateId="same", sequenceNumber=1, payload={"n": n})
    admin = {"Authorization": f"Bearer {pliers_admin_key}"}
    async with httpx.AsyncClient(base_url=pliers_server.base_url, headers=admin) as client:
        response = await client.post("/v1/events/events", json={"event": event})
        assert response.status_code == 201, response.text
        response = await client.get("/v1/events/events/aggregates/same")
    assert [e["payload"]["n"] for e in response.json()["data"]["events"]] == [n]
    # the server wrote into this test's own database
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM events") == 1
    print("PORT", pliers_server.port)
"""


def test_one_server_serves_every_tests_own_app(inner: pytest.Pytester) -> None:
    """The server is started once per process; each test's requests reach that test's app."""
    inner.makepyfile(test_shared=SHARED_SERVER_TESTS)
    result = inner.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=3)
    ports = [m for m in re.findall(r"PORT (\d+)", result.stdout.str())]
    assert len(ports) == 3
    assert len(set(ports)) == 1


async def test_a_test_servers_connections_send_at_once() -> None:
    """Connections accepted on a test server's socket have Nagle's algorithm off: with it on, a
    small response written in two parts waits for the client's delayed ACK (about 40 ms)."""
    sock = listening_socket("127.0.0.1")
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handle(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        option = writer.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        accepted.set_result(option)
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(*sock.getsockname())
        assert await accepted == 1
        writer.close()
