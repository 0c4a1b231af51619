"""What the template database is built from, and the digest it is named after.

Every test database is a clone of one template, built once per digest: Pliers' migrations (unless
``pliers_schema = none``), then the project's SQL files (``pliers_migrations``), then the
project's ``pytest_pliers_template`` hook. A change to any of them names a new template.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pliers.testing.plugin import check_options


@dataclass(frozen=True)
class Recipe:
    """The ingredients of a template, in the order they are applied."""

    pliers_schema: bool = True
    sql_dirs: tuple[Path, ...] = ()
    #: files whose contents go into the digest only (what the hook reads)
    inputs: tuple[Path, ...] = ()
    hook: Callable[..., list[Any]] | None = None
    #: the hook implementations' source, so editing the hook rebuilds the template
    hook_sources: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: pytest.Config) -> Recipe:
        schema = check_options(config)
        sql_dirs = tuple(Path(p) for p in config.getini("pliers_migrations"))
        inputs = tuple(Path(p) for p in config.getini("pliers_template_inputs"))
        impls = config.pluginmanager.hook.pytest_pliers_template.get_hookimpls()
        return cls(
            pliers_schema=schema == "pliers",
            sql_dirs=sql_dirs,
            inputs=inputs,
            hook=config.hook.pytest_pliers_template if impls else None,
            hook_sources=tuple(_source(impl.function) for impl in impls),
        )

    def sql_files(self) -> list[Path]:
        """Each directory in the order given, its ``*.sql`` files in name order."""
        return [f for d in self.sql_dirs for f in sorted(d.glob("*.sql"), key=lambda p: p.name)]

    def digest(self) -> str:
        import hashlib

        h = hashlib.sha256()
        if self.pliers_schema:
            from pliers.storage import migrations

            h.update(b"pliers\0" + migrations.fingerprint("postgres").encode() + b"\0")
        else:
            h.update(b"none\0")
        for path in self.sql_files():
            h.update(b"sql\0" + path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        for path in _files(self.inputs):
            h.update(b"input\0" + path.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
        for source in self.hook_sources:
            h.update(b"hook\0" + source.encode() + b"\0")
        return h.hexdigest()

    async def build(self, connection: Any, url: str) -> None:
        """Apply everything to the empty template database behind ``connection``."""
        if self.pliers_schema:
            from pliers.storage.postgres.events import apply_migrations

            await apply_migrations(connection)
        for path in self.sql_files():
            await connection.execute(path.read_text())
        if self.hook is not None:
            import asyncio
            import inspect

            hook = self.hook
            # a worker thread: a synchronous implementation (Alembic) may run its own loop
            results = await asyncio.to_thread(lambda: hook(connection=connection, url=url))
            for result in results:
                if inspect.isawaitable(result):
                    await result


def _files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
        else:
            found.append(path)
    return found


def _source(function: Callable[..., Any]) -> str:
    import inspect

    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return f"{function.__module__}.{function.__qualname__}"
