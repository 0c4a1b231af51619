"""The broker port: carries "position N is committed" notices between Pliers processes.

Notices carry positions, never events: a process that hears one reads the events from the store,
so a lost notice delays delivery (until the next poll) but never loses an event.
"""

from __future__ import annotations

from typing import Protocol

CHANNEL = "pliers:events:committed"


class Listener(Protocol):
    """A live subscription to notices; iterating yields committed positions.

    Iteration raises :class:`pliers.errors.BrokerUnavailable` when the broker goes away; the
    caller closes the listener and asks the broker for a new one.
    """

    def __aiter__(self) -> Listener: ...

    async def __anext__(self) -> int: ...

    async def close(self) -> None: ...


class Broker(Protocol):
    async def publish(self, position: int) -> None:
        """Announce a committed position to every listener of every process."""
        ...

    async def listen(self) -> Listener:
        """Subscribe; notices published after this returns reach the listener."""
        ...

    async def ping(self) -> None: ...

    async def close(self) -> None: ...


__all__ = ["CHANNEL", "Broker", "Listener"]
