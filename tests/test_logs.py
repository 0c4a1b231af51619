"""Library warnings that carry a traceback are folded into one line; errors keep theirs."""

from __future__ import annotations

import logging

import pytest

from pliers.logs import fold_library_tracebacks


def _log_with_exception(level: int) -> None:
    try:
        raise ConnectionRefusedError("connect call failed ('127.0.0.1', 5432)")
    except ConnectionRefusedError:
        logging.getLogger("asyncpg.pool").log(
            level, "Failed to restore the pool connection %s; retrying", "floor", exc_info=True
        )


def test_a_warning_from_the_pool_is_one_line_naming_the_exception(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fold_library_tracebacks()
    fold_library_tracebacks()  # a second call installs nothing more
    assert len(logging.getLogger("asyncpg.pool").filters) == 1
    with caplog.at_level("WARNING", logger="asyncpg.pool"):
        _log_with_exception(logging.WARNING)
    [record] = caplog.records
    assert record.exc_info is None
    assert record.getMessage() == (
        "Failed to restore the pool connection floor; retrying "
        "(ConnectionRefusedError: connect call failed ('127.0.0.1', 5432))"
    )
    assert "Traceback" not in caplog.text


def test_an_error_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    fold_library_tracebacks()
    with caplog.at_level("WARNING", logger="asyncpg.pool"):
        _log_with_exception(logging.ERROR)
    [record] = caplog.records
    assert record.exc_info is not None
    assert "Traceback" in caplog.text
