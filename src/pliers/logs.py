"""Logging set-up shared by the server and the worker."""

from __future__ import annotations

import logging

#: Libraries that log a whole traceback with a warning they will recover from by themselves.
#: asyncpg's pool does, each time it fails to reconnect while the database restarts.
FOLDED = ("asyncpg.pool",)


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
