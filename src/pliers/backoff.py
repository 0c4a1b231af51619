"""Reconnecting until it holds: retries without an end, after growing, jittered pauses."""

from __future__ import annotations

from collections.abc import AsyncIterable

import stamina


def forever(on: type[Exception], **waits: float) -> AsyncIterable[stamina.Attempt]:
    """Attempts (``async for attempt in forever(...): with attempt: ...``) that go on while the
    block raises ``on``, with no attempt count nor overall timeout; ``waits`` are stamina's
    (``wait_initial``, ``wait_max``, ``wait_jitter``: the pause doubles from the first to the
    most, plus up to the jitter at random)."""
    return stamina.retry_context(on=on, attempts=None, timeout=None, **waits)
