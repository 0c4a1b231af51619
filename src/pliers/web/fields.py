"""A form's fields as the controls of an HTML page, and a posted HTML form back as answers.

The page mirrors the server's rules with HTML validation attributes where HTML has an exact or a
looser equivalent (``required``, ``minlength``, ``min``, ``type=email``...), never a stricter one:
the browser may let through what the server then refuses (and the page shows why), but must not
block an answer the server would take. The server's checks stay the only authority.

An HTML form posts text, so :func:`answers_from_form` turns each control's text back into the
value the field takes (a number, a list of options, true or false), the way the page's script
does for JSON. Text that does not read as the field's kind is passed on as it is, and the
server's check reports it in its own words.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pliers.forms.definition import FieldSpec, Schema

#: A number as an HTML number input writes it (no ``inf``, ``nan`` or ``1_000``, which
#: Python's ``float`` would read).
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_LOCAL_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?"
)
#: Input types of the fields shown as one ``<input>``.
_INPUT_TYPES = {
    "text": "text",
    "email": "email",
    "url": "url",
    "tel": "tel",
    "number": "number",
    "integer": "number",
    "date": "date",
    "time": "time",
    "datetime": "datetime-local",
}
#: ``autocomplete`` hints: a phone offers the person's own address or number.
_AUTOCOMPLETE = {"email": "email", "tel": "tel"}


@dataclass(frozen=True, slots=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Control:
    """One field as the page shows it."""

    name: str
    #: the field's type in the definition
    type: str
    #: how it is drawn: ``input``, ``textarea``, ``select``, ``multiselect``, ``radios``,
    #: ``checkboxes`` or ``checkbox`` (a single yes/no box)
    widget: str
    label: str
    help: str | None
    placeholder: str | None
    required: bool
    #: ``<input type=...>`` for the ``input`` widget
    input_type: str = "text"
    #: HTML validation attributes (``minlength``, ``pattern``, ``min``, ``step``...)
    attrs: dict[str, str] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    #: a note shown under the control (the time zone of a date and time)
    note: str | None = None


def controls(body: Mapping[str, Any], schema: Schema) -> list[Control]:
    """The controls of a form version, in definition order."""
    found = []
    for raw in body["fields"]:
        spec = schema.fields.get(raw["name"])
        if spec is not None:
            found.append(_control(raw, spec))
    return found


def _control(raw: Mapping[str, Any], spec: FieldSpec) -> Control:
    label = raw.get("label") or raw["name"]
    common: dict[str, Any] = {
        "name": spec.name,
        "type": spec.type,
        "label": label,
        "help": raw.get("description"),
        "placeholder": raw.get("placeholder"),
        "required": spec.required,
    }
    if spec.kind in ("option", "options"):
        labels = _option_labels(raw.get("options") or [])
        choices = tuple(
            Choice(option_text(o), labels.get(option_text(o), str(o))) for o in spec.options or ()
        )
        widget = {
            "select": "select",
            "radio": "radios",
            "multiselect": "multiselect",
            "checkbox": "checkboxes",
        }[spec.type]
        return Control(widget=widget, choices=choices, **common)
    if spec.type == "boolean":
        yes_no = (Choice("true", "Yes"), Choice("false", "No"))
        return Control(widget="radios", choices=yes_no, **common)
    if spec.type == "checkbox":
        # false is an answer, so an unticked box answers; only "must be ticked" needs the tick
        must_tick = any(r.type == "oneOf" and r.value == [True] for r, _ in spec.checks)
        return Control(widget="checkbox", **{**common, "required": must_tick})
    attrs = _attrs(spec)
    if spec.type == "textarea":
        attrs.pop("pattern", None)  # a textarea has no pattern attribute
        return Control(widget="textarea", attrs=attrs, **common)
    note = "Date and time in UTC." if spec.type == "datetime" else None
    input_type = _INPUT_TYPES[spec.type]
    if spec.type in _AUTOCOMPLETE:
        attrs["autocomplete"] = _AUTOCOMPLETE[spec.type]
    return Control(widget="input", input_type=input_type, attrs=attrs, note=note, **common)


def _option_labels(options: Sequence[Any]) -> dict[str, str]:
    labels = {}
    for o in options:
        if isinstance(o, dict):
            labels[option_text(o["value"])] = o.get("label") or str(o["value"])
    return labels


def option_text(value: str | int) -> str:
    """An option's value as the page posts it."""
    return str(value)


def _attrs(spec: FieldSpec) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if spec.kind == "number":
        attrs["step"] = "any"
    elif spec.kind == "integer":
        attrs["step"] = "1"
        attrs["inputmode"] = "numeric"
    if spec.kind == "url":
        # type=url takes any scheme; the server takes http and https only
        attrs["pattern"] = r"[Hh][Tt][Tt][Pp][Ss]?://.+"
    for rule, _ in spec.checks:
        if rule.type == "minLength":
            attrs["minlength"] = str(rule.value)
        elif rule.type == "maxLength":
            attrs["maxlength"] = str(rule.value)
        elif rule.type in ("min", "max") and spec.kind in ("number", "integer", "date", "time"):
            attrs[rule.type] = str(rule.value)
        elif rule.type == "pattern" and spec.kind == "text":
            # The server finds the pattern anywhere in the answer; HTML matches the whole value.
            # A pattern the browser cannot read is ignored by it, and the server still checks.
            attrs["pattern"] = f"[\\s\\S]*(?:{rule.value})[\\s\\S]*"
    # A datetime's bounds carry an offset and a datetime-local control has none: the server
    # alone checks them, so that the browser never refuses a time the server would take.
    return attrs


def script_schema(schema: Schema) -> list[dict[str, Any]]:
    """What the page's script needs to turn its controls into JSON: each field's kind, and the
    option values behind the texts a choice control posts."""
    return [
        {
            "name": spec.name,
            "type": spec.type,
            "kind": spec.kind,
            "options": {option_text(o): o for o in spec.options or ()},
        }
        for spec in schema.fields.values()
    ]


def answers_from_form(schema: Schema, form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """The answers of a posted HTML form (``form[name]``: every value posted under ``name``).

    An empty control is no answer; names that are not fields are left out, as a page only
    posts its own controls plus the page's hidden ones.
    """
    data: dict[str, Any] = {}
    for spec in schema.fields.values():
        posted = [v for v in form.get(spec.name, ()) if v != ""]
        value = _answer(spec, posted)
        if value is not None:
            data[spec.name] = value
    return data


def _answer(spec: FieldSpec, posted: list[str]) -> Any:
    if spec.kind == "boolean" and spec.type == "checkbox":
        return bool(posted)  # an unticked box is not posted at all: it answers "no"
    if not posted:
        return None
    if spec.kind == "options":
        return [_option(spec, text) for text in posted]
    text = posted[0]
    if spec.kind == "option":
        return _option(spec, text)
    if spec.kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    if spec.kind == "number":
        return _number(text)
    if spec.kind == "integer":
        return int(text) if _INTEGER.fullmatch(text) else text
    if spec.kind == "datetime":
        return utc_datetime(text)
    return text


def _option(spec: FieldSpec, text: str) -> str | int:
    for option in spec.options or ():
        if option_text(option) == text:
            return option
    return text


def _number(text: str) -> float | int | str:
    if _NUMBER.fullmatch(text) is None:
        return text
    if _INTEGER.fullmatch(text):
        return int(text)
    number = float(text)
    return number if math.isfinite(number) else text


def utc_datetime(text: str) -> str:
    """A ``datetime-local`` value read as UTC (a page without script knows no time zone)."""
    if _LOCAL_DATETIME.fullmatch(text) is None:
        return text
    return (text if text.count(":") == 2 else text + ":00") + "Z"
