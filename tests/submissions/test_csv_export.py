"""Cells of the CSV export: formulas neutralised, values written plainly."""

from __future__ import annotations

from typing import Any

import pytest

from pliers.submissions.export import cell, neutralise


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+1", "-1", "@SUM(A1)", "\tcmd", "\rcmd", "\uff1dcmd", '=HYPERLINK("x")'],
)
def test_formula_starts_get_a_quote(text: str) -> None:
    assert neutralise(text) == "'" + text


@pytest.mark.parametrize("text", ["plain", "a=b", " =x", "1-2", "", "'already"])
def test_other_text_is_unchanged(text: str) -> None:
    assert neutralise(text) == text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        (True, "true"),
        (False, "false"),
        (-5, "-5"),
        (2.5, "2.5"),
        ("-5", "'-5"),
        (["a", "b"], "a; b"),
        (["=x", "b"], "'=x; b"),
        ([1, True], "1; true"),
        ({"k": "v"}, '{"k":"v"}'),
    ],
)
def test_cell(value: Any, expected: str) -> None:
    assert cell(value) == expected
