"""The live server serves HTTP and WebSocket on a real socket."""

from __future__ import annotations

import httpx
import pytest
import websockets
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from pliers.testing import LiveServer, serve

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
