"""The nesting of a JSON document, measured on its text."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pliers.nesting import TooDeep, check_depth, depth


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 0),
        ("[[[", 0),
        ({}, 1),
        ([[], [[]]], 3),
        ({"a": "]]]]", "b": [[{"c": "{{{{"}]]}, 4),
        ({"a": '\\"]]]', "b": [["\\"]]}, 3),
        ({"a": "\\\\", "b": ['"[[[', "\\[\\{"]}, 2),
    ],
)
def test_brackets_inside_strings_do_not_count(value: Any, expected: int) -> None:
    assert depth(json.dumps(value).encode()) == expected


def test_deep_documents_are_refused_and_shallow_ones_pass() -> None:
    check_depth("[" * 64 + "]" * 64, 64)
    check_depth(json.dumps([{"a": [1]}] * 1000), 64)  # many brackets, little depth
    with pytest.raises(TooDeep, match="limit of 64 levels"):
        check_depth("[" * 65 + "]" * 65, 64)
    with pytest.raises(TooDeep):
        check_depth(b"[" * 100_000, 64)
