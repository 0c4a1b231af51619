"""Connections a server still holds for clients that never finish sending their bodies.

2,000 clients each open a connection, send the headers of a POST with ``Content-Length: 1000``
and 10 bytes of body, and stop. The script prints how many connections the server answered and
closed (408) and how many it still held, at the body read timeout and after it.

    .venv/bin/python benchmarks/bench_slow_clients.py [--clients 2000] [--timeout 15]

``--timeout`` sets ``PLIERS_BODY_READ_TIMEOUT`` for the served Pliers (SQLite, one process).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from urllib.parse import urlsplit

from _harness import pliers_server

HEAD = (
    "POST /v1/events/events HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    "Content-Length: 1000\r\n\r\n"
)


async def slow_client(host: str, port: int, closed_at: list[float], statuses: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(HEAD.encode() + b'{"event": ')
    await writer.drain()
    try:
        first = await reader.readline()
        if first:
            statuses.append(int(first.split()[1]))
        while await reader.read(65536):  # until the server closes the connection
            pass
        closed_at.append(time.monotonic())
    finally:
        writer.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--timeout", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/bench.db"
        env = {"PLIERS_BODY_READ_TIMEOUT": str(args.timeout)}
        async with pliers_server(url, **env) as base:
            parts = urlsplit(base)
            host, port = parts.hostname or "127.0.0.1", parts.port or 80
            closed_at: list[float] = []
            statuses: list[int] = []
            started = time.monotonic()
            tasks = [
                asyncio.create_task(slow_client(host, port, closed_at, statuses))
                for _ in range(args.clients)
            ]
            await asyncio.sleep(args.timeout / 2)
            held_before = args.clients - len(closed_at)
            await asyncio.wait(tasks, timeout=args.timeout * 2 + 10)
            held_after = args.clients - len(closed_at)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    waits = sorted(t - started for t in closed_at)
    print(f"{args.clients} slow clients, PLIERS_BODY_READ_TIMEOUT={args.timeout:g} s")
    print(f"  held at {args.timeout / 2:g} s: {held_before}")
    print(f"  held at {args.timeout * 2 + 10:g} s: {held_after}")
    if waits:
        print(
            f"  closed by the server: {len(waits)} (first {waits[0]:.1f} s, "
            f"last {waits[-1]:.1f} s); answers: "
            + ", ".join(f"{s}: {statuses.count(s)}" for s in sorted(set(statuses)))
        )


if __name__ == "__main__":
    asyncio.run(main())
