"""Logging set-up shared by the server, its workers and the notification worker.

Every process (``pliers serve``'s parent, each of its ``--workers``, ``pliers worker``) installs the
same single handler on the root logger, and uvicorn's own loggers hand their records to it, so
uvicorn's lines and Pliers' lines have one format. Two formats: ``text`` (for a person: one line,
never wrapped) and ``json`` (one object per line, for a log pipeline). Both add what is known of
the request being served: its id, and the access line's route, status and duration.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, Literal, TextIO

from pliers import context

LogFormat = Literal["text", "json"]

#: Libraries that log a whole traceback with a warning they will recover from by themselves.
#: asyncpg's pool does, each time it fails to reconnect while the database restarts.
FOLDED = ("asyncpg.pool",)
#: uvicorn's loggers: they get no handler of their own and pass their records to the root's.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
#: Record attributes the access line sets (``extra=``), written by both formats when present.
ACCESS_FIELDS = ("method", "path", "route", "status", "duration_ms", "key_id")


class FoldedTraceback(logging.Filter):
    """Fold the exception of a warning into its one line; errors keep their traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.levelno < logging.ERROR:
            exc = record.exc_info[1]
            if exc is not None:
                record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
                record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


def fold_library_tracebacks() -> None:
    """Install :class:`FoldedTraceback` on the loggers of :data:`FOLDED` (once)."""
    for name in FOLDED:
        logger = logging.getLogger(name)
        if not any(isinstance(f, FoldedTraceback) for f in logger.filters):
            logger.addFilter(FoldedTraceback())


def _request_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The request id and key of the request the record was logged in, and the access fields."""
    fields: dict[str, Any] = {}
    ctx = context.current.get()
    if ctx is not None:
        if ctx.request_id is not None:
            fields["request_id"] = ctx.request_id
        if (key := context.key_id(ctx.actor)) is not None:
            fields["key_id"] = key
    for name in ACCESS_FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            fields[name] = value
    return fields


_second: tuple[int, str] = (-1, "")


def _utc(created: float) -> str:
    global _second
    seconds = int(created)
    millis = int((created - seconds) * 1000)
    if _second[0] != seconds:  # formatted once a second: strftime is most of this function
        _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{_second[1]}.{millis:03d}Z"


class TextFormatter(logging.Formatter):
    """``2026-11-30T20:30:43.123Z INFO pliers.mail message [request_id=… status=…]``: one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{_utc(record.created)} {record.levelname:<7} {record.name}: {record.getMessage()}"
        fields = _request_fields(record)
        if fields:
            line += " [" + " ".join(f"{k}={v}" for k, v in fields.items()) + "]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, then the request's fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        entry.update(_request_fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time of the record (test runners replace it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else TextFormatter()


def configure_logging(level: str, fmt: LogFormat = "text") -> None:
    """Send every record of ``level`` and above to stderr in ``fmt``; safe to call again.

    Replaces the handler an earlier call installed, leaves other handlers of the root logger alone
    (a test runner's capture), and makes uvicorn's loggers propagate to it.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StderrHandler):
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    numeric = logging.getLevelName(level.upper())
    # Libraries log through the root (WARNING); Pliers' and uvicorn's loggers follow the setting.
    for name in ("pliers", *UVICORN_LOGGERS):
        logger = logging.getLogger(name)
        logger.setLevel(numeric)
        if name in UVICORN_LOGGERS:
            logger.handlers.clear()
            logger.propagate = True
    # Pliers writes the access line itself (pliers.access, with the request id and route).
    logging.getLogger("uvicorn.access").propagate = False
    fold_library_tracebacks()


def uvicorn_log_config(level: str, fmt: LogFormat) -> dict[str, Any]:
    """uvicorn's ``log_config``: uvicorn applies it in its parent process and in each worker."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"pliers": {"()": f"pliers.logs.{type(formatter(fmt)).__name__}"}},
        "handlers": {"stderr": {"()": "pliers.logs.StderrHandler", "formatter": "pliers"}},
        "root": {"handlers": ["stderr"], "level": "WARNING"},
        "loggers": {
            **{
                name: {"handlers": [], "level": level.upper(), "propagate": True}
                for name in UVICORN_LOGGERS
            },
            "uvicorn.access": {"handlers": [], "propagate": False},
            "pliers": {"level": level.upper()},
        },
    }
