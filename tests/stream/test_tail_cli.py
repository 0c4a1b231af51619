"""``pliers events tail`` against a live server, and when there is none."""

from __future__ import annotations

import asyncio
import signal
import sys

import httpx
import pytest
from typer.testing import CliRunner

from pliers.cli import app
from pliers.client.stream import stream_url
from pliers.testing import EventFactory, LiveServer

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("http://127.0.0.1:8000", "ws://127.0.0.1:8000/v1/events/stream"),
        ("https://pliers.example/", "wss://pliers.example/v1/events/stream"),
        ("127.0.0.1:9000", "ws://127.0.0.1:9000/v1/events/stream"),
        ("http://proxy/pliers", "ws://proxy/pliers/v1/events/stream"),
    ],
)
def test_stream_url_from_the_base_url(base: str, expected: str) -> None:
    assert stream_url(base) == expected


def test_an_unreachable_server_is_one_clear_line() -> None:
    result = CliRunner().invoke(app, ["events", "tail", "--url", "http://127.0.0.1:1"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "cannot reach Pliers at http://127.0.0.1:1" in lines[0]
    assert "Traceback" not in result.output


def test_a_url_that_is_not_http_is_refused() -> None:
    result = CliRunner().invoke(app, ["events", "tail", "--url", "ftp://example.com"])
    assert result.exit_code == 2
    assert "not an http(s) URL" in result.output


async def test_tail_prints_stored_and_live_events_and_stops_on_ctrl_c(
    live: LiveServer, http: httpx.AsyncClient, event_factory: EventFactory
) -> None:
    async def publish(**fields: object) -> None:
        response = await http.post(
            "/v1/events/events", json={"event": event_factory.build(**fields)}
        )
        assert response.status_code == 201

    await publish(type="user.signed_up", aggregateId="user-1", payload={"email": "a@example.com"})
    await publish(type="other.thing")
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-c", "from pliers.cli import main; main()"),
        *("events", "tail", "--url", live.base_url, "--from-position", "0"),
        *("--type", "user.signed_up"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # a run started in the background ignores SIGINT, and the child would inherit that
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert process.stdout is not None
    try:
        first = await asyncio.wait_for(process.stdout.readline(), 20)
        await publish(type="user.signed_up", aggregateId="user-2", payload={"n": 2})
        second = await asyncio.wait_for(process.stdout.readline(), 20)
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    assert "user.signed_up" in first.decode()
    assert "user-1" in first.decode()
    assert "a@example.com" in first.decode()
    assert "user-2" in second.decode()
    assert process.returncode == 0
    assert "Traceback" not in stderr.decode()
