"""Posted text back to answers: each field's kind, and text that does not read as it."""

from __future__ import annotations

from typing import Any

import pytest

from pliers.forms.definition import parse_definition
from pliers.web.fields import answers_from_form, utc_datetime

from .forms import EVERY_TYPE, POSTED, STORED


def _posted(values: dict[str, Any]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in values.items()}


def test_every_kind_is_read() -> None:
    _, schema = parse_definition(EVERY_TYPE)
    assert answers_from_form(schema, _posted(POSTED)) == STORED


@pytest.mark.parametrize(
    ("field", "text", "expected"),
    [
        ("height", "1e3", 1000.0),
        ("height", "-2", -2),
        ("height", "nan", "nan"),
        ("height", "inf", "inf"),
        ("height", "1_000", "1_000"),
        ("height", "1e999", "1e999"),
        ("age", "1.0", "1.0"),
        ("age", "+7", 7),
        ("member", "maybe", "maybe"),
        ("size", "S", "S"),
        ("size", "3", 3),
        ("size", "4", "4"),
        ("meeting", "2026-11-25T16:00:30", "2026-11-25T16:00:30Z"),
        ("meeting", "tomorrow", "tomorrow"),
    ],
)
def test_text_that_does_not_read_as_the_kind_is_passed_on(
    field: str, text: str, expected: Any
) -> None:
    _, schema = parse_definition(EVERY_TYPE)
    assert answers_from_form(schema, {field: [text]})[field] == expected


def test_empty_controls_are_no_answer_and_an_unticked_box_is_false() -> None:
    _, schema = parse_definition(EVERY_TYPE)
    data = answers_from_form(schema, {"name": [""], "colours": [], "other": ["x"]})
    assert data == {"agree": False}


def test_utc_datetime() -> None:
    assert utc_datetime("2026-01-02T03:04") == "2026-01-02T03:04:00Z"
    assert utc_datetime("2026-01-02") == "2026-01-02"
