"""How much of the live stream one client address may hold: connections and subscriptions.

Without it one client with 100 connections of 100 subscriptions each turned 50 events into
500,000 messages and slowed every publish forty-fold. Addresses are the peer addresses the
server sees: behind a proxy that does not pass the client's own, all clients share one.
"""

from __future__ import annotations

from collections import Counter


class QuotaExceeded(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class StreamQuota:
    """Counts per client address (one per process; each process counts its own clients)."""

    def __init__(
        self,
        *,
        connections_per_client: int,
        subscriptions_per_client: int,
        subscriptions: int,
    ) -> None:
        self.connections_per_client = connections_per_client
        self.subscriptions_per_client = subscriptions_per_client
        self.subscriptions = subscriptions
        self._connections: Counter[str] = Counter()
        self._subscriptions: Counter[str] = Counter()
        self._total = 0

    def connect(self, client: str) -> None:
        if self._connections[client] >= self.connections_per_client:
            raise QuotaExceeded(
                f"at most {self.connections_per_client} stream connections per client address "
                "(PLIERS_STREAM_MAX_CONNECTIONS_PER_CLIENT)"
            )
        self._connections[client] += 1

    def disconnect(self, client: str) -> None:
        self._connections[client] -= 1
        if self._connections[client] <= 0:
            del self._connections[client]

    def subscribe(self, client: str) -> None:
        if self._subscriptions[client] >= self.subscriptions_per_client:
            raise QuotaExceeded(
                f"at most {self.subscriptions_per_client} subscriptions per client address "
                "(PLIERS_STREAM_MAX_SUBSCRIPTIONS_PER_CLIENT)"
            )
        if self._total >= self.subscriptions:
            raise QuotaExceeded(
                f"the server holds its limit of {self.subscriptions} subscriptions "
                "(PLIERS_STREAM_MAX_SUBSCRIPTIONS); try again later"
            )
        self._subscriptions[client] += 1
        self._total += 1

    def unsubscribe(self, client: str, count: int = 1) -> None:
        self._subscriptions[client] -= count
        self._total -= count
        if self._subscriptions[client] <= 0:
            del self._subscriptions[client]
