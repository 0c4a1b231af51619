"""SQLite rows become records by their columns' names: SQLite keeps JSON and times as text."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pliers.storage.sql import fields

T = TypeVar("T")

#: the text of a JSON column: no spaces, text as it is (one encoder: ``json.dumps`` with options
#: builds one per call)
dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def decoder(
    record: Callable[..., T], columns: str, parsed: Mapping[str, Callable[[Any], Any]]
) -> Callable[[Any], T]:
    """What makes a ``record`` of a row of the SELECT list ``columns``, whose column names are
    its fields; a column named in ``parsed`` goes through its function first (unless NULL)."""
    names = fields(columns)

    def decode(row: Sequence[Any]) -> T:
        values = dict(zip(names, row, strict=True))
        for name, parse in parsed.items():
            if values[name] is not None:
                values[name] = parse(values[name])
        return record(**values)

    return decode
