"""Form definitions: what is accepted, and how each kind of broken definition is named."""

from __future__ import annotations

from typing import Any

import pytest

from pliers.errors import ValidationError
from pliers.forms import parse_definition
from pliers.forms.definition import FIELD_TYPES
from pliers.testing.factories import FormBuilder


def refused(body: Any) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        parse_definition(body)
    error = caught.value
    assert error.code == "VALIDATION_ERROR"
    assert "validation" in error.message
    return error


def test_seed_registration_form_is_accepted() -> None:
    body = (
        FormBuilder.create()
        .with_name("Registration Form")
        .with_text_field("name", True)
        .with_text_field("email", True)
        .with_validation(
            [
                {"field": "email", "type": "email"},
                {"field": "name", "type": "minLength", "value": 2},
            ]
        )
        .build()
    )
    definition, schema = parse_definition(body)
    assert definition.name == "Registration Form"
    assert list(schema.fields) == ["name", "email"]
    assert schema.fields["email"].required is True
    assert [r.type for r in schema.fields["email"].rules] == ["email"]


def test_every_field_type_is_accepted() -> None:
    builder = FormBuilder().with_name("All types")
    for kind in FIELD_TYPES:
        options: dict[str, Any] = {"options": ["a", {"value": "b", "label": "B"}]}
        extra = options if kind in ("select", "multiselect", "radio") else {}
        builder.with_field(f"f_{kind}", kind, **extra)
    builder.with_field("boxes", "checkbox", options=["x", "y"])
    _, schema = parse_definition(builder.build())
    assert len(schema.fields) == len(FIELD_TYPES) + 1


def test_definition_body_keeps_what_was_given() -> None:
    body = (
        FormBuilder()
        .with_field(
            "size", "select", options=["S", {"value": "M", "label": "Medium"}], label="Size"
        )
        .with_notification(to=["ops@example.com"], subject="New", html=True)
        .build()
    )
    definition, _ = parse_definition(body)
    assert definition.body() == {
        "fields": body["fields"],
        "validation": [],
        "notifications": body["notifications"],
    }


# (what is wrong, the definition, the place named, the rule named, words of the message)
BROKEN = [
    (
        "duplicate field names",
        {"fields": [{"name": "a", "type": "text"}, {"name": "a", "type": "email"}]},
        "fields[1].name",
        "duplicate",
        "already used",
    ),
    (
        "field name not an identifier",
        {"fields": [{"name": "first name", "type": "text"}]},
        "fields[0].name",
        "identifier",
        "not an identifier",
    ),
    (
        "unknown field type",
        {"fields": [{"name": "a", "type": "colour"}]},
        "fields[0].type",
        "fieldType",
        "unknown field type 'colour'",
    ),
    (
        "rule on an unknown field",
        {
            "fields": [{"name": "a", "type": "text"}],
            "validation": [{"field": "b", "type": "email"}],
        },
        "validation[0].field",
        "unknownField",
        "unknown field 'b'",
    ),
    (
        "unknown rule type",
        {
            "fields": [{"name": "a", "type": "text"}],
            "validation": [{"field": "a", "type": "regex"}],
        },
        "validation[0].type",
        "ruleType",
        "unknown rule type 'regex'",
    ),
    (
        "minLength with a string",
        {
            "fields": [{"name": "a", "type": "text"}],
            "validation": [{"field": "a", "type": "minLength", "value": "2"}],
        },
        "validation[0].value",
        "parameter",
        "whole number",
    ),
    (
        "maxLength with a boolean",
        {
            "fields": [{"name": "a", "type": "text"}],
            "validation": [{"field": "a", "type": "maxLength", "value": True}],
        },
        "validation[0].value",
        "parameter",
        "whole number",
    ),
    (
        "min of a number field with a string",
        {
            "fields": [{"name": "a", "type": "number"}],
            "validation": [{"field": "a", "type": "min", "value": "3"}],
        },
        "validation[0].value",
        "parameter",
        "takes a number",
    ),
    (
        "max of a date field that is no date",
        {"fields": [{"name": "a", "type": "date", "validation": {"max": "tomorrow"}}]},
        "fields[0].validation.max",
        "parameter",
        "YYYY-MM-DD",
    ),
    (
        "oneOf that is not a list",
        {
            "fields": [{"name": "a", "type": "text"}],
            "validation": [{"field": "a", "type": "oneOf", "value": "a"}],
        },
        "validation[0].value",
        "parameter",
        "non-empty list",
    ),
    (
        "email rule with a parameter",
        {
            "fields": [{"name": "a", "type": "text"}],
            "validation": [{"field": "a", "type": "email", "value": "yes"}],
        },
        "validation[0].value",
        "parameter",
        "true, false or no value",
    ),
    (
        "invalid regex",
        {
            "fields": [{"name": "a", "type": "text"}],
            "validation": [{"field": "a", "type": "pattern", "value": "([a-z"}],
        },
        "validation[0].value",
        "pattern",
        "not a valid regular expression",
    ),
    (
        "select without options",
        {"fields": [{"name": "a", "type": "select"}]},
        "fields[0].options",
        "options",
        "needs options",
    ),
    (
        "radio with empty options",
        {"fields": [{"name": "a", "type": "radio", "options": []}]},
        "fields[0].options",
        "options",
        "needs options",
    ),
    (
        "options on a text field",
        {"fields": [{"name": "a", "type": "text", "options": ["x"]}]},
        "fields[0].options",
        "options",
        "takes no options",
    ),
    (
        "option of the wrong kind",
        {"fields": [{"name": "a", "type": "select", "options": ["x", {"label": "no value"}]}]},
        "fields[0].options[1]",
        "options",
        "an option is",
    ),
    (
        "repeated option",
        {"fields": [{"name": "a", "type": "select", "options": ["x", {"value": "x"}]}]},
        "fields[0].options",
        "duplicate",
        "listed twice",
    ),
    (
        "min on a text field",
        {"fields": [{"name": "a", "type": "text", "validation": {"min": 3}}]},
        "fields[0].validation.min",
        "applicability",
        "applies to number",
    ),
    (
        "minLength above maxLength",
        {"fields": [{"name": "a", "type": "text", "validation": {"minLength": 5, "maxLength": 2}}]},
        "a",
        "parameter",
        "above its maxLength",
    ),
    (
        "unknown key on a field",
        {"fields": [{"name": "a", "type": "text", "colour": "red"}]},
        "fields[0].colour",
        "unknownKey",
        "unknown key 'colour'",
    ),
    (
        "no fields",
        {"fields": []},
        "fields",
        "too_short",
        "at least 1",
    ),
    (
        "notification to a non-address",
        {
            "fields": [{"name": "a", "type": "text"}],
            "notifications": [{"type": "email", "to": ["ops"], "subject": "New"}],
        },
        "notifications[0].to[0]",
        "email",
        "not an e-mail address",
    ),
    (
        "notification without a subject",
        {
            "fields": [{"name": "a", "type": "text"}],
            "notifications": [{"type": "email", "to": ["ops@example.com"]}],
        },
        "notifications[0].subject",
        "required",
        "subject is required",
    ),
    (
        "notification of an unknown kind",
        {
            "fields": [{"name": "a", "type": "text"}],
            "notifications": [{"type": "sms", "to": ["+4412345"], "subject": "x"}],
        },
        "notifications[0].type",
        "literal_error",
        "'email'",
    ),
    (
        "NUL in a label",
        {"fields": [{"name": "a", "type": "text", "label": "bad\x00label"}]},
        "body",
        "text",
        "NUL",
    ),
]


@pytest.mark.parametrize(
    ("body", "place", "rule", "words"),
    [pytest.param(b, p, r, w, id=i) for i, b, p, r, w in BROKEN],
)
def test_broken_definition_names_the_problem(
    body: dict[str, Any], place: str, rule: str, words: str
) -> None:
    error = refused({"name": "Broken", **body})
    assert {"field": place, "rule": rule} in [
        {"field": d["field"], "rule": d["rule"]} for d in error.details
    ], error.details
    message = next(d["message"] for d in error.details if d["field"] == place)
    assert words in message
    assert place in error.message


def test_every_problem_of_the_rules_is_listed() -> None:
    error = refused(
        {
            "name": "Many problems",
            "fields": [
                {"name": "a", "type": "text"},
                {"name": "a", "type": "text"},
                {"name": "first name", "type": "text"},
                {"name": "c", "type": "dropdown"},
            ],
            "validation": [
                {"field": "zz", "type": "email"},
                {"field": "a", "type": "pattern", "value": "("},
                {"field": "a", "type": "luhn"},
                {"field": "c", "type": "minLength", "value": 1},
            ],
        }
    )
    assert [(d["field"], d["rule"]) for d in error.details] == [
        ("fields[1].name", "duplicate"),
        ("fields[2].name", "identifier"),
        ("fields[3].type", "fieldType"),
        ("validation[0].field", "unknownField"),
        ("validation[1].value", "pattern"),
        ("validation[2].type", "ruleType"),
    ]


def test_a_body_that_is_not_an_object_is_refused() -> None:
    error = refused(["not", "a", "form"])
    assert error.details[0]["field"] == "body"


def test_public_and_allowed_origins_are_kept_when_given() -> None:
    body = FormBuilder().with_text_field("name").build() | {
        "public": True,
        "allowedOrigins": ["https://example.com", "http://localhost:3000", "*"],
    }
    definition, _ = parse_definition(body)
    assert definition.public is True
    assert definition.body()["public"] is True
    assert definition.body()["allowedOrigins"] == body["allowedOrigins"]


def test_a_definition_without_public_settings_is_stored_as_before() -> None:
    definition, _ = parse_definition(FormBuilder().with_text_field("name").build())
    assert definition.public is False
    assert set(definition.body()) == {"fields", "validation", "notifications"}


@pytest.mark.parametrize(
    ("origins", "words"),
    [
        (["https://example.com/form"], "not an origin"),
        (["example.com"], "not an origin"),
        (["ftp://example.com"], "not an origin"),
        (["https://Example.com"], "lower case"),
    ],
)
def test_a_bad_origin_is_refused(origins: list[str], words: str) -> None:
    error = refused(
        FormBuilder().with_text_field("name").build() | {"public": True, "allowedOrigins": origins}
    )
    [problem] = error.details
    assert problem["field"] == "allowedOrigins[0]"
    assert problem["rule"] == "origin"
    assert words in problem["message"]


def test_public_must_be_a_boolean() -> None:
    error = refused(FormBuilder().with_text_field("name").build() | {"public": "yes"})
    assert error.details[0]["field"] == "public"
