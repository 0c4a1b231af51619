"""``{{field}}`` placeholders in notification subjects and bodies.

Plain substitution from the submission's data: no expressions, no template engine, nothing is
executed. Values are HTML-escaped in HTML bodies; a placeholder naming no submitted field becomes
empty.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def as_text(value: Any) -> str:
    """How a submitted value reads in a message."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ", ".join(as_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def render(template: str, data: Mapping[str, Any], *, html: bool = False) -> str:
    """``template`` with every ``{{name}}`` replaced by ``data[name]``."""

    def fill(match: re.Match[str]) -> str:
        text = as_text(data.get(match.group(1)))
        return html_lib.escape(text) if html else text

    return _PLACEHOLDER.sub(fill, template)


def render_subject(template: str, data: Mapping[str, Any]) -> str:
    """A subject is one line: line breaks from submitted values are folded into spaces."""
    return " ".join(render(template, data).split())


def default_body(form: Mapping[str, Any], data: Mapping[str, Any], *, html: bool = False) -> str:
    """A plain listing of the submitted fields, labelled and in the form's field order."""
    labels: dict[str, str] = {}
    for field in form.get("fields") or []:
        if isinstance(field, Mapping) and isinstance(field.get("name"), str):
            labels[field["name"]] = str(field.get("label") or field["name"])
    names = [n for n in labels if n in data] + [n for n in data if n not in labels]
    title = f"New submission to {form.get('name') or 'a form'}"
    if html:
        rows = "".join(
            f"<li><strong>{html_lib.escape(labels.get(n, n))}</strong>: "
            f"{html_lib.escape(as_text(data[n]))}</li>"
            for n in names
        )
        return f"<p>{html_lib.escape(title)}</p><ul>{rows}</ul>"
    lines = [title, ""] + [f"{labels.get(n, n)}: {as_text(data[n])}" for n in names]
    return "\n".join(lines)
