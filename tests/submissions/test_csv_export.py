"""Cells of the CSV export: formulas neutralised, values written plainly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from pliers.forms.records import FormRecord
from pliers.submissions.export import cell, field_columns, header, neutralise


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


def _version(number: int, *names: str) -> FormRecord:
    at = datetime(2026, 11, 25, tzinfo=UTC)
    fields = [{"name": name, "type": "text"} for name in names]
    body = {"fields": fields, "validation": [], "notifications": []}
    return FormRecord("form-1", "Form", None, body, number, "active", at, at, event_sequence=number)


def test_columns_are_the_current_fields_then_retired_ones_newest_first() -> None:
    current = _version(3, "a")
    earlier = [_version(1, "a", "x", "shared"), _version(2, "y", "a", "shared")]
    assert field_columns(current, earlier) == ["a", "y", "shared", "x"]
    assert header(field_columns(current, earlier))[4:] == ["a", "y", "shared", "x"]


def test_a_retired_field_named_like_a_fixed_column_is_prefixed() -> None:
    assert header(field_columns(_version(2, "a"), [_version(1, "id")])) == [
        "id",
        "formVersion",
        "submittedBy",
        "createdAt",
        "a",
        "data.id",
    ]
