"""Limits on HTTP connections, below ASGI: `pliers serve` runs uvicorn with :class:`GuardedHTTP`.

A connection exists before any request on it, so what a client may hold open is decided here,
in uvicorn's protocol (its httptools one, subclassed), not in a middleware:

- **connections per client address** (``PLIERS_MAX_CONNECTIONS_PER_CLIENT``, per process): a
  connection past the cap is answered 429 ``TOO_MANY_CONNECTIONS`` with ``Connection: close`` once
  its request head arrives. Peers inside ``PLIERS_TRUSTED_PROXIES`` are not counted: behind a
  proxy every connection comes from it, and the proxy is where clients are told apart;
- **the request head's deadline** (``PLIERS_HEADER_READ_TIMEOUT``): from a connection's start, and
  after each response on a kept-alive one, the next request's head must be complete within it;
  otherwise the connection is closed, with a 408 ``REQUEST_TIMEOUT`` when part of a head came;
- **the Host header in protected mode** (no keys: see the README's "Security"): only the names
  of ``PLIERS_ALLOWED_HOSTS`` (any port) are answered; another gets 421 ``HOST_NOT_ALLOWED``, so
  a web page whose name was rebound to 127.0.0.1 cannot use the API from a browser.

It also sends a response's head with the first part of its body in one system call
(:class:`OneWrite`): uvicorn writes them apart, two ``send`` calls per response.

A WebSocket upgrade leaves this count when the connection becomes a WebSocket: the stream
counts its connections itself (``PLIERS_STREAM_MAX_CONNECTIONS_PER_CLIENT``).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from pliers.api.envelope import error
from pliers.errors import HostNotAllowed, PliersError, RequestTimeout, TooManyConnections
from pliers.settings import Settings


@dataclass
class ConnectionRules:
    """What :class:`GuardedHTTP` enforces, and the count of open connections per client address
    in this process (each server process gets its own copy)."""

    max_per_client: int
    header_timeout: float
    #: peers not counted (the trusted proxies): addresses or networks
    exempt: Sequence[str] = ()
    #: Host names answered (any port), lower case; None: any
    allowed_hosts: Sequence[str] | None = None
    open: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self._exempt = [ipaddress.ip_network(n, strict=False) for n in self.exempt]

    def admit(self, peer: str) -> bool:
        """Count a new connection from ``peer``; False when it is one too many."""
        if self._is_exempt(peer):
            return True
        if self.open[peer] >= self.max_per_client:
            return False
        self.open[peer] += 1
        return True

    def release(self, peer: str) -> None:
        if self._is_exempt(peer):
            return
        self.open[peer] -= 1
        if self.open[peer] <= 0:
            del self.open[peer]

    def host_allowed(self, host: bytes | None) -> bool:
        if self.allowed_hosts is None:
            return True
        if host is None:
            return False
        name = host.decode("latin-1").strip().lower()
        # host:port, or [v6]:port
        name = name[: name.find("]") + 1] if name.startswith("[") else name.partition(":")[0]
        return name.rstrip(".") in self.allowed_hosts

    def _is_exempt(self, peer: str) -> bool:
        if not self._exempt:
            return False
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(address in network for network in self._exempt)


def connection_rules(settings: Settings, *, protected: bool) -> ConnectionRules:
    """The rules of ``settings``; the Host check applies in protected mode only."""
    hosts = [h.strip().lower() for h in settings.allowed_hosts.split(",") if h.strip()]
    return ConnectionRules(
        max_per_client=settings.max_connections_per_client,
        header_timeout=settings.header_read_timeout,
        exempt=settings.trusted_proxy_list,
        allowed_hosts=hosts if protected and "*" not in hosts else None,
    )


class GuardedHTTP(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of :class:`ConnectionRules`.

    Give it to uvicorn as ``functools.partial(GuardedHTTP, rules=rules)`` (``Config(http=…)``).
    """

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        rules: ConnectionRules,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.rules = rules
        self._counted: str | None = None  # the peer this connection is counted for
        self._refusal: Response | None = None  # the answer to every request on it
        self._head_timer: asyncio.TimerHandle | None = None
        self._head_begun = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        peer = self.client[0] if self.client else ""
        if self.rules.admit(peer):
            self._counted = peer
        else:
            self._refusal = _refusal(
                TooManyConnections(
                    f"this client address already holds {self.rules.max_per_client} connections "
                    "(PLIERS_MAX_CONNECTIONS_PER_CLIENT)"
                )
            )
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._release()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        self._head_begun = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_begun = False
        refusal = self._refusal or self._host_refusal()
        if refusal is None:
            before = self.cycle
            super().on_headers_complete()
            if self.cycle is not before:  # an upgrade request starts no cycle
                self.cycle.transport = OneWrite(self.transport, self.loop)  # type: ignore[assignment]
            return
        app, self.app = self.app, _answering(refusal)
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def handle_websocket_upgrade(self) -> None:
        refusal = self._refusal or self._host_refusal()
        if refusal is not None:
            self.transport.write(_raw(refusal))
            self.transport.close()
            return
        self._release()  # from here on a WebSocket, which the stream counts
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm()

    def _host_refusal(self) -> Response | None:
        host = next((v for n, v in self.headers if n == b"host"), None)
        if self.rules.host_allowed(host):
            return None
        shown = host.decode("latin-1") if host is not None else "(none)"
        return _refusal(
            HostNotAllowed(
                f"Host {shown!r} is not answered while authentication is off (protected mode): "
                "use localhost or 127.0.0.1, or list the name in PLIERS_ALLOWED_HOSTS"
            )
        )

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.rules.header_timeout, self._head_too_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _release(self) -> None:
        if self._counted is not None:
            self.rules.release(self._counted)
            self._counted = None

    def _head_too_late(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_begun:
            late = _refusal(
                RequestTimeout(
                    f"the request head was not received within {self.rules.header_timeout:g} s "
                    "(PLIERS_HEADER_READ_TIMEOUT)"
                )
            )
            self.transport.write(_raw(late))
        self.transport.close()


class OneWrite:
    """A response's transport that holds the first write (the head) until the next one comes
    (the first part of the body) and sends both with one ``writelines``; a head alone (a stream
    waiting for its first part, a 100 Continue) leaves on the loop's next turn. Every other
    attribute is the connection's transport.
    """

    __slots__ = ("_held", "_loop", "_passing", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._passing = False

    def write(self, data: bytes) -> None:
        if self._passing:
            self._transport.write(data)
        elif self._held is None:
            self._held = data
            self._loop.call_soon(self._flush)
        else:
            held, self._held, self._passing = self._held, None, True
            self._transport.writelines((held, data))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._passing = True
            if not self._transport.is_closing():
                self._transport.write(held)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _refusal(refused: PliersError) -> Response:
    response = error(refused)
    response.headers["connection"] = "close"
    return response


def _answering(response: Response) -> ASGIApp:
    async def answer(scope: Scope, receive: Receive, send: Send) -> None:
        await response(scope, receive, send)

    return answer


def _raw(response: Response) -> bytes:
    """``response`` as bytes on the wire, for a connection no request cycle runs on."""
    status = HTTPStatus(response.status_code)
    lines = [f"HTTP/1.1 {status.value} {status.phrase}".encode()]
    lines += [name + b": " + value for name, value in response.raw_headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + bytes(response.body)
