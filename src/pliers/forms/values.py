"""Recognisers for the value formats of form fields: e-mail addresses, URLs, dates and times.

Each ``parse_*`` returns the parsed value, or ``None`` when the text is not in that format.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any
from urllib.parse import urlsplit

# re-exported: form values are checked with the same rule as events
from pliers.storable import storable as storable
from pliers.storable import storable_text as storable_text

MAX_EMAIL = 254
MAX_URL = 2048

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
#: A pragmatic subset of RFC 5322: dot-atom local part, DNS host name with a top-level domain.
_EMAIL = re.compile(rf"(?P<local>{_ATEXT}(?:\.{_ATEXT})*)@(?:{_LABEL}\.)+{_TLD}", re.ASCII)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: ``HH:MM`` on a 24-hour clock, each part in range: the patterns below admit only real times.
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]"
_TIME = re.compile(rf"{_CLOCK}(?::[0-5][0-9])?")
_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    rf"(?P<time>{_CLOCK}:[0-5][0-9])(?:\.(?P<fraction>[0-9]{{1,9}}))?"
    rf"(?P<offset>[Zz]|[+-]{_CLOCK})"
)
_HOST = re.compile(r"[^\s/?#@:\[\]]+|\[[0-9A-Fa-f:.]+\]")
#: Whitespace or a control character below U+0020. ``\s`` matches what ``str.isspace`` accepts.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")


def is_number(value: Any) -> bool:
    """An int or a finite float; ``True`` and ``False`` are not numbers."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value)


def is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_email(value: str) -> bool:
    match = _EMAIL.fullmatch(value)
    return match is not None and len(value) <= MAX_EMAIL and len(match["local"]) <= 64


def is_url(value: str) -> bool:
    """An absolute http or https URL with a host and no whitespace."""
    if len(value) > MAX_URL or _SPACE_OR_CONTROL.search(value) is not None:
        return False
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 -- urlsplit checks the port lazily
    except ValueError:
        return False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return False
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        host = host[: host.index("]") + 1] if "]" in host else host
    else:
        host = host.split(":", 1)[0]
    return _HOST.fullmatch(host) is not None


def parse_date(value: str) -> date | None:
    """``YYYY-MM-DD``, a real calendar day."""
    if _DATE.fullmatch(value) is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def parse_time(value: str) -> time | None:
    """``HH:MM`` or ``HH:MM:SS`` on a 24-hour clock."""
    if _TIME.fullmatch(value) is None:
        return None
    return time.fromisoformat(value)


def parse_datetime(value: str) -> datetime | None:
    """RFC 3339 date-time with a UTC offset (``Z`` or ``+HH:MM``), e.g. ``2026-11-25T16:00:00Z``."""
    match = _DATETIME.fullmatch(value)
    if match is None:
        return None
    day, clock, fraction, offset = match.groups()
    if offset in ("Z", "z"):
        offset = "+00:00"
    micro = (fraction or "").ljust(6, "0")[:6]  # finer than a microsecond is cut off
    # The form datetime.isoformat writes, which every Python reads the same way.
    try:
        return datetime.fromisoformat(f"{day}T{clock}.{micro}{offset}")
    except ValueError:  # no such day, such as 2026-02-30
        return None


def printable(text: str) -> str:
    """``text`` with unpaired surrogates escaped, so it can be echoed back in a JSON response."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
