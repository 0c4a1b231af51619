"""Form definitions: what a client sends to create or replace a form, and the checks on it.

:func:`parse_definition` turns a decoded JSON body into a :class:`FormDefinition` and its
:class:`Schema` (the fields with their rules, ready to validate submissions), or raises
:class:`pliers.errors.ValidationError` listing every problem of the definition.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args

import pydantic
import regex  # type: ignore[import-untyped]  # ships no type information
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr
from pydantic.alias_generators import to_camel

from pliers.errors import ValidationError
from pliers.forms import values

FieldType = Literal[
    "text",
    "textarea",
    "email",
    "url",
    "tel",
    "number",
    "integer",
    "boolean",
    "date",
    "datetime",
    "time",
    "select",
    "multiselect",
    "radio",
    "checkbox",
]
RuleType = Literal[
    "required", "email", "url", "minLength", "maxLength", "min", "max", "pattern", "oneOf"
]
FIELD_TYPES: tuple[str, ...] = get_args(FieldType)
RULE_TYPES: tuple[str, ...] = get_args(RuleType)

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
MAX_FIELDS = 200
MAX_OPTIONS = 1000
MAX_PATTERN = 1000
MAX_ORIGINS = 50

#: An origin as browsers send it: scheme, host and optional port; nothing after them.
ORIGIN_PATTERN = (
    r"^https?://(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?$"
)
#: In ``allowedOrigins``: a page on any origin may read and post the public form.
ANY_ORIGIN = "*"

#: Fields whose value is text.
TEXT_TYPES = frozenset({"text", "textarea", "email", "url", "tel"})
#: Fields whose value is one of their options.
SINGLE_CHOICE_TYPES = frozenset({"select", "radio"})
#: Fields whose value is a list of their options (a checkbox without options is a boolean).
MULTI_CHOICE_TYPES = frozenset({"multiselect", "checkbox"})
#: Fields whose values are ordered, so ``min`` and ``max`` apply.
ORDERED_TYPES = frozenset({"number", "integer", "date", "datetime", "time"})

Text = Annotated[StrictStr, Field(max_length=2000)]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Number = StrictInt | Annotated[StrictFloat, Field(allow_inf_nan=False)]
Scalar = StrictStr | StrictBool | Number
OptionValue = Annotated[StrictStr, Field(min_length=1, max_length=500)] | StrictInt
Length = Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]


class _Wire(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown keys are refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class Option(_Wire):
    value: OptionValue
    label: Text | None = None


class FieldRules(_Wire):
    """The rules given inside a field (``"validation": {"minLength": 2, ...}``)."""

    required: StrictBool | None = None
    email: StrictBool | None = None
    url: StrictBool | None = None
    min_length: Length | None = None
    max_length: Length | None = None
    min: Number | StrictStr | None = None
    max: Number | StrictStr | None = None
    pattern: StrictStr | None = None
    one_of: list[Scalar] | None = None
    #: replaces the default message of every rule in this object
    message: Text | None = None


class FieldDef(_Wire):
    name: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    #: one of :data:`FIELD_TYPES`, checked with the other rules so all problems show at once
    type: StrictStr
    label: Text | None = None
    description: Text | None = None
    placeholder: Text | None = None
    required: StrictBool = False
    options: Annotated[list[OptionValue | Option], Field(max_length=MAX_OPTIONS)] | None = None
    validation: FieldRules | None = None


class RuleDef(_Wire):
    """A rule of the form's ``validation`` list: ``{"field", "type", "value"?, "message"?}``."""

    field: StrictStr
    #: one of :data:`RULE_TYPES`
    type: StrictStr
    value: Any = None
    message: Text | None = None


class EmailNotification(_Wire):
    """Mail sent for every submission; delivered by the notification engine."""

    type: Literal["email"]
    to: Annotated[list[StrictStr], Field(min_length=1, max_length=50)]
    subject: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    body: Annotated[StrictStr, Field(max_length=100_000)] | None = None
    html: StrictBool | None = None


Origin = Annotated[StrictStr, Field(min_length=1, max_length=300)]


class FormDefinition(_Wire):
    name: Name
    description: Text | None = None
    fields: Annotated[list[FieldDef], Field(min_length=1, max_length=MAX_FIELDS)]
    validation: Annotated[list[RuleDef], Field(max_length=10 * MAX_FIELDS)] = []
    notifications: Annotated[list[EmailNotification], Field(max_length=20)] = []
    #: respondents may read and submit the form without a key (``/v1/public/forms/{id}``)
    public: StrictBool = False
    #: origins whose pages may call the public routes from a browser (CORS); ``"*"`` for any
    allowed_origins: Annotated[list[Origin], Field(max_length=MAX_ORIGINS)] = []

    def body(self) -> dict[str, Any]:
        """``{fields, validation, notifications}`` as stored and returned, keys as given.

        ``public`` and ``allowedOrigins`` are kept only when given, so a definition that never
        mentions them is stored (and recorded in its events) exactly as before they existed.
        """
        dumped = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        body = {
            "fields": dumped["fields"],
            "validation": dumped.get("validation", []),
            "notifications": dumped.get("notifications", []),
        }
        for key in ("public", "allowedOrigins"):
            if key in dumped:
                body[key] = dumped[key]
        return body


def is_public(body: dict[str, Any]) -> bool:
    """May respondents use this form (a stored definition body) without a key?"""
    return body.get("public") is True


def allowed_origins(body: dict[str, Any]) -> list[str]:
    """The origins of a stored definition body whose pages may call its public routes."""
    origins: list[str] = body.get("allowedOrigins", [])
    return origins


@dataclass(frozen=True, slots=True)
class Rule:
    type: str
    value: Any = None
    message: str | None = None


#: An option as answers are matched against it: its type and its value.
OptionKey = tuple[type, str | int]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """A field as submissions are checked against it.

    The attributes after ``rules`` follow from the others; they are worked out once, when the
    spec is built, because the spec is used for every submission to its form.
    """

    name: str
    type: str
    required: bool
    required_message: str | None
    #: option values of a choice field, ``None`` for other fields
    options: tuple[str | int, ...] | None
    rules: tuple[Rule, ...]
    #: what an answer is: ``option``, ``options`` (a list of them), ``boolean``, ``text`` (for
    #: text, textarea and tel), or the field's type (``email``, ``number``, ``date``, ...)
    kind: str = field(init=False, repr=False, compare=False)
    #: the options of a choice field as :data:`OptionKey`; empty for other fields
    option_keys: frozenset[OptionKey] = field(init=False, repr=False, compare=False)
    #: the rules an answer of the right kind is checked against, each with its bound as a value
    #: of the field's kind (for ``min`` and ``max``; None for the others). An ``email`` rule on
    #: an email field and a ``url`` rule on a url field are left out: the kind check is theirs.
    checks: tuple[tuple[Rule, Any], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # object.__setattr__, as the dataclass is frozen; this is still building it
        kind = _kind_of(self.type, self.options)
        object.__setattr__(self, "kind", kind)
        keys = frozenset((type(o), o) for o in self.options or ())
        object.__setattr__(self, "option_keys", keys)
        implied = kind if kind in ("email", "url") else None
        checks = tuple(
            (r, bound_of(self.type, r) if r.type in ("min", "max") else None)
            for r in self.rules
            if r.type != implied
        )
        object.__setattr__(self, "checks", checks)


def _kind_of(field_type: str, options: tuple[str | int, ...] | None) -> str:
    if options is not None:  # only choice fields have options; a checkbox may or may not
        return "options" if field_type in MULTI_CHOICE_TYPES else "option"
    if field_type == "checkbox":
        return "boolean"
    return "text" if field_type in ("text", "textarea", "tel") else field_type


@dataclass(frozen=True, slots=True)
class Schema:
    """The fields of one version of a form, in definition order, and the mail it asks for."""

    fields: dict[str, FieldSpec]
    notifications: tuple[EmailNotification, ...] = ()


def parse_definition(raw: Any) -> tuple[FormDefinition, Schema]:
    """Check a definition as the client sent it; every problem is reported at once."""
    try:
        definition = FormDefinition.model_validate(raw)
    except pydantic.ValidationError as e:
        raise _invalid(_collapse([_from_pydantic(err) for err in e.errors()])) from None
    problems: list[dict[str, str]] = []
    reason = values.storable(raw)
    if reason is not None:
        problems.append(_problem("body", "text", reason))
    schema = _compile(definition, problems)
    if problems:
        raise _invalid(problems)
    return definition, schema


def schema_of(body: dict[str, Any]) -> Schema:
    """The schema of a stored definition body (``{fields, validation, notifications}``)."""
    _, schema = parse_definition({"name": "stored", **body})
    return schema


def _invalid(problems: list[dict[str, str]]) -> ValidationError:
    listed = "; ".join(f"{p['field']}: {p['message']}" for p in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return ValidationError(f"Form definition validation failed: {listed}{more}", details=problems)


def _problem(field: str, rule: str, message: str) -> dict[str, str]:
    return {"field": values.printable(field), "rule": rule, "message": values.printable(message)}


def _unknown_type(
    where: str, rule: str, given: str, known: tuple[str, ...], kinds: str
) -> dict[str, str]:
    """The problem of a ``type`` that is none of ``known``: it names them."""
    kind = rule.removesuffix("Type")
    message = f"unknown {kind} type {given!r}; known {kinds}: {', '.join(known)}"
    return _problem(f"{where}.type", rule, message)


def _path(loc: tuple[Any, ...], *, key: bool = False) -> str:
    """``fields[0].options[2]`` from a pydantic location; ``key``: the last part is a given key."""
    path = ""
    for i, part in enumerate(loc):
        if key and i == len(loc) - 1:
            path += f".{part}" if path else str(part)
        elif isinstance(part, int):
            path += f"[{part}]"
        elif not isinstance(part, str) or part.startswith(("function-", "list[", "lax-")):
            continue
        elif part in ("str", "int", "float", "bool", "Option", "constrained-str"):
            continue  # union branch names
        else:
            path += f".{part}" if path else part
    return path or "body"


def _collapse(problems: list[dict[str, str]]) -> list[dict[str, str]]:
    """One problem per place: a value that fits no branch of a union fails every branch."""
    by_path: dict[str, list[dict[str, str]]] = {}
    for p in problems:
        by_path.setdefault(p["field"], []).append(p)
    collapsed = []
    for path, found in by_path.items():
        distinct = list(dict.fromkeys(p["message"] for p in found))
        if len(distinct) == 1:
            collapsed.append(found[0])
            continue
        expected = " or ".join(m.removeprefix("Input should be ") for m in distinct)
        collapsed.append(_problem(path, "type", f"Input should be {expected}"))
    return collapsed


def _from_pydantic(err: Any) -> dict[str, str]:
    loc = tuple(err.get("loc", ()))
    if len(loc) >= 4 and loc[0] == "fields" and loc[2] == "options" and isinstance(loc[3], int):
        return _problem(
            _path(loc[:4]),
            "options",
            "an option is a non-empty string, an integer, or {value, label} with such a value",
        )
    kind = err["type"]
    path = _path(loc, key=kind == "extra_forbidden")
    last = next((p for p in reversed(loc) if isinstance(p, str)), "")
    if kind == "extra_forbidden":
        return _problem(path, "unknownKey", f"unknown key {last!r}")
    if kind == "missing":
        return _problem(path, "required", f"{last or 'value'} is required")
    return _problem(path, kind, err["msg"])


def _compile(definition: FormDefinition, problems: list[dict[str, str]]) -> Schema:
    """Build the schema, appending to ``problems`` whatever makes the definition unusable."""
    rules: dict[str, list[Rule]] = {}
    required: dict[str, tuple[bool, str | None]] = {}
    names: dict[str, int] = {}
    for i, f in enumerate(definition.fields):
        where = f"fields[{i}]"
        if re.fullmatch(NAME_PATTERN, f.name) is None:
            problems.append(
                _problem(
                    f"{where}.name",
                    "identifier",
                    f"field name {f.name!r} is not an identifier ([A-Za-z_][A-Za-z0-9_]*)",
                )
            )
        if f.name in names:
            problems.append(
                _problem(
                    f"{where}.name",
                    "duplicate",
                    f"field name {f.name!r} is already used by fields[{names[f.name]}]",
                )
            )
            continue
        names[f.name] = i
        if f.type not in FIELD_TYPES:
            problems.append(_unknown_type(where, "fieldType", f.type, FIELD_TYPES, "types"))
            continue
        _check_options(f, where, problems)
        rules[f.name] = []
        required[f.name] = (f.required, None)
        if f.validation is not None:
            v = f.validation
            given = v.model_dump(exclude_none=True, by_alias=True)
            given.pop("message", None)
            for rule_type, value in given.items():
                rule = Rule(rule_type, value, v.message)
                if rule_type == "required":
                    if value:
                        required[f.name] = (True, v.message)
                    continue
                if _check_rule(f, rule, f"{where}.validation.{rule_type}", problems):
                    rules[f.name].append(rule)

    fields_by_name = {f.name: f for f in definition.fields}
    for i, r in enumerate(definition.validation):
        where = f"validation[{i}]"
        target = fields_by_name.get(r.field)
        if r.type not in RULE_TYPES:
            problems.append(_unknown_type(where, "ruleType", r.type, RULE_TYPES, "rules"))
        if target is None:
            problems.append(
                _problem(f"{where}.field", "unknownField", f"rule names unknown field {r.field!r}")
            )
        if target is None or r.type not in RULE_TYPES or r.field not in rules:
            continue  # nothing more to check; a field of an unknown type is reported already
        rule = Rule(r.type, r.value, r.message)
        if r.type == "required":
            if _check_flag(rule, f"{where}.value", problems) and r.value is not False:
                required[r.field] = (True, r.message)
            continue
        if _check_rule(target, rule, f"{where}.value", problems):
            rules[r.field].append(rule)

    specs: dict[str, FieldSpec] = {}
    for f in definition.fields:
        if f.name in specs or f.name not in rules:
            continue
        options = None
        if f.options is not None:
            options = tuple(o.value if isinstance(o, Option) else o for o in f.options)
        is_required, message = required[f.name]
        specs[f.name] = FieldSpec(
            f.name, f.type, is_required, message, options, tuple(rules[f.name])
        )
        _check_bounds(specs[f.name], problems)
    for i, origin in enumerate(definition.allowed_origins):
        if origin != ANY_ORIGIN and re.fullmatch(ORIGIN_PATTERN, origin) is None:
            problems.append(
                _problem(
                    f"allowedOrigins[{i}]",
                    "origin",
                    f"{origin!r} is not an origin: http(s)://host[:port] with no path, or "
                    f"{ANY_ORIGIN!r} for any",
                )
            )
        elif origin != origin.lower():
            problems.append(
                _problem(
                    f"allowedOrigins[{i}]",
                    "origin",
                    f"{origin!r}: write origins in lower case, as browsers send them",
                )
            )
    for i, n in enumerate(definition.notifications):
        for j, address in enumerate(n.to):
            if not values.is_email(address):
                problems.append(
                    _problem(
                        f"notifications[{i}].to[{j}]",
                        "email",
                        f"{address!r} is not an e-mail address",
                    )
                )
    return Schema(specs, tuple(definition.notifications))


def _check_options(f: FieldDef, where: str, problems: list[dict[str, str]]) -> None:
    if f.type in SINGLE_CHOICE_TYPES or f.type == "multiselect":
        if not f.options:
            problems.append(
                _problem(f"{where}.options", "options", f"a {f.type} field needs options")
            )
            return
    elif f.options is not None and f.type != "checkbox":
        problems.append(
            _problem(f"{where}.options", "options", f"a {f.type} field takes no options")
        )
        return
    if f.options is None:
        return
    if f.type == "checkbox" and not f.options:
        problems.append(
            _problem(
                f"{where}.options",
                "options",
                "a checkbox takes a non-empty list of options, or none for a yes/no box",
            )
        )
        return
    seen: set[tuple[type, str | int]] = set()
    for o in f.options:
        value = o.value if isinstance(o, Option) else o
        key = (type(value), value)
        if key in seen:
            problems.append(
                _problem(f"{where}.options", "duplicate", f"option {value!r} is listed twice")
            )
        seen.add(key)


def _check_flag(rule: Rule, where: str, problems: list[dict[str, str]]) -> bool:
    if rule.value is None or isinstance(rule.value, bool):
        return True
    problems.append(
        _problem(
            where, "parameter", f"{rule.type} takes true, false or no value, not {rule.value!r}"
        )
    )
    return False


def _check_rule(f: FieldDef, rule: Rule, where: str, problems: list[dict[str, str]]) -> bool:
    """Is ``rule`` usable on field ``f``? Problems are appended; returns False when not."""
    is_list = f.type == "multiselect" or (f.type == "checkbox" and bool(f.options))

    def refuse(rule_name: str, message: str) -> bool:
        problems.append(_problem(where, rule_name, message))
        return False

    def not_for(kinds: str) -> bool:
        return refuse(
            "applicability",
            f"{rule.type} applies to {kinds}, not to {f.type} field {f.name!r}",
        )

    if rule.type in ("email", "url"):
        if not _check_flag(rule, where, problems):
            return False
        if f.type not in TEXT_TYPES:
            return not_for("text fields")
        return rule.value is not False
    if rule.type in ("minLength", "maxLength"):
        if not values.is_integer(rule.value) or rule.value < 0:
            return refuse("parameter", f"{rule.type} takes a whole number >= 0, not {rule.value!r}")
        if f.type not in TEXT_TYPES and not is_list:
            return not_for("text fields and multiple-choice fields")
        return True
    if rule.type in ("min", "max"):
        if f.type not in ORDERED_TYPES:
            return not_for("number, integer, date, datetime and time fields")
        if _bound(f.type, rule.value) is None:
            kind = {
                "number": "a number",
                "integer": "a number",
                "date": "a date (YYYY-MM-DD)",
                "datetime": "an RFC 3339 date-time with offset",
                "time": "a time (HH:MM or HH:MM:SS)",
            }[f.type]
            return refuse("parameter", f"{rule.type} of a {f.type} field takes {kind}")
        return True
    if rule.type == "pattern":
        if not isinstance(rule.value, str) or not rule.value:
            return refuse("parameter", f"pattern takes a regular expression, not {rule.value!r}")
        if len(rule.value) > MAX_PATTERN:
            return refuse("parameter", f"pattern is longer than {MAX_PATTERN} characters")
        try:
            regex.compile(rule.value)
        except (regex.error, RecursionError, OverflowError, ValueError) as e:
            return refuse(
                "pattern", f"pattern {rule.value!r} is not a valid regular expression: {e}"
            )
        if f.type not in TEXT_TYPES:
            return not_for("text fields")
        return True
    if rule.type == "oneOf":
        ok = (
            isinstance(rule.value, list)
            and 0 < len(rule.value) <= MAX_OPTIONS
            and all(isinstance(v, str | bool) or values.is_number(v) for v in rule.value)
        )
        if not ok:
            return refuse(
                "parameter", "oneOf takes a non-empty list of strings, numbers or booleans"
            )
        return True
    return refuse("ruleType", f"unknown rule type {rule.type!r}")  # pragma: no cover


def _bound(field_type: str, value: Any) -> Any:
    """A ``min``/``max`` parameter as a value comparable with the field's values, or None."""
    if field_type in ("number", "integer"):
        return value if values.is_number(value) else None
    if not isinstance(value, str):
        return None
    if field_type == "date":
        return values.parse_date(value)
    if field_type == "datetime":
        return values.parse_datetime(value)
    return values.parse_time(value)


def _check_bounds(f: FieldSpec, problems: list[dict[str, str]]) -> None:
    """A lower bound above the upper bound of the same field can never be met."""

    def last(kind: str) -> Rule | None:
        found = [r for r in f.rules if r.type == kind]
        return found[-1] if found else None

    for low_kind, high_kind in (("minLength", "maxLength"), ("min", "max")):
        low, high = last(low_kind), last(high_kind)
        if low is None or high is None:
            continue
        low_value, high_value = bound_of(f.type, low), bound_of(f.type, high)
        try:
            inverted = low_value > high_value
        except TypeError:  # an aware and a naive value cannot be compared; both are aware here
            inverted = False
        if inverted:
            problems.append(
                _problem(
                    f.name,
                    "parameter",
                    f"{low_kind} {low.value!r} of field {f.name!r} is above its "
                    f"{high_kind} {high.value!r}",
                )
            )


def bound_of(field_type: str, rule: Rule) -> Any:
    """The parameter of a length or ``min``/``max`` rule, comparable with the field's values."""
    if rule.type in ("minLength", "maxLength"):
        return rule.value
    return _bound(field_type, rule.value)
