"""The nesting of a JSON document, measured on its text."""

from __future__ import annotations

import json
import random
from itertools import accumulate
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


def _reference_depth(document: bytes) -> int:
    """The highest running count (opening +1, closing -1) of the brackets outside strings,
    found by splitting the text at each quote; 0 without brackets."""
    skeleton = document.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(skeleton.split(b'"')[::2])
    levels = list(accumulate(1 if b in b"[{" else -1 for b in outside if b in b"[]{}"))
    return max(levels, default=0)


def test_depth_and_the_check_agree_with_a_plain_count_on_any_text() -> None:
    """Well-formed or not: the same depth, and a refusal exactly when it passes the limit."""
    rng = random.Random(20261130)
    alphabet = b'[]{}"\\ab,:'
    documents = [bytes(rng.choice(alphabet) for _ in range(rng.randrange(60))) for _ in range(4000)]
    for value in ([[{"a": "]]"}]], {"x": [[[[]]], [[]]]}, [{"s": '\\"', "t": "{["}] * 5):
        documents.append(json.dumps(value).encode())
    documents += [b"[" * n + b"]" * n for n in range(8)] + [b"[{" * 4 + b"}]" * 3]
    for document in documents:
        expected = _reference_depth(document)
        assert depth(document) == expected, document
        for limit in range(6):
            if expected > limit:
                with pytest.raises(TooDeep):
                    check_depth(document, limit)
            else:
                check_depth(document, limit)
