"""A project's own schema in the template: SQL files, the hook, or no Pliers tables at all."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration

OWN_INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
asyncio_default_test_loop_scope = function
pliers_schema = none
pliers_migrations = sql
"""

OWN_TESTS = """
import os


async def test_my_tables_and_only_mine(pliers_db):
    tables = await pliers_db.connection.fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        " ORDER BY table_name"
    )
    assert [t["table_name"] for t in tables] == ["accounts", "invoices"]
    # applied in name order: the invoices file refers to accounts
    await pliers_db.connection.execute("INSERT INTO accounts (name) VALUES ('ada')")
    await pliers_db.connection.execute("INSERT INTO invoices (account_id) VALUES (1)")


async def test_a_fresh_copy_each_time(pliers_db, pliers_postgres):
    assert await pliers_db.connection.fetchval("SELECT count(*) FROM accounts") == 0
    if "TEMPLATE_OUT" in os.environ:
        with open(os.environ["TEMPLATE_OUT"], "a") as f:
            f.write(pliers_postgres.template + "\\n")
"""

HOOK_CONFTEST = """
CALLS = []


async def _seed(connection):
    await connection.execute("INSERT INTO accounts (name) VALUES ('seeded')")


def pytest_pliers_template(connection, url):
    assert url.rsplit("/", 1)[1].startswith("pliers_template_")
    return _seed(connection)
"""

HOOK_TESTS = """
async def test_the_hook_ran_after_the_sql(pliers_db):
    names = await pliers_db.connection.fetch("SELECT name FROM accounts")
    assert [n["name"] for n in names] == ["seeded"]
"""


def write_project(inner: pytest.Pytester) -> None:
    inner.makefile(".ini", pytest=OWN_INI)
    sql = inner.mkdir("sql")
    (sql / "002_invoices.sql").write_text(
        "CREATE TABLE invoices (id serial PRIMARY KEY,"
        " account_id int NOT NULL REFERENCES accounts (id));"
    )
    (sql / "001_accounts.sql").write_text(
        "CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL);"
    )


def test_a_project_with_only_its_own_sql(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pliers_schema = none and pliers_migrations: the project's tables, none of Pliers'."""
    write_project(inner)
    inner.makepyfile(test_own=OWN_TESTS)
    monkeypatch.setenv("TEMPLATE_OUT", str(inner.path / "out"))
    inner.runpytest_subprocess().assert_outcomes(passed=2)


def test_changing_a_sql_file_builds_another_template(
    inner: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The template is named after its ingredients: an edited file gets a new template."""
    write_project(inner)
    inner.makepyfile(test_own=OWN_TESTS)
    out = inner.path / "templates"
    monkeypatch.setenv("TEMPLATE_OUT", str(out))
    inner.runpytest_subprocess("-k", "fresh").assert_outcomes(passed=1)
    inner.runpytest_subprocess("-k", "fresh").assert_outcomes(passed=1)
    (inner.path / "sql" / "001_accounts.sql").write_text(
        "CREATE TABLE accounts (id serial PRIMARY KEY, name text NOT NULL, email text);"
    )
    inner.runpytest_subprocess().assert_outcomes(passed=2)
    first, again, edited = out.read_text().split()
    assert first == again != edited
    assert re.fullmatch(r"pliers_template_[0-9a-f]{16}", edited)


def test_the_hook_runs_after_the_sql_files(inner: pytest.Pytester) -> None:
    """pytest_pliers_template gets the template's connection once the SQL files are applied."""
    write_project(inner)
    inner.makeconftest(HOOK_CONFTEST)
    inner.makepyfile(test_hook=HOOK_TESTS)
    inner.runpytest_subprocess().assert_outcomes(passed=1)


def test_an_unknown_schema_is_a_usage_error(inner: pytest.Pytester) -> None:
    """A typo in pliers_schema stops the run with a message, not a test database without tables."""
    inner.makefile(".ini", pytest=OWN_INI.replace("pliers_schema = none", "pliers_schema = nope"))
    inner.mkdir("sql")
    inner.makepyfile(test_own="async def test_db(pliers_db):\n    pass\n")
    result = inner.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "pliers_schema = 'nope'" in result.stderr.str()
