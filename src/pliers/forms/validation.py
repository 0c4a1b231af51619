"""Checking submitted data against a form's :class:`~pliers.forms.definition.Schema`.

Every failure is collected, so a client learns about all of them at once. Each failure is
``{field, rule, message}``: ``rule`` is the failed rule type (``required``, ``minLength``, ...), the
field's type when the value is of the wrong kind (``email``, ``integer``, ``date``, ...), or
``unknown`` for a key that is not a field of the form.

``required`` means an answer was given: absent, ``null``, ``""`` and ``[]`` are no answer, while
``false`` and ``0`` are answers (a box that must be ticked is ``oneOf: [true]``). A field that is
not required and has no answer is skipped.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import regex  # type: ignore[import-untyped]  # ships no type information

from pliers.errors import ValidationError
from pliers.forms import values
from pliers.forms.definition import FieldSpec, Rule, Schema, bound_of

Problem = dict[str, str]

#: Longest a ``pattern`` rule may take on one value. Patterns come from form authors, values from
#: anyone; the ``regex`` engine can stop a match that backtracks catastrophically (``re`` cannot).
PATTERN_TIMEOUT = 0.05

_KIND = {
    "text": "text",
    "textarea": "text",
    "tel": "text",
    "email": "an e-mail address",
    "url": "an http or https URL",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "an RFC 3339 date-time with offset (e.g. 2026-11-25T16:00:00Z)",
    "time": "a time (HH:MM or HH:MM:SS)",
}


def problems_of(schema: Schema, data: dict[str, Any]) -> list[Problem]:
    """Every way ``data`` breaks ``schema``; empty when it is acceptable."""
    problems: list[Problem] = [
        {
            "field": values.printable(key),
            "rule": "unknown",
            "message": f"{key!r} is not a field of this form",
        }
        for key in data
        if key not in schema.fields
    ]
    for spec in schema.fields.values():
        problems.extend(_field_problems(spec, data.get(spec.name)))
    return problems


def check(schema: Schema, data: dict[str, Any]) -> None:
    """Raise :class:`ValidationError` listing every failure of ``data``."""
    problems = problems_of(schema, data)
    if problems:
        fields = ", ".join(dict.fromkeys(p["field"] for p in problems))
        raise ValidationError(f"Submission validation failed: {fields}", details=problems)


def is_empty(value: Any) -> bool:
    """Absent, ``null``, an empty string or an empty list: no answer was given."""
    return value is None or value == "" or value == []


def _field_problems(spec: FieldSpec, value: Any) -> list[Problem]:
    if is_empty(value):
        if spec.required:
            required = spec.required_message or f"{spec.name} is required"
            return [_problem(spec, "required", required)]
        return []
    kind_problem, comparable = _parse(spec, value)
    if kind_problem is not None:
        return [kind_problem]
    failures: list[Problem] = []
    for rule in spec.rules:
        message = _rule_failure(spec, rule, value, comparable)
        if message is not None:
            failures.append(_problem(spec, rule.type, rule.message or message))
    return failures


def _problem(spec: FieldSpec, rule: str, message: str) -> Problem:
    return {"field": spec.name, "rule": rule, "message": message}


def _parse(spec: FieldSpec, value: Any) -> tuple[Problem | None, Any]:
    """Check the value's kind; returns (problem, the value in comparable form)."""
    t = spec.type

    def wrong(expected: str) -> tuple[Problem, None]:
        return _problem(spec, t, f"{spec.name} must be {expected}"), None

    if spec.options is not None:
        listed = ", ".join(repr(o) for o in spec.options[:20])
        if spec.is_list:
            if not isinstance(value, list):
                return wrong(f"a list of options ({listed})")
            for item in value:
                if not _is_option(spec.options, item):
                    return wrong(f"a list of options ({listed}); {item!r} is not one of them")
            if len({(type(v), v) for v in value}) != len(value):
                return wrong("a list of options without repeats")
            return None, value
        if not _is_option(spec.options, value):
            return wrong(f"one of the options ({listed})")
        return None, value
    if spec.is_boolean:
        return (None, value) if isinstance(value, bool) else wrong("true or false")
    if t == "number":
        return (None, value) if values.is_number(value) else wrong(_KIND[t])
    if t == "integer":
        return (None, value) if values.is_integer(value) else wrong(_KIND[t])
    if not isinstance(value, str):
        return wrong(_KIND[t])
    reason = values.storable(value)
    if reason is not None:
        return _problem(spec, t, f"{spec.name}: {reason}"), None
    if t == "email":
        return (None, value) if values.is_email(value) else wrong(_KIND[t])
    if t == "url":
        return (None, value) if values.is_url(value) else wrong(_KIND[t])
    if t == "date":
        parsed: Any = values.parse_date(value)
    elif t == "datetime":
        parsed = values.parse_datetime(value)
    elif t == "time":
        parsed = values.parse_time(value)
    else:
        return None, value
    return (None, parsed) if parsed is not None else wrong(_KIND[t])


def _is_option(options: tuple[str | int, ...], value: Any) -> bool:
    """Option values match by type and value, so ``1`` is not ``"1"`` and ``True`` is not ``1``."""
    return any(type(o) is type(value) and o == value for o in options)


def _rule_failure(spec: FieldSpec, rule: Rule, value: Any, comparable: Any) -> str | None:
    """The default message of a failed rule, or None when the value passes."""
    name = spec.name
    if rule.type == "email":
        return None if values.is_email(value) else f"{name} must be an e-mail address"
    if rule.type == "url":
        return None if values.is_url(value) else f"{name} must be an http or https URL"
    if rule.type in ("minLength", "maxLength"):
        size = len(value)
        unit = "items" if isinstance(value, list) else "characters"
        if rule.type == "minLength" and size < rule.value:
            return f"{name} must be at least {rule.value} {unit} long"
        if rule.type == "maxLength" and size > rule.value:
            return f"{name} must be at most {rule.value} {unit} long"
        return None
    if rule.type in ("min", "max"):
        limit = bound_of(spec.type, rule)
        if rule.type == "min" and comparable < limit:
            return f"{name} must be at least {rule.value}"
        if rule.type == "max" and comparable > limit:
            return f"{name} must be at most {rule.value}"
        return None
    if rule.type == "pattern":
        try:
            found = _compiled(rule.value).search(value, timeout=PATTERN_TIMEOUT)
        except TimeoutError:
            return f"{name} could not be checked against its pattern in time"
        return None if found is not None else f"{name} does not match the pattern {rule.value}"
    if rule.type == "oneOf":
        items = value if isinstance(value, list) else [value]
        if all(_is_choice(rule.value, item) for item in items):
            return None
        listed = ", ".join(repr(v) for v in rule.value[:20])
        return f"{name} must be one of {listed}"
    return None  # pragma: no cover -- the definition admits no other rule types


def _is_choice(choices: list[Any], value: Any) -> bool:
    """Equal and of the same kind: ``True`` is not ``1``; ``1`` and ``1.0`` are the same number."""
    for choice in choices:
        if isinstance(choice, bool) or isinstance(value, bool):
            if choice is value:
                return True
        elif values.is_number(choice) and values.is_number(value):
            if choice == value:
                return True
        elif type(choice) is type(value) and choice == value:
            return True
    return False


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)
