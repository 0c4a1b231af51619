"""Every error code is written once, as the ``code`` of its class in ``pliers.errors``."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from pliers import errors

PACKAGE = Path(errors.__file__).parent


def _classes(root: type[errors.PliersError]) -> Iterator[type[errors.PliersError]]:
    yield root
    for sub in root.__subclasses__():
        yield from _classes(sub)


CLASSES = list(_classes(errors.PliersError))
CODES = {cls.code for cls in CLASSES}


def _sources() -> Iterator[tuple[str, ast.AST]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        if path != Path(errors.__file__):
            yield str(path.relative_to(PACKAGE)), ast.parse(path.read_text(), str(path))


def test_each_code_belongs_to_one_class() -> None:
    assert len(CODES) == len(CLASSES), sorted(cls.code for cls in CLASSES)


def test_no_code_is_spelled_out_outside_the_errors_module() -> None:
    spelled = [
        f"{name}:{node.lineno} {node.value!r}"
        for name, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in CODES
    ]
    assert spelled == []


def test_every_error_class_is_in_the_errors_module() -> None:
    """A class that sets its own ``code`` elsewhere would escape the check above."""
    elsewhere = [
        f"{name}:{node.lineno} {node.name}"
        for name, tree in _sources()
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        for statement in node.body
        if isinstance(statement, ast.Assign)
        and isinstance(statement.value, ast.Constant)
        and isinstance(statement.value.value, str)
        and any(
            isinstance(target, ast.Name) and target.id == "code" for target in statement.targets
        )
    ]
    assert elsewhere == []
