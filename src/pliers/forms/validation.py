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

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import regex  # type: ignore[import-untyped]  # ships no type information

from pliers.errors import ValidationError
from pliers.forms import values
from pliers.forms.definition import FieldSpec, Rule, Schema

Problem = dict[str, str]
#: An answer's kind checked: ``(None, the answer in comparable form)`` or ``(problem, None)``.
Parsed = tuple[Problem | None, Any]

#: Longest a ``pattern`` rule may take on one value. Patterns come from form authors, values from
#: anyone; the ``regex`` engine can stop a match that backtracks catastrophically (``re`` cannot).
PATTERN_TIMEOUT = 0.05

#: What an answer of each :attr:`FieldSpec.kind <pliers.forms.definition.FieldSpec.kind>` must
#: be, as messages say it; choice fields list their options instead.
_EXPECTED = {
    "text": "text",
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
    problems: list[Problem] = []
    if not data.keys() <= schema.fields.keys():  # some keys are not fields of the form
        problems = [
            {
                "field": values.printable(key),
                "rule": "unknown",
                "message": f"{key!r} is not a field of this form",
            }
            for key in data
            if key not in schema.fields
        ]
    for spec in schema.fields.values():
        value = data.get(spec.name)
        if not value and is_empty(value):  # most answers are truthy: one test is enough
            if spec.required:
                required = spec.required_message or f"{spec.name} is required"
                problems.append(_problem(spec, "required", required))
            continue
        kind_problem, comparable = _PARSERS[spec.kind](spec, value)
        if kind_problem is not None:
            problems.append(kind_problem)  # rules apply to answers of the right kind only
            continue
        for rule, bound in spec.checks:
            message = _rule_failure(spec, rule, bound, value, comparable)
            if message is not None:
                problems.append(_problem(spec, rule.type, rule.message or message))
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


def _problem(spec: FieldSpec, rule: str, message: str) -> Problem:
    return {"field": spec.name, "rule": rule, "message": message}


def _wrong(spec: FieldSpec, expected: str | None = None) -> Parsed:
    """The answer is not of the field's kind; the problem is named after the field's type."""
    expected = expected or _EXPECTED[spec.kind]
    return _problem(spec, spec.type, f"{spec.name} must be {expected}"), None


def _parse_option(spec: FieldSpec, value: Any) -> Parsed:
    if _is_option(spec, value):
        return None, value
    return _wrong(spec, f"one of the options ({_listed(spec)})")


def _parse_options(spec: FieldSpec, value: Any) -> Parsed:
    if not isinstance(value, list):
        return _wrong(spec, f"a list of options ({_listed(spec)})")
    for item in value:
        if not _is_option(spec, item):
            return _wrong(spec, f"a list of options ({_listed(spec)}); {item!r} is not one of them")
    if len({(type(v), v) for v in value}) != len(value):
        return _wrong(spec, "a list of options without repeats")
    return None, value


def _parse_boolean(spec: FieldSpec, value: Any) -> Parsed:
    return (None, value) if isinstance(value, bool) else _wrong(spec)


def _parse_number(spec: FieldSpec, value: Any) -> Parsed:
    return (None, value) if values.is_number(value) else _wrong(spec)


def _parse_integer(spec: FieldSpec, value: Any) -> Parsed:
    return (None, value) if values.is_integer(value) else _wrong(spec)


def _parse_text(spec: FieldSpec, value: Any) -> Parsed:
    """Text that both stores can hold."""
    if not isinstance(value, str):
        return _wrong(spec)
    reason = values.storable_text(value)
    if reason is not None:
        return _problem(spec, spec.type, f"{spec.name}: {reason}"), None
    return None, value


def _parse_formatted(spec: FieldSpec, value: Any) -> Parsed:
    """Text in the format of the field's kind: an e-mail address, a URL, a date or a time."""
    problem, text = _parse_text(spec, value)
    if problem is not None:
        return problem, None
    parsed = _FORMATS[spec.kind](text)
    return (None, parsed) if parsed is not None else _wrong(spec)


def _email(text: str) -> str | None:
    return text if values.is_email(text) else None


def _url(text: str) -> str | None:
    return text if values.is_url(text) else None


#: How an answer is checked, by the kind of its field.
_PARSERS: dict[str, Callable[[FieldSpec, Any], Parsed]] = {
    "option": _parse_option,
    "options": _parse_options,
    "boolean": _parse_boolean,
    "number": _parse_number,
    "integer": _parse_integer,
    "text": _parse_text,
    "email": _parse_formatted,
    "url": _parse_formatted,
    "date": _parse_formatted,
    "datetime": _parse_formatted,
    "time": _parse_formatted,
}
#: Each format's reader: the text in comparable form, or None when it is not in the format.
_FORMATS: dict[str, Callable[[str], Any]] = {
    "email": _email,
    "url": _url,
    "date": values.parse_date,
    "datetime": values.parse_datetime,
    "time": values.parse_time,
}


def _is_option(spec: FieldSpec, value: Any) -> bool:
    """Option values match by type and value, so ``1`` is not ``"1"`` and ``True`` is not ``1``."""
    kind = type(value)
    # Options are strings and integers; checking the type first also keeps lists out of the set.
    return (kind is str or kind is int) and (kind, value) in spec.option_keys


def _listed(spec: FieldSpec) -> str:
    return ", ".join(repr(o) for o in (spec.options or ())[:20])


def _rule_failure(
    spec: FieldSpec, rule: Rule, bound: Any, value: Any, comparable: Any
) -> str | None:
    """The default message of a failed rule, or None when the value passes.

    ``bound`` is the rule's parameter comparable with ``comparable``, for ``min`` and ``max``.
    """
    name = spec.name
    if rule.type == "minLength":
        if len(value) < rule.value:
            return f"{name} must be at least {rule.value} {_unit(value)} long"
        return None
    if rule.type == "maxLength":
        if len(value) > rule.value:
            return f"{name} must be at most {rule.value} {_unit(value)} long"
        return None
    if rule.type == "min":
        return f"{name} must be at least {rule.value}" if comparable < bound else None
    if rule.type == "max":
        return f"{name} must be at most {rule.value}" if comparable > bound else None
    if rule.type == "email":
        return None if values.is_email(value) else f"{name} must be an e-mail address"
    if rule.type == "url":
        return None if values.is_url(value) else f"{name} must be an http or https URL"
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


def _unit(value: Any) -> str:
    return "items" if isinstance(value, list) else "characters"


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
