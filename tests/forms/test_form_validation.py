"""Submitted data against form schemas: each field type and each rule, accepted and refused."""

from __future__ import annotations

from typing import Any

import pytest

from pliers.errors import ValidationError
from pliers.forms import check, parse_definition, problems_of
from pliers.forms.definition import Schema

OPTIONS = ["red", "green", {"value": "blue", "label": "Blue"}, 7]


def schema(*fields: dict[str, Any], validation: list[dict[str, Any]] | None = None) -> Schema:
    _, compiled = parse_definition(
        {"name": "t", "fields": list(fields), "validation": validation or []}
    )
    return compiled


def field_of(kind: str) -> dict[str, Any]:
    field: dict[str, Any] = {"name": "v", "type": kind}
    if kind in ("select", "multiselect", "radio"):
        field["options"] = OPTIONS
    return field


ACCEPTED = [
    ("text", "hello"),
    ("text", "  spaces and ünïcödé  "),
    ("textarea", "line one\nline two"),
    ("tel", "+44 20 7946 0958"),
    ("email", "john@example.com"),
    ("email", "first.last+tag@sub.example.co.uk"),
    ("email", "o'brien@example.ie"),
    ("email", "x@xn--80ak6aa92e.xn--p1ai"),
    ("url", "https://example.com"),
    ("url", "http://localhost:8080/path?q=1#frag"),
    ("url", "HTTPS://EXAMPLE.COM/"),
    ("url", "http://[::1]:8000/"),
    ("number", 3),
    ("number", -2.5),
    ("number", 0),
    ("integer", 42),
    ("integer", -7),
    ("integer", 10**20),
    ("boolean", True),
    ("boolean", False),
    ("date", "2026-11-25"),
    ("date", "2024-02-29"),
    ("datetime", "2026-11-25T16:00:00Z"),
    ("datetime", "2026-11-25T16:00:00.123456+01:00"),
    ("datetime", "2026-11-25t16:00:00.1-05:30"),
    ("time", "09:30"),
    ("time", "23:59:59"),
    ("time", "00:00"),
    ("select", "red"),
    ("select", "blue"),
    ("select", 7),
    ("radio", "green"),
    ("multiselect", ["red", "blue"]),
    ("multiselect", [7]),
    ("checkbox", True),
    ("checkbox", False),
]

REFUSED = [
    ("text", 5),
    ("text", ["a"]),
    ("textarea", {"a": 1}),
    ("tel", 4420),
    ("text", "nul\x00byte"),
    ("email", "invalid-email"),
    ("email", "john@example"),
    ("email", "john doe@example.com"),
    ("email", "john@@example.com"),
    ("email", ".john@example.com"),
    ("email", "john..doe@example.com"),
    ("email", "john@-example.com"),
    ("email", "john@example.c"),
    ("email", "a" * 65 + "@example.com"),
    ("email", 12),
    ("url", "example.com"),
    ("url", "ftp://example.com/file"),
    ("url", "javascript:alert(1)"),
    ("url", "http://"),
    ("url", "http://exa mple.com"),
    ("url", "https://example.com:99999/"),
    ("url", "http:///path-only"),
    ("number", "3"),
    ("number", True),
    ("number", [1]),
    ("integer", 3.0),
    ("integer", 3.5),
    ("integer", "3"),
    ("integer", False),
    ("boolean", "true"),
    ("boolean", 1),
    ("boolean", 0),
    ("date", "2026-02-30"),
    ("date", "25/11/2026"),
    ("date", "2026-11-25T10:00:00Z"),
    ("date", "\u0662\u0660\u0662\u0666-11-25"),  # Arabic-Indic digits
    ("date", 20261125),
    ("datetime", "2026-11-25T16:00:00"),
    ("datetime", "2026-11-25"),
    ("datetime", "2026-11-25T25:00:00Z"),
    ("datetime", "2026-11-25T16:00:00+24:00"),
    ("time", "9:30"),
    ("time", "24:00"),
    ("time", "12:60"),
    ("time", "12:30:00.5"),
    ("time", "12:30 PM"),
    ("select", "purple"),
    ("select", "7"),
    ("select", ["red"]),
    ("radio", True),
    ("multiselect", "red"),
    ("multiselect", ["red", "purple"]),
    ("multiselect", ["red", "red"]),
    ("checkbox", "yes"),
    ("checkbox", 1),
]


@pytest.mark.parametrize(("kind", "value"), ACCEPTED)
def test_field_type_accepts(kind: str, value: Any) -> None:
    assert problems_of(schema(field_of(kind)), {"v": value}) == []


@pytest.mark.parametrize(("kind", "value"), REFUSED)
def test_field_type_refuses(kind: str, value: Any) -> None:
    [problem] = problems_of(schema(field_of(kind)), {"v": value})
    assert problem["field"] == "v"
    assert problem["rule"] == kind
    assert problem["message"]


def test_checkbox_with_options_takes_a_list_of_them() -> None:
    """A checkbox group is a multiple choice; a lone checkbox is a yes/no answer."""
    group = schema({"name": "v", "type": "checkbox", "options": ["a", "b"]})
    assert problems_of(group, {"v": ["a", "b"]}) == []
    assert problems_of(group, {"v": True})[0]["rule"] == "checkbox"
    assert problems_of(group, {"v": ["c"]})[0]["rule"] == "checkbox"


@pytest.mark.parametrize("kind", ["text", "email", "number", "date", "select", "multiselect"])
@pytest.mark.parametrize("empty", [None, "", []])
def test_empty_optional_field_is_absent(kind: str, empty: Any) -> None:
    """An empty string, null or an empty list for a field that is not required is no answer."""
    assert problems_of(schema(field_of(kind)), {"v": empty}) == []
    assert problems_of(schema(field_of(kind)), {}) == []


@pytest.mark.parametrize("empty", [None, "", []])
def test_required_field_refuses_empty_and_missing(empty: Any) -> None:
    required = schema({"name": "v", "type": "text", "required": True})
    assert problems_of(required, {"v": empty}) == [
        {"field": "v", "rule": "required", "message": "v is required"}
    ]
    assert problems_of(required, {})[0]["rule"] == "required"


def test_false_and_zero_are_answers_to_required_fields() -> None:
    required = schema(
        {"name": "agree", "type": "boolean", "required": True},
        {"name": "count", "type": "integer", "required": True},
    )
    assert problems_of(required, {"agree": False, "count": 0}) == []


def test_unknown_keys_are_failures() -> None:
    problems = problems_of(schema(field_of("text")), {"v": "x", "extra": 1, "other": None})
    assert [(p["field"], p["rule"]) for p in problems] == [
        ("extra", "unknown"),
        ("other", "unknown"),
    ]


# Each rule: (rule as given in the validation list, field type, passing value, failing value).
RULES = [
    ({"type": "required"}, "text", "x", None),
    ({"type": "email"}, "text", "john@example.com", "invalid-email"),
    ({"type": "url"}, "text", "https://example.com/a", "not a url"),
    ({"type": "minLength", "value": 2}, "text", "ab", "a"),
    ({"type": "maxLength", "value": 3}, "text", "abc", "abcd"),
    ({"type": "minLength", "value": 2}, "multiselect", ["red", "green"], ["red"]),
    ({"type": "maxLength", "value": 1}, "multiselect", ["red"], ["red", "green"]),
    ({"type": "min", "value": 18}, "integer", 18, 17),
    ({"type": "max", "value": 1.5}, "number", 1.5, 1.51),
    ({"type": "min", "value": "2026-01-01"}, "date", "2026-01-01", "2025-12-31"),
    ({"type": "max", "value": "17:00"}, "time", "17:00", "17:00:01"),
    (
        {"type": "min", "value": "2026-01-01T00:00:00Z"},
        "datetime",
        "2026-01-01T01:00:00+01:00",
        "2026-01-01T00:59:59+01:00",
    ),
    ({"type": "pattern", "value": r"^[A-Z]{3}-\d+$"}, "text", "ABC-12", "abc-12"),
    ({"type": "oneOf", "value": ["a", "b"]}, "text", "b", "c"),
    ({"type": "oneOf", "value": [1, 2]}, "number", 2.0, 3),
    ({"type": "oneOf", "value": [True]}, "boolean", True, False),
    ({"type": "oneOf", "value": ["red"]}, "multiselect", ["red"], ["red", "green"]),
]


@pytest.mark.parametrize(("rule", "kind", "good", "bad"), RULES)
def test_rule_passes_and_fails(rule: dict[str, Any], kind: str, good: Any, bad: Any) -> None:
    compiled = schema(field_of(kind), validation=[{"field": "v", **rule}])
    assert problems_of(compiled, {"v": good}) == []
    [problem] = problems_of(compiled, {"v": bad})
    assert problem["field"] == "v"
    assert problem["rule"] == rule["type"]


@pytest.mark.parametrize(("rule", "kind", "good", "bad"), RULES)
def test_rule_inside_the_field_works_the_same(
    rule: dict[str, Any], kind: str, good: Any, bad: Any
) -> None:
    """``{"validation": {"minLength": 2}}`` on the field is the same rule as the list entry."""
    own = {**field_of(kind), "validation": {rule["type"]: rule.get("value", True)}}
    compiled = schema(own)
    assert problems_of(compiled, {"v": good}) == []
    [problem] = problems_of(compiled, {"v": bad})
    assert problem["rule"] == rule["type"]


def test_custom_message_replaces_the_default() -> None:
    compiled = schema(
        {"name": "name", "type": "text", "validation": {"minLength": 2, "message": "Too short!"}},
        {"name": "email", "type": "text"},
        validation=[
            {"field": "email", "type": "email", "message": "Give us a real address"},
            {"field": "email", "type": "required", "message": "We need your email"},
        ],
    )
    assert problems_of(compiled, {"name": "J", "email": "nope"}) == [
        {"field": "name", "rule": "minLength", "message": "Too short!"},
        {"field": "email", "rule": "email", "message": "Give us a real address"},
    ]
    assert problems_of(compiled, {"name": "Jo"}) == [
        {"field": "email", "rule": "required", "message": "We need your email"}
    ]


def test_every_failure_is_reported_at_once() -> None:
    compiled = schema(
        {"name": "name", "type": "text", "required": True},
        {"name": "email", "type": "text", "required": True},
        {"name": "age", "type": "integer", "validation": {"min": 18}},
        validation=[
            {"field": "email", "type": "email"},
            {"field": "name", "type": "minLength", "value": 2},
            {"field": "name", "type": "pattern", "value": "^[A-Z]"},
        ],
    )
    with pytest.raises(ValidationError) as caught:
        check(compiled, {"name": "j", "email": "invalid-email", "age": 12, "zip": "x"})
    error = caught.value
    assert "validation" in error.message
    assert {(d["field"], d["rule"]) for d in error.details} == {
        ("zip", "unknown"),
        ("name", "minLength"),
        ("name", "pattern"),
        ("email", "email"),
        ("age", "min"),
    }


def test_a_value_of_the_wrong_kind_skips_the_other_rules_of_its_field() -> None:
    compiled = schema({"name": "age", "type": "integer", "validation": {"min": 18, "max": 99}})
    assert problems_of(compiled, {"age": "old"}) == [
        {"field": "age", "rule": "integer", "message": "age must be a whole number"}
    ]


def test_pattern_searches_unless_anchored() -> None:
    compiled = schema({"name": "v", "type": "text", "validation": {"pattern": "[0-9]"}})
    assert problems_of(compiled, {"v": "abc1def"}) == []


def test_a_catastrophic_pattern_fails_instead_of_hanging() -> None:
    """A pattern that backtracks exponentially is stopped and the value refused."""
    compiled = schema({"name": "v", "type": "text", "validation": {"pattern": "^(a|aa)+$"}})
    assert problems_of(compiled, {"v": "aaaa"}) == []
    [problem] = problems_of(compiled, {"v": "a" * 80 + "!"})
    assert problem["rule"] == "pattern"
    assert "in time" in problem["message"]


def test_unicode_property_patterns_work() -> None:
    compiled = schema({"name": "v", "type": "text", "validation": {"pattern": r"^\p{Lu}"}})
    assert problems_of(compiled, {"v": "Émile"}) == []
    assert problems_of(compiled, {"v": "émile"})[0]["rule"] == "pattern"


def test_problems_come_in_order_of_keys_then_fields_then_rules() -> None:
    """Unknown keys as the data gives them, then each field in definition order, rule by rule."""
    compiled = schema(
        {"name": "name", "type": "text", "validation": {"minLength": 3, "pattern": "^[A-Z]"}},
        {"name": "size", "type": "select", "options": ["S", "M"]},
        {"name": "age", "type": "integer", "required": True},
        validation=[{"field": "name", "type": "oneOf", "value": ["Ann", "Bo"]}],
    )
    problems = problems_of(compiled, {"b": 1, "size": "XL", "name": "jo", "a": 2})
    assert [(p["field"], p["rule"]) for p in problems] == [
        ("b", "unknown"),
        ("a", "unknown"),
        ("name", "minLength"),
        ("name", "pattern"),
        ("name", "oneOf"),
        ("size", "select"),
        ("age", "required"),
    ]
    assert problems[5]["message"] == "size must be one of the options ('S', 'M')"


def test_an_email_rule_on_an_email_field_adds_nothing_to_the_field_check() -> None:
    compiled = schema(
        {"name": "v", "type": "email"},
        validation=[{"field": "v", "type": "email", "message": "Not an address"}],
    )
    assert problems_of(compiled, {"v": "john@example.com"}) == []
    assert problems_of(compiled, {"v": "nope"}) == [
        {"field": "v", "rule": "email", "message": "v must be an e-mail address"}
    ]
