"""``pliers events tail`` carries on through ``kill -TERM`` of the server."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from typing import Any

import pytest
from client_servers import ServerProcess, default_sigint

from pliers.client import AsyncPliers

pytestmark = pytest.mark.integration


async def test_tail_survives_a_server_restart_and_prints_json_lines(
    server_process: ServerProcess,
) -> None:
    """Events before and after the restart are each printed once, in order, as JSON."""
    tail = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "pliers", "events", "tail", "--json"),
        *("--url", server_process.base_url, "--from-position", "0", "--type", "door.opened"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=default_sigint,
    )
    assert tail.stdout is not None

    async def publish(first: int, last: int) -> None:
        async with AsyncPliers(server_process.base_url) as pliers:
            for i in range(first, last + 1):
                await pliers.events.publish(
                    {"type": "door.opened", "aggregateId": f"door-{i}", "payload": {"i": i}}
                )
                await pliers.events.publish({"type": "other.thing", "aggregateId": "x"})

    async def lines(count: int) -> list[dict[str, Any]]:
        assert tail.stdout is not None
        read = [await asyncio.wait_for(tail.stdout.readline(), 60) for _ in range(count)]
        return [json.loads(line) for line in read]

    try:
        await publish(1, 3)
        before = await lines(3)
        await server_process.restart()
        await publish(4, 6)
        after = await lines(3)
    finally:
        tail.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(tail.communicate(), 30)
    printed = [*before, *after]
    assert [e["payload"] for e in printed] == [{"i": i} for i in range(1, 7)]
    assert all(e["type"] == "door.opened" for e in printed)
    positions = [e["position"] for e in printed]
    assert positions == sorted(set(positions))
    assert tail.returncode == 0
    assert "reconnecting to resume after position" in stderr.decode()
    assert "Traceback" not in stderr.decode()
