"""The recognisers of answer formats at their edges: times, offsets, URLs and storable text."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone

import pytest

from pliers.forms.values import is_url, parse_datetime, parse_time, storable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("00:00", time(0, 0)),
        ("09:05", time(9, 5)),
        ("23:59", time(23, 59)),
        ("23:59:59", time(23, 59, 59)),
    ],
)
def test_a_time_of_day_is_read(text: str, expected: time) -> None:
    assert parse_time(text) == expected


@pytest.mark.parametrize(
    "text",
    ["24:00", "24:00:00", "23:60", "12:00:60", "9:30", "09:30:00.5", "09:30Z", "\uff10\uff19:30"],
)
def test_a_time_that_does_not_exist_or_is_not_hh_mm_is_refused(text: str) -> None:
    """Hour 24 included, though some Pythons' ``fromisoformat`` read it as the next midnight."""
    assert parse_time(text) is None


def offset(hours: int, minutes: int = 0) -> timezone:
    delta = timedelta(hours=abs(hours), minutes=minutes)
    return timezone(-delta if hours < 0 else delta)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-25T16:00:00Z", datetime(2026, 11, 25, 16, tzinfo=UTC)),
        ("2026-11-25 16:00:00z", datetime(2026, 11, 25, 16, tzinfo=UTC)),
        ("2026-11-25T16:00:00-00:00", datetime(2026, 11, 25, 16, tzinfo=UTC)),
        ("2026-11-25t16:00:00.1-05:30", datetime(2026, 11, 25, 16, 0, 0, 100_000, offset(-5, 30))),
        (
            "2024-02-29T23:59:59.123456789+23:59",
            datetime(2024, 2, 29, 23, 59, 59, 123_456, offset(23, 59)),
        ),
    ],
)
def test_a_date_time_is_read_with_its_offset(text: str, expected: datetime) -> None:
    """Digits after the sixth of a fraction are cut off, not rounded."""
    parsed = parse_datetime(text)
    assert parsed == expected
    assert parsed is not None
    assert parsed.utcoffset() == expected.utcoffset()
    assert parsed.microsecond == expected.microsecond


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-25T24:00:00Z",
        "2026-11-25T23:60:00Z",
        "2026-11-25T23:59:60Z",
        "2026-11-25T16:00:00+24:00",
        "2026-11-25T16:00:00+01:60",
        "2026-02-30T16:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-11-25T16:00Z",
        "2026-11-25T16:00:00.Z",
        "2026-11-25T16:00:00.1234567890Z",
        "2026-11-25T16:00:00+0100",
    ],
)
def test_a_date_time_that_does_not_exist_or_lacks_its_offset_is_refused(text: str) -> None:
    assert parse_datetime(text) is None


@pytest.mark.parametrize(
    "character",
    [" ", "\t", "\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u3000", "\x00", "\x1f"],
)
def test_a_url_with_whitespace_or_a_control_character_is_refused(character: str) -> None:
    """Whitespace is what ``str.isspace`` says it is; control characters are those below U+0020."""
    assert is_url("https://example.com/a") is True
    assert is_url(f"https://example.com/a{character}b") is False


def test_text_is_storable_without_nul_characters_and_unpaired_surrogates() -> None:
    assert storable("plain") is None
    assert storable("ünïcödé ✓") is None
    assert storable("a\x00b") == "text contains a NUL character"
    assert storable("a\ud800b") == "text contains an unpaired surrogate"
    assert storable({"k": ["fine", "a\udfffb"]}) == "text contains an unpaired surrogate"
    assert storable({"\x00": 1}) == "text contains a NUL character"
    assert storable([1.5, float("inf")]) == "numbers must be finite"
