"""The two log formats: one JSON object per line, or one readable line; levels in any case."""

from __future__ import annotations

import json
import logging

import pytest

from pliers import context
from pliers.logs import JsonFormatter, TextFormatter, configure_logging
from pliers.settings import load_settings


def _record(message: str, **extra: object) -> logging.LogRecord:
    return logging.getLogger("pliers.mail").makeRecord(
        "pliers.mail", logging.WARNING, __file__, 1, message, (), None, extra=extra
    )


def test_json_is_one_object_per_line_with_the_request_fields() -> None:
    token = context.current.set(context.RequestContext(request_id="r-1", actor="key_abc"))
    try:
        text = JsonFormatter().format(_record("two\nlines", status=201, route="/x/{id}"))
    finally:
        context.current.reset(token)
    assert "\n" not in text
    entry = json.loads(text)
    assert entry["level"] == "WARNING"
    assert entry["logger"] == "pliers.mail"
    assert entry["message"] == "two\nlines"
    assert entry["request_id"] == "r-1"
    assert entry["key_id"] == "key_abc"
    assert entry["status"] == 201
    assert entry["route"] == "/x/{id}"
    assert entry["time"].endswith("Z")


def test_text_is_one_unwrapped_line_whatever_its_length() -> None:
    long = "word " * 60
    token = context.current.set(context.RequestContext(request_id="r-2"))
    try:
        line = TextFormatter().format(_record(long))
    finally:
        context.current.reset(token)
    assert "\n" not in line
    assert line.endswith("[request_id=r-2]")
    assert " WARNING pliers.mail: word word" in line


def test_json_outside_a_request_has_no_request_fields() -> None:
    entry = json.loads(JsonFormatter().format(_record("idle")))
    assert "request_id" not in entry
    assert "key_id" not in entry


@pytest.mark.parametrize("given", ["DEBUG", "Info", "warning", "ERROR"])
def test_levels_are_case_insensitive(monkeypatch: pytest.MonkeyPatch, given: str) -> None:
    monkeypatch.setenv("PLIERS_LOG_LEVEL", given)
    monkeypatch.setenv("PLIERS_LOG_FORMAT", "JSON")
    settings = load_settings()
    assert settings.log_level == given.lower()
    assert settings.log_format == "json"


def test_configure_logging_installs_one_handler_and_routes_uvicorn_to_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging("INFO", "json")
        configure_logging("info", "json")  # again: still one handler of ours
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1
        logging.getLogger("uvicorn.error").info("Started server process [1]")
        logging.getLogger("pliers.mail").info("mail for %s", "ops@example.com")
        lines = [json.loads(text) for text in capsys.readouterr().err.splitlines()]
        assert [(e["logger"], e["message"]) for e in lines] == [
            ("uvicorn.error", "Started server process [1]"),
            ("pliers.mail", "mail for ops@example.com"),
        ]
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
