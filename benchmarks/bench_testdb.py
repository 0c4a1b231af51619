"""A fresh migrated database per test: what it costs on the test's critical path.

Runs inner pytest sessions of ``--tests`` tests each (default 200), one after the other, on the
same PostgreSQL server, and prints, per test, the database's share of the critical path: the
setup + teardown time pytest measures around the test body.

  pliers_db_url      pliers.testing: a ready clone of the migrated template, handed back after
  pliers_db          the same, plus the asyncpg connection the fixture opens (async test)
  async, no database an async test without fixtures: pytest-asyncio's own share of pliers_db
  pytest-postgresql  its postgresql_noproc + postgresql fixtures: the template loaded once with
                     the same migrations, then per test CREATE DATABASE ... TEMPLATE, connect,
                     and DROP DATABASE at teardown

Each test body works for ``--work-ms`` (default 30 ms: the median setup + call of the suite's
PostgreSQL tests). Afterwards it checks that no database of these runs is left (pg_database), and
it times cloning the template with each ``CREATE DATABASE`` strategy.

pytest-postgresql is not a dependency of Pliers; install it beside the venv, not into it:

    .venv/bin/pip install --no-deps --target /tmp/pliers-bench-deps \
        pytest-postgresql psycopg psycopg-binary mirakuru port-for psutil
    .venv/bin/python benchmarks/bench_testdb.py --deps /tmp/pliers-bench-deps
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from pliers.testing import services
from pliers.testing.postgres import ensure_template

INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
"""

RECORDER = """
import json, os

def pytest_runtest_logreport(report):
    with open(os.environ["BENCH_REPORTS"], "a") as f:
        f.write(json.dumps([report.nodeid, report.when, report.duration, report.outcome]) + "\\n")

def note(name):
    with open(os.environ["BENCH_NAMES"], "a") as f:
        f.write(name + "\\n")
"""

PLIERS_URL_TESTS = """
import os, time
import pytest
from recorder import note

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
def test_database(n, pliers_db_url):
    note(pliers_db_url.rsplit("/", 1)[1])
    time.sleep(float(os.environ["BENCH_WORK"]))
"""

PLIERS_DB_TESTS = """
import asyncio, os
import pytest
from recorder import note

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
async def test_database(n, pliers_db):
    note(pliers_db.name)
    await asyncio.sleep(float(os.environ["BENCH_WORK"]))
"""

NO_DATABASE_TESTS = """
import asyncio, os
import pytest

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
async def test_database(n):
    await asyncio.sleep(float(os.environ["BENCH_WORK"]))
"""

PYTEST_POSTGRESQL_TESTS = """
import os, time
import psycopg
import pytest
from pytest_postgresql import factories
from recorder import note

from pliers.storage import migrations


def load_migrations(host, port, user, dbname, password, **_):
    with psycopg.connect(host=host, port=port, user=user, dbname=dbname, password=password) as c:
        c.execute("CREATE TABLE pliers_migrations (name text PRIMARY KEY, checksum text NOT NULL,"
                  " applied_at timestamptz NOT NULL DEFAULT now())")
        for m in migrations.load("postgres"):
            c.execute(m.sql)
            c.execute("INSERT INTO pliers_migrations (name, checksum) VALUES (%s, %s)",
                      (m.name, m.checksum))


postgresql_noproc = factories.postgresql_noproc(
    host=os.environ["BENCH_HOST"], port=int(os.environ["BENCH_PORT"]),
    user=os.environ["BENCH_USER"], dbname=os.environ["BENCH_DBNAME"], load=[load_migrations],
)
postgresql = factories.postgresql("postgresql_noproc")


@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
def test_database(n, postgresql):
    note(postgresql.info.dbname)
    time.sleep(float(os.environ["BENCH_WORK"]))
"""


def run_session(name: str, tests: str, args: argparse.Namespace, extra_env: dict[str, str]) -> dict:
    with tempfile.TemporaryDirectory(prefix="pliers-bench-") as directory:
        path = Path(directory)
        (path / "pytest.ini").write_text(INI)
        (path / "recorder.py").write_text(RECORDER)
        (path / "test_bench.py").write_text(textwrap.dedent(tests))
        env = {
            **os.environ,
            "BENCH_REPORTS": str(path / "reports.jsonl"),
            "BENCH_NAMES": str(path / "names.txt"),
            "BENCH_TESTS": str(args.tests),
            "BENCH_WORK": str(args.work_ms / 1000),
            **extra_env,
        }
        env["PYTHONPATH"] = os.pathsep.join(
            [directory, *filter(None, [extra_env.get("PYTHONPATH_EXTRA")])]
        )
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "recorder",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:cov",
                "test_bench.py",
            ],
            cwd=directory,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:])
            raise SystemExit(f"{name}: the inner session failed")
        per_test: dict[str, float] = {}
        for line in (path / "reports.jsonl").read_text().splitlines():
            nodeid, when, duration, _ = json.loads(line)
            if when in ("setup", "teardown"):
                per_test[nodeid] = per_test.get(nodeid, 0.0) + duration * 1000
        noted = path / "names.txt"
        names = sorted(set(noted.read_text().split())) if noted.exists() else []
    return {"name": name, "ms": list(per_test.values()), "wall": wall, "databases": names}


def summary(result: dict) -> str:
    ms = sorted(result["ms"])
    q = statistics.quantiles(ms, n=100)
    return (
        f"{result['name']:<19} tests={len(ms):<4} p50={statistics.median(ms):7.1f} ms  "
        f"p95={q[94]:7.1f} ms  max={ms[-1]:7.1f} ms  mean={statistics.fmean(ms):6.1f} ms  "
        f"session={result['wall']:5.1f} s"
    )


async def leftovers(admin_url: str, results: list[dict]) -> list[str]:
    """Databases of these runs still in pg_database: the ones tests used, and any clone of
    the plugin's runs (their names share a run id) or pytest-postgresql template."""
    conn = await asyncpg.connect(admin_url)
    try:
        existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
    finally:
        await conn.close()
    prefixes = set()
    used = set()
    for result in results:
        for name in result["databases"]:
            used.add(name)
            if name.startswith("pliers_test_"):
                prefixes.add("_".join(name.split("_")[:3]) + "_")
            else:
                used.add(name + "_tmpl")
    return sorted(n for n in existing if n in used or any(n.startswith(p) for p in prefixes))


async def clone_strategies(admin_url: str, count: int = 24, connections: int = 2) -> list[str]:
    """Clones per second of the migrated template, ``connections`` at a time, by strategy."""
    template = await ensure_template(admin_url)
    lines = []
    conns = [await asyncpg.connect(admin_url) for _ in range(connections)]
    try:
        for strategy in ("WAL_LOG", "FILE_COPY"):
            names = [f"pliers_bench_{os.getpid()}_{strategy.lower()}_{i}" for i in range(count)]
            latencies: list[float] = []

            async def create(
                k: int, names: list[str] = names, strategy: str = strategy, latencies=latencies
            ) -> None:
                for name in names[k::connections]:
                    t = time.perf_counter()
                    await conns[k].execute(
                        f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY {strategy}'
                    )
                    latencies.append((time.perf_counter() - t) * 1000)

            async def drop(k: int, names: list[str] = names) -> None:
                for name in names[k::connections]:
                    await conns[k].execute(f'DROP DATABASE IF EXISTS "{name}"')

            started = time.perf_counter()
            await asyncio.gather(*(create(k) for k in range(connections)))
            created = time.perf_counter() - started
            started = time.perf_counter()
            await asyncio.gather(*(drop(k) for k in range(connections)))
            dropped = time.perf_counter() - started
            lines.append(
                f"{strategy:<9} {count / created:5.1f} clones/s on {connections} connections "
                f"(each p50 {statistics.median(latencies):6.1f} ms), then "
                f"{count / dropped:5.1f} drops/s"
            )
    finally:
        for conn in conns:
            await conn.close()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", type=int, default=200)
    parser.add_argument("--work-ms", type=float, default=30.0)
    parser.add_argument("--deps", help="directory holding pytest-postgresql (pip --target)")
    args = parser.parse_args()

    admin_url = services.postgres_admin_url()
    print(f"server: {admin_url}; {args.tests} tests per session, {args.work_ms:g} ms of work each")
    results = [
        run_session("pliers_db_url", PLIERS_URL_TESTS, args, {}),
        run_session("pliers_db", PLIERS_DB_TESTS, args, {}),
        run_session("async, no database", NO_DATABASE_TESTS, args, {}),
    ]
    if args.deps:
        parts = urlsplit(admin_url)
        results.append(
            run_session(
                "pytest-postgresql",
                PYTEST_POSTGRESQL_TESTS,
                args,
                {
                    "PYTHONPATH_EXTRA": args.deps,
                    "BENCH_HOST": parts.hostname or "127.0.0.1",
                    "BENCH_PORT": str(parts.port or 5432),
                    "BENCH_USER": parts.username or "postgres",
                    "BENCH_DBNAME": f"pliers_bench_pgpg_{os.getpid()}",
                },
            )
        )
    else:
        print("pytest-postgresql: skipped (no --deps directory given)")
    print("critical path per test (setup + teardown):")
    for result in results:
        print("  " + summary(result))
    if len(results) == 4:
        base = statistics.median(results[3]["ms"])
        for result in results[:2]:
            print(f"  {result['name']}: {base / statistics.median(result['ms']):.0f}x faster p50")
    left = asyncio.run(leftovers(admin_url, results))
    print(f"databases left behind: {len(left)}" + (f" {left}" if left else ""))
    print("cloning the migrated template:")
    for line in asyncio.run(clone_strategies(admin_url)):
        print("  " + line)
    if left:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
