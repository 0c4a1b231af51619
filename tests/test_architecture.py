"""Imports point one way: domain code loads no web framework, driver or cache client."""

from __future__ import annotations

import json
import subprocess
import sys

import grimp
import pytest

DOMAIN_MODULES = ["pliers.errors", "pliers.events.model", "pliers.events.sequencing"]
INFRASTRUCTURE = {"fastapi", "starlette", "uvicorn", "asyncpg", "aiosqlite", "redis", "httpx"}
SERVER = INFRASTRUCTURE - {"httpx"}


def loaded_packages(module: str) -> set[str]:
    """The top-level packages a fresh interpreter holds after importing `module`."""
    probe = (
        f"import json, sys; import {module}; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    return set(json.loads(subprocess.check_output([sys.executable, "-c", probe], text=True)))


@pytest.mark.parametrize("module", DOMAIN_MODULES)
def test_domain_module_imports_no_infrastructure(module: str) -> None:
    assert loaded_packages(module) & INFRASTRUCTURE == set()


@pytest.mark.parametrize("module", ["pliers.client", "pliers.cli.tail"])
def test_the_client_loads_no_server(module: str) -> None:
    """A program that only talks to Pliers (the client, `pliers events tail`) starts without the
    web framework, the database drivers or Redis."""
    assert loaded_packages(module) & SERVER == set()


def test_no_import_cycles_anywhere_in_the_package() -> None:
    """No module reaches itself through its imports, type-only and function-level ones included."""
    graph = grimp.build_graph("pliers", cache_dir=None)
    knots = set()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            back = graph.find_shortest_chain(importer=imported, imported=module)
            if back is not None:
                knots.add(" -> ".join((module, *back)))
    assert sorted(knots) == []
