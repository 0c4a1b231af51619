"""Submissions as CSV: one row per submission, one column per field of the form.

The columns are the current version's fields, then the fields that only earlier versions had
(the newest version first), so answers to a field since removed or renamed are exported too.

Cells that a spreadsheet would run as a formula (text starting with ``= + - @``, a tab or a
carriage return, or their full-width forms) get a leading ``'``, as OWASP advises against CSV
injection. Numbers are written as numbers, so ``-5`` stays a number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from pliers.forms.records import FormRecord, SubmissionRecord

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
META_COLUMNS = ("id", "formVersion", "submittedBy", "createdAt")
#: joins the values of a multiple-choice answer in one cell
LIST_SEPARATOR = "; "


def neutralise(text: str) -> str:
    """``text`` made safe to open in a spreadsheet."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, list):
        return neutralise(LIST_SEPARATOR.join(_plain(v) for v in value))
    return neutralise(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _plain(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False)


def field_columns(current: FormRecord, versions: Sequence[FormRecord] = ()) -> list[str]:
    """The fields exported: ``current``'s, then those only other ``versions`` had."""
    names = [f["name"] for f in current.body["fields"]]
    seen = set(names)
    for version in sorted(versions, key=lambda form: form.version, reverse=True):
        for name in (f["name"] for f in version.body["fields"]):
            if name not in seen:
                seen.add(name)
                names.append(name)
    return names


def header(field_names: Sequence[str]) -> list[str]:
    """The column names; a field named like a fixed column is written as ``data.<name>``."""
    return [*META_COLUMNS, *(f"data.{n}" if n in META_COLUMNS else n for n in field_names)]


def row(form_fields: Sequence[str], submission: SubmissionRecord) -> list[str]:
    wire = submission.to_wire()
    return [
        cell(wire["id"]),
        cell(wire["formVersion"]),
        cell(wire["submittedBy"]),
        cell(wire["createdAt"]),
        *(cell(submission.data.get(name)) for name in form_fields),
    ]


async def csv_chunks(
    field_names: Sequence[str], pages: AsyncIterator[Iterable[SubmissionRecord]]
) -> AsyncIterator[str]:
    """The CSV text of submissions with ``field_names`` as columns, one chunk per page read."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header(field_names))
    yield _drain(buffer)
    async for submissions in pages:
        for submission in submissions:
            writer.writerow(row(field_names, submission))
        yield _drain(buffer)


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text
