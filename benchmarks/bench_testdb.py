"""A fresh database per test: what pliers.testing costs, next to pytest-postgresql, in one run.

Every figure comes from inner pytest sessions run one after the other on the same PostgreSQL
server, each in a fresh directory of its own:

  plugin overhead   a file with one plain test, with the plugin and with ``-p no:<plugin>``,
                    alternated ``--repeat`` times: the difference of the medians (wall and CPU)
  cold single test  the whole ``pytest`` run of one test using a database (template already
                    built), wall and CPU, minus the same run of one plain test
  per test          setup + teardown around each of ``--tests`` tests, p50 and p95, with a
                    20-table schema of the project's own in the template:
                      pliers_db             a clone of the template, with a connection
                      pliers_transaction    one connection, its transaction rolled back per test
                      pliers_app            the Pliers app on the test's database and Redis
                      pliers_server         the same app on a live socket (its own share is
                                            the difference of the two)
                      async, no fixture     pytest-asyncio's own share of an async test
                      pytest-postgresql     its ``postgresql`` fixture on the same server, the
                                            schema given to ``load=``
  end of run        from the end of the last test's call to the exit of the pytest process
  wait for a clone  the setup of ``pliers_db_url`` (the test waiting for its database), p50 and
                    p95, over ``--wait-tests`` tests with no work and with ``--work-ms`` each

Each test body works for ``--work-ms`` (default 30 ms). Afterwards it checks that no database of
these runs is left (they are dropped after a run ends, so it waits for that), and it times
cloning the Pliers template with each ``CREATE DATABASE`` strategy.

pytest-postgresql comes with the ``bench`` extra: ``pip install -e '.[test,bench]'``, then
``.venv/bin/python benchmarks/bench_testdb.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
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
pliers_schema = {schema}
pliers_migrations = sql
"""

#: 20 tables of a made-up project: each with an index and a foreign key to the one before.
USER_SCHEMA = "\n".join(
    f"CREATE TABLE t{i:02d} (id bigserial PRIMARY KEY, name text NOT NULL, "
    f"created timestamptz NOT NULL DEFAULT now(), data jsonb NOT NULL DEFAULT '{{}}'"
    + (f", parent bigint REFERENCES t{i - 1:02d} (id)" if i else "")
    + f");\nCREATE INDEX t{i:02d}_name ON t{i:02d} (name);"
    for i in range(20)
)

RECORDER = """
import json, os, time

def pytest_runtest_logreport(report):
    with open(os.environ["BENCH_REPORTS"], "a") as f:
        f.write(json.dumps([report.nodeid, report.when, report.duration, time.time()]) + "\\n")

def note(name):
    with open(os.environ["BENCH_NAMES"], "a") as f:
        f.write(name + "\\n")
"""

PLAIN_TEST = """
def test_plain():
    assert sum([1, 2]) == 3
"""

ONE_PLIERS_DB = """
async def test_database(pliers_db):
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM t19") == 0
"""

ONE_PYTEST_POSTGRESQL = """
import os, pathlib
from pytest_postgresql import factories

postgresql_noproc = factories.postgresql_noproc(
    host=os.environ["BENCH_HOST"], port=int(os.environ["BENCH_PORT"]),
    user=os.environ["BENCH_USER"], dbname=os.environ["BENCH_DBNAME"],
    load=[pathlib.Path(__file__).parent / "sql" / "schema.sql"],
)
postgresql = factories.postgresql("postgresql_noproc")


def test_database(postgresql):
    assert postgresql.execute("SELECT count(*) FROM t19").fetchone()[0] == 0
"""

PLIERS_DB_TESTS = """
import asyncio, os
import pytest
from recorder import note

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
async def test_database(n, pliers_db):
    note(pliers_db.name)
    await pliers_db.connection.execute("INSERT INTO t00 (name) VALUES ('x')")
    await asyncio.sleep(float(os.environ["BENCH_WORK"]))
"""

PLIERS_DB_URL_TESTS = """
import time, os
import pytest
from recorder import note

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
def test_database(n, pliers_db_url):
    note(pliers_db_url.rsplit("/", 1)[1])
    time.sleep(float(os.environ["BENCH_WORK"]))
"""

PLIERS_TRANSACTION_TESTS = """
import asyncio, os
import pytest
from recorder import note

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
async def test_database(n, pliers_transaction):
    if n == 0:
        note(await pliers_transaction.fetchval("SELECT current_database()"))
    await pliers_transaction.execute("INSERT INTO t00 (name) VALUES ('x')")
    await asyncio.sleep(float(os.environ["BENCH_WORK"]))
"""

PLIERS_SERVER_TESTS = """
import asyncio, os
import httpx
import pytest
from recorder import note

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
async def test_server(n, pliers_server, pliers_db_url):
    note(pliers_db_url.rsplit("/", 1)[1])
    async with httpx.AsyncClient(base_url=pliers_server.base_url) as client:
        assert (await client.get("/health")).status_code == 200
    await asyncio.sleep(float(os.environ["BENCH_WORK"]))
"""

PLIERS_APP_TESTS = """
import asyncio, os
import pytest
from recorder import note

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
async def test_app(n, pliers_app, pliers_db_url):
    note(pliers_db_url.rsplit("/", 1)[1])
    await asyncio.sleep(float(os.environ["BENCH_WORK"]))
"""

ASYNC_NOTHING_TESTS = """
import asyncio, os
import pytest

@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
async def test_nothing(n):
    await asyncio.sleep(float(os.environ["BENCH_WORK"]))
"""

PYTEST_POSTGRESQL_TESTS = """
import os, pathlib, time
import pytest
from pytest_postgresql import factories
from recorder import note

postgresql_noproc = factories.postgresql_noproc(
    host=os.environ["BENCH_HOST"], port=int(os.environ["BENCH_PORT"]),
    user=os.environ["BENCH_USER"], dbname=os.environ["BENCH_DBNAME"],
    load=[pathlib.Path(__file__).parent / "sql" / "schema.sql"],
)
postgresql = factories.postgresql("postgresql_noproc")


@pytest.mark.parametrize("n", range(int(os.environ["BENCH_TESTS"])))
def test_database(n, postgresql):
    note(postgresql.info.dbname)
    postgresql.execute("INSERT INTO t00 (name) VALUES ('x')")
    time.sleep(float(os.environ["BENCH_WORK"]))
"""


def pytest_postgresql_env(admin_url: str, tag: str) -> dict[str, str]:
    parts = urlsplit(admin_url)
    return {
        "BENCH_HOST": parts.hostname or "127.0.0.1",
        "BENCH_PORT": str(parts.port or 5432),
        "BENCH_USER": parts.username or "postgres",
        "BENCH_DBNAME": f"pliers_bench_pgpg_{os.getpid()}_{tag}",
    }


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_session(
    tests: str,
    args: argparse.Namespace,
    *,
    count: int | None = None,
    schema: str = "none",
    env: dict[str, str] | None = None,
    extra: tuple[str, ...] = (),
    work_ms: float | None = None,
) -> dict:
    """One inner pytest run; returns its per-test critical path, wall and CPU time, end of run."""
    with tempfile.TemporaryDirectory(prefix="pliers-bench-") as directory:
        path = Path(directory)
        (path / "pytest.ini").write_text(INI.format(schema=schema))
        (path / "sql").mkdir()
        (path / "sql" / "schema.sql").write_text(USER_SCHEMA)
        (path / "recorder.py").write_text(RECORDER)
        (path / "test_bench.py").write_text(textwrap.dedent(tests))
        environment = {
            **os.environ,
            "BENCH_REPORTS": str(path / "reports.jsonl"),
            "BENCH_NAMES": str(path / "names.txt"),
            "BENCH_TESTS": str(count or args.tests),
            "BENCH_WORK": str((args.work_ms if work_ms is None else work_ms) / 1000),
            "PYTHONPATH": os.pathsep.join(filter(None, [directory, os.environ.get("PYTHONPATH")])),
            **(env or {}),
        }
        command = [sys.executable, "-m", "pytest", "-q", "-p", "recorder"]
        command += ["-p", "no:cacheprovider", "-p", "no:randomly", *extra, "test_bench.py"]
        cpu = cpu_of_children()
        started = time.perf_counter()
        done = subprocess.run(
            command, cwd=directory, env=environment, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        ended = time.time()
        cpu = cpu_of_children() - cpu
        if done.returncode != 0:
            print(done.stdout[-3000:], done.stderr[-3000:])
            raise SystemExit(f"an inner session failed: {command}")
        per_test: dict[str, float] = {}
        setup: list[float] = []
        last_call = 0.0
        reports = path / "reports.jsonl"
        for line in reports.read_text().splitlines() if reports.exists() else []:
            nodeid, when, duration, at = json.loads(line)
            if when in ("setup", "teardown"):
                per_test[nodeid] = per_test.get(nodeid, 0.0) + duration * 1000
            if when == "setup":
                setup.append(duration * 1000)
            if when == "call":
                last_call = max(last_call, at)
        noted = path / "names.txt"
        names = sorted(set(noted.read_text().split())) if noted.exists() else []
    return {
        "ms": list(per_test.values()),
        "setup_ms": setup,
        "wall": wall,
        "cpu": cpu,
        "end": ended - last_call if last_call else None,
        "databases": names,
    }


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def overhead(args: argparse.Namespace, plugin: str) -> str:
    """Wall and CPU time a plain run spends on ``plugin`` being installed, used or not."""
    walls: dict[bool, list[float]] = {True: [], False: []}
    cpus: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeat):
        for loaded in (True, False):
            extra = () if loaded else ("-p", f"no:{plugin}")
            result = run_session(PLAIN_TEST, args, extra=extra)
            walls[loaded].append(result["wall"])
            cpus[loaded].append(result["cpu"])
    wall = median_ms(walls[True]) - median_ms(walls[False])
    cpu = median_ms(cpus[True]) - median_ms(cpus[False])
    plain = median_ms(walls[False])
    return f"{wall:+6.0f} ms wall, {cpu:+5.0f} ms CPU  (plain run p50 {plain:.0f} ms)"


def cold(args: argparse.Namespace, tests: str, env: dict[str, str], schema: str) -> str:
    """The whole run of one database test and of one plain test, alternated: wall and CPU."""
    runs, plain = [], []
    for _ in range(args.repeat):
        runs.append(run_session(tests, args, schema=schema, env=env))
        plain.append(run_session(PLAIN_TEST, args))
    wall = median_ms([r["wall"] for r in runs])
    cpu = median_ms([r["cpu"] for r in runs])
    extra_wall = wall - median_ms([r["wall"] for r in plain])
    extra_cpu = cpu - median_ms([r["cpu"] for r in plain])
    return (
        f"{wall:6.0f} ms wall, {cpu:5.0f} ms CPU  "
        f"({extra_wall:+.0f} ms wall, {extra_cpu:+.0f} ms CPU over one plain test)"
    )


def waits(name: str, result: dict) -> str:
    ms = sorted(result["setup_ms"])
    q = statistics.quantiles(ms, n=100)
    return f"{name:<28} tests={len(ms):<4} p50={statistics.median(ms):7.2f} ms  p95={q[94]:7.2f} ms"


def per_test(name: str, result: dict) -> str:
    ms = sorted(result["ms"])
    q = statistics.quantiles(ms, n=100)
    end = f"{result['end'] * 1000:6.0f} ms" if result["end"] is not None else "   n/a"
    return (
        f"{name:<20} tests={len(ms):<4} p50={statistics.median(ms):7.2f} ms  "
        f"p95={q[94]:7.2f} ms  session={result['wall']:5.1f} s  end of run={end}"
    )


async def leftovers(admin_url: str, results: list[dict], wait: float = 60) -> list[str]:
    """Databases of these runs still in pg_database once the droppers had ``wait`` seconds."""
    prefixes, used = set(), set()
    for result in results:
        for name in result["databases"]:
            used.add(name)
            if name.startswith("pliers_test_"):
                prefixes.add("_".join(name.split("_")[:3]) + "_")
    conn = await asyncpg.connect(admin_url)
    try:
        deadline = time.monotonic() + wait
        while True:
            existing = {r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database")}
            left = sorted(
                n for n in existing if n in used or any(n.startswith(p) for p in prefixes)
            )
            if not left or time.monotonic() > deadline:
                return left
            await asyncio.sleep(0.2)
    finally:
        await conn.close()


async def drop_pytest_postgresql_templates(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        pattern = f"pliers\\_bench\\_pgpg\\_{os.getpid()}\\_%"
        for row in await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE $1", pattern
        ):
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


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
    parser.add_argument("--server-tests", type=int, default=50)
    parser.add_argument("--work-ms", type=float, default=30.0)
    parser.add_argument("--wait-tests", type=int, default=60)
    parser.add_argument("--repeat", type=int, default=7, help="runs per overhead/cold figure")
    args = parser.parse_args()

    admin_url = services.postgres_admin_url()
    pgpg = pytest_postgresql_env(admin_url, "cold")
    print(
        f"server: {admin_url}; {args.tests} tests per session ({args.server_tests} for "
        f"pliers_server), {args.work_ms:g} ms of work each; {args.repeat} runs per overhead figure"
    )
    print("plugin overhead on a one-test run that uses no database:")
    print(f"  pliers.testing       {overhead(args, 'pliers')}")
    print(f"  pytest-postgresql    {overhead(args, 'pytest_postgresql')}")

    run_session(ONE_PLIERS_DB, args, env={}, schema="none")  # builds the template once
    print("single-test cold run (one test using a database, 20-table schema, whole pytest run):")
    print(f"  pliers_db            {cold(args, ONE_PLIERS_DB, {}, 'none')}")
    print(f"  pytest-postgresql    {cold(args, ONE_PYTEST_POSTGRESQL, pgpg, 'none')}")

    def settled(result: dict) -> dict:
        """The session's result, once its databases are dropped: a session measured while the
        last one's drops checkpoint would pay for them."""
        asyncio.run(leftovers(admin_url, [result]))
        return result

    results = {
        "async, no fixture": settled(run_session(ASYNC_NOTHING_TESTS, args)),
        "pliers_db": settled(run_session(PLIERS_DB_TESTS, args)),
        "pliers_transaction": settled(run_session(PLIERS_TRANSACTION_TESTS, args)),
        "pliers_app": settled(
            run_session(PLIERS_APP_TESTS, args, count=args.server_tests, schema="pliers")
        ),
        "pliers_server": settled(
            run_session(PLIERS_SERVER_TESTS, args, count=args.server_tests, schema="pliers")
        ),
        "pytest-postgresql": settled(
            run_session(
                PYTEST_POSTGRESQL_TESTS, args, env=pytest_postgresql_env(admin_url, "tests")
            )
        ),
    }
    print("per test, setup + teardown (the fixture's share of the critical path):")
    for name, result in results.items():
        print("  " + per_test(name, result))
    p50 = {name: statistics.median(result["ms"]) for name, result in results.items()}
    print(
        f"  the live server's own share: pliers_server - pliers_app = "
        f"{p50['pliers_server'] - p50['pliers_app']:.1f} ms p50"
    )
    print(
        f"  the rollback fixture's own share: pliers_transaction - async, no fixture = "
        f"{p50['pliers_transaction'] - p50['async, no fixture']:.1f} ms p50"
    )
    base = statistics.median(results["pytest-postgresql"]["ms"])
    print(
        f"  pliers_db p50 is {base / statistics.median(results['pliers_db']['ms']):.0f}x "
        "faster than pytest-postgresql's"
    )

    print(f"wait for a clone (setup of pliers_db_url), {args.wait_tests} tests:")
    for work in (0.0, args.work_ms):
        result = settled(
            run_session(PLIERS_DB_URL_TESTS, args, count=args.wait_tests, work_ms=work)
        )
        print("  " + waits(f"{work:g} ms of work per test", result))
        results[f"pliers_db_url, {work:g} ms"] = result

    asyncio.run(drop_pytest_postgresql_templates(admin_url))
    left = asyncio.run(leftovers(admin_url, list(results.values())))
    print(f"databases left behind a minute later: {len(left)}" + (f" {left}" if left else ""))
    print("cloning the migrated Pliers template:")
    for line in asyncio.run(clone_strategies(admin_url)):
        print("  " + line)
    if left:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
