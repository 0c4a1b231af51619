"""SIGTERM stops ``pliers serve`` gracefully: it stops accepting, finishes the request in flight,
and tells stream clients it is going away (1001)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

WAIT = 60.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until(what: str, check: object) -> None:
    deadline = time.monotonic() + WAIT
    while not check():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _in_flight(base: str) -> float:
    text = httpx.get(f"{base}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == "pliers_http_requests_in_flight":
                return s.value
    return 0.0


def _drain(stream: ClientConnection) -> None:
    """Read until the server closes the connection."""
    while True:
        stream.recv(timeout=30)


def _refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_sigterm_finishes_the_request_in_flight_and_says_going_away(tmp_path: Path) -> None:
    port = _free_port()
    log = (tmp_path / "server.log").open("w")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLIERS_", "PROMETHEUS_"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "pliers", "serve", "--port", str(port), "--shutdown-timeout", "30"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _until("the server", lambda: server.poll() is not None or _answers(base))
        assert server.poll() is None

        with connect(f"ws://127.0.0.1:{port}/v1/events/stream", open_timeout=30) as stream:
            stream.send(json.dumps({"type": "subscribe", "filter": {}}))
            assert json.loads(stream.recv(timeout=30))["type"] == "subscription_confirmed"

            # a publish whose body is half sent: in flight until the rest arrives
            body = json.dumps({"event": {"type": "stop.test", "aggregateId": "late"}}).encode()
            slow = socket.create_connection(("127.0.0.1", port), timeout=30)
            slow.sendall(
                b"POST /v1/events/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body[:10]
            )
            # the scrape is in flight too: 2 means the half-sent publish reached the app
            _until("the publish in flight", lambda: _in_flight(base) >= 2)

            server.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                _drain(stream)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1001
            _until("the listening socket closed", lambda: _refused(port))

            slow.sendall(body[10:])
            answer = b""
            while b"\r\n\r\n" not in answer:
                chunk = slow.recv(65536)
                assert chunk, f"connection closed before an answer: {answer!r}"
                answer += chunk
            slow.close()
            assert answer.startswith(b"HTTP/1.1 201"), answer
        # uvicorn ends by raising the signal it handled again, as a process stopped by it would
        assert server.wait(timeout=WAIT) in (0, -signal.SIGTERM)
        assert "Application shutdown complete." in (tmp_path / "server.log").read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
        log.close()
