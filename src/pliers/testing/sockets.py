"""The listening socket of a server that a test starts."""

from __future__ import annotations

import socket


def listening_socket(host: str, port: int = 0) -> socket.socket:
    """A TCP socket bound to ``host`` (a free port unless ``port`` is given), not yet listening.

    Made with ``IPPROTO_TCP`` named: asyncio turns Nagle's algorithm off only on sockets whose
    protocol says TCP, and with it on, a small response written in two parts (headers, then
    body) waited for the client's delayed ACK: about 40 ms on every request.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock
