"""Shared pieces of the benchmark scripts: a throwaway database, a served Pliers, statistics."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

import asyncpg
import httpx

ADMIN_URL = os.environ.get(
    "PLIERS_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@asynccontextmanager
async def scratch_database(prefix: str = "pliers_bench") -> AsyncIterator[str]:
    """A new empty PostgreSQL database, dropped on exit; yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield with_database(ADMIN_URL, name)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerURL(str):
    """The base URL of a served Pliers, which also knows the server's process id and the
    headers of its requests (the key, when the server checks keys)."""

    pid: int
    headers: dict[str, str]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far (Linux /proc)."""
        with open(f"/proc/{self.pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@asynccontextmanager
async def pliers_server(
    database_url: str, *extra: str, key_scopes: Sequence[str] = (), **env: str
) -> AsyncIterator[ServerURL]:
    """``pliers serve`` in a subprocess; yields its base URL once /health answers.

    With ``key_scopes`` the server checks keys (an admin key is set) and ``headers`` of the URL
    carry a key with those scopes, made through ``POST /v1/keys``: the key check of every
    request is then in what is measured, as it is for a deployed server.
    """
    port = free_port()
    admin = secrets.token_hex(24)
    environment = {
        **os.environ,
        "PLIERS_DATABASE_URL": database_url,
        "PLIERS_LOG_LEVEL": "warning",
        **({"PLIERS_ADMIN_KEY": admin} if key_scopes else {}),
        **env,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pliers", "serve", "--port", str(port), *extra],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = ServerURL(f"http://127.0.0.1:{port}")
    base.pid = process.pid
    base.headers = {}
    try:
        async with httpx.AsyncClient() as client:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if (await client.get(f"{base}/health")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    _, err = process.communicate()
                    raise RuntimeError(f"server did not start: {err.decode()}")
                await asyncio.sleep(0.1)
            if key_scopes:
                made = await client.post(
                    f"{base}/v1/keys",
                    json={"name": "bench", "scopes": list(key_scopes)},
                    headers={"Authorization": f"Bearer {admin}"},
                )
                assert made.status_code == 201, made.text
                base.headers = {"Authorization": f"Bearer {made.json()['data']['key']}"}
        yield base
    finally:
        process.terminate()
        process.communicate(timeout=20)


async def timed(fn: Callable[[], Awaitable[object]]) -> float:
    started = time.perf_counter()
    await fn()
    return (time.perf_counter() - started) * 1000


async def run_concurrently(
    n: int, concurrency: int, op: Callable[[int], Awaitable[object]]
) -> tuple[list[float], float]:
    """Run ``op(i)`` for i < n on ``concurrency`` workers: (latencies in ms, wall seconds)."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await op(i)
            latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, time.perf_counter() - started


def percentiles(values: list[float]) -> dict[str, float]:
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50": statistics.median(values), "p95": q[94], "p99": q[98]}


def line(label: str, values: list[float]) -> str:
    p = percentiles(values)
    return f"{label:<44} p50 {p['p50']:7.2f} ms   p95 {p['p95']:7.2f} ms   p99 {p['p99']:7.2f} ms"


@dataclass(frozen=True)
class WrkResult:
    rate: float
    p50: float
    p99: float
    errors: int


_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
%s
local bodies = {%s}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[(n %% #bodies) + 1])
end
"""


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


def wrk_post(
    url: str,
    bodies: list[dict[str, object]],
    seconds: int = 5,
    connections: int = 50,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """POST ``bodies`` in turn to ``url`` with wrk (a C load generator, so the server is what
    saturates, not the client). ``apt-get install wrk``; see :func:`wrk_available`."""
    lua_bodies = ",".join("[==[" + json.dumps(b) + "]==]" for b in bodies)
    lua_headers = "\n".join(
        f'wrk.headers["{name}"] = [==[{value}]==]' for name, value in (headers or {}).items()
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(_WRK_SCRIPT % (lua_headers, lua_bodies))
    try:
        out = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script.name)

    def ms(label: str) -> float:
        value = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert value, out
        scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[value.group(2)]
        return float(value.group(1)) * scale

    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    assert rate, out
    return WrkResult(
        float(rate.group(1)), ms("50%"), ms("99%"), int(errors.group(1)) if errors else 0
    )


def tree_cpu_seconds(pid: int) -> float:
    """CPU time of ``pid`` and all its descendants (uvicorn's worker processes), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
        pending.extend(children.get(current, []))
    return total


@dataclass(frozen=True)
class Row:
    """One line of a benchmark's table: Pliers against the limit measured in the same run.

    ``ratio`` is Pliers over the limit; ``passed`` says whether the row's target is met.
    """

    workload: str
    pliers: str
    limit: str
    ratio: str
    target: str
    passed: bool | None


def print_table(title: str, rows: list[Row]) -> None:
    headers = ("workload", "Pliers", "limit (same run)", "ratio", "target", "")
    cells = [(r.workload, r.pliers, r.limit, r.ratio, r.target, _verdict(r.passed)) for r in rows]
    widths = [max(len(str(c[i])) for c in [headers, *cells]) for i in range(len(headers))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for c in cells:
        print("  ".join(str(v).ljust(w) for v, w in zip(c, widths, strict=True)).rstrip())


def _verdict(passed: bool | None) -> str:
    return "-" if passed is None else ("pass" if passed else "FAIL")
