"""Connections a server still holds for clients that never finish sending their requests.

2,000 clients each open a connection and stop half-way: ``head`` clients send half a request
head (no blank line), ``body`` clients send the head of a POST with ``Content-Length: 1000`` and
10 bytes of body. The script prints, for each kind, how many connections the server still held
half-way to the timeout and after it, and how it answered the ones it closed.

    .venv/bin/python benchmarks/bench_slow_clients.py [--clients 2000] [--kind head|body|both]
        [--head-timeout 10] [--body-timeout 15] [--per-client 100000]

The timeouts set ``PLIERS_HEADER_READ_TIMEOUT`` and ``PLIERS_BODY_READ_TIMEOUT`` of the served
Pliers (SQLite, one process). All clients come from 127.0.0.1, so ``--per-client`` sets
``PLIERS_MAX_CONNECTIONS_PER_CLIENT`` (default: high enough that the timeouts alone are measured;
with the cap, connections past it are answered 429 once their head is complete).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from urllib.parse import urlsplit

from _harness import pliers_server

HALF_HEAD = b"POST /v1/events/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: appl"
HALF_BODY = (
    b"POST /v1/events/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"event": '
)


async def slow_client(
    host: str, port: int, sent: bytes, closed_at: list[float], statuses: list[int]
) -> None:
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return
    try:
        writer.write(sent)
        await writer.drain()
        first = await reader.readline()
        if first:
            statuses.append(int(first.split()[1]))
        while await reader.read(65536):  # until the server closes the connection
            pass
        closed_at.append(time.monotonic())
    except OSError:
        closed_at.append(time.monotonic())
    finally:
        writer.close()


async def measure(base: str, kind: str, clients: int, seconds: float) -> None:
    parts = urlsplit(base)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sent = HALF_HEAD if kind == "head" else HALF_BODY
    closed_at: list[float] = []
    statuses: list[int] = []
    started = time.monotonic()
    tasks = [
        asyncio.create_task(slow_client(host, port, sent, closed_at, statuses))
        for _ in range(clients)
    ]
    await asyncio.sleep(seconds / 2)
    held_before = clients - len(closed_at)
    await asyncio.wait(tasks, timeout=seconds * 2 + 10)
    held_after = clients - len(closed_at)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    waits = sorted(t - started for t in closed_at)
    setting = "PLIERS_HEADER_READ_TIMEOUT" if kind == "head" else "PLIERS_BODY_READ_TIMEOUT"
    print(f"{clients} clients sending half a request {kind}, {setting}={seconds:g} s")
    print(f"  held at {seconds / 2:g} s: {held_before}")
    print(f"  held at {seconds * 2 + 10:g} s: {held_after}")
    if waits:
        answers = ", ".join(f"{s}: {statuses.count(s)}" for s in sorted(set(statuses)))
        print(
            f"  closed by the server: {len(waits)} (first {waits[0]:.1f} s, "
            f"last {waits[-1]:.1f} s); answers: {answers or 'none'}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--kind", choices=["head", "body", "both"], default="both")
    parser.add_argument("--head-timeout", type=float, default=10.0)
    parser.add_argument("--body-timeout", type=float, default=15.0)
    parser.add_argument("--per-client", type=int, default=100_000)
    args = parser.parse_args()
    kinds = ["head", "body"] if args.kind == "both" else [args.kind]
    with tempfile.TemporaryDirectory() as directory:
        env = {
            "PLIERS_HEADER_READ_TIMEOUT": str(args.head_timeout),
            "PLIERS_BODY_READ_TIMEOUT": str(args.body_timeout),
            "PLIERS_MAX_CONNECTIONS_PER_CLIENT": str(args.per_client),
        }
        async with pliers_server(f"sqlite:///{directory}/bench.db", **env) as base:
            for kind in kinds:
                seconds = args.head_timeout if kind == "head" else args.body_timeout
                await measure(base, kind, args.clients, seconds)


if __name__ == "__main__":
    asyncio.run(main())
