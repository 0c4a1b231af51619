"""The key store port: one adapter per database backend (:mod:`pliers.storage`)."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from pliers.keys.model import ApiKey


class KeyWatch(Protocol):
    """Told by :meth:`KeyStore.watch` what the keys of other processes are doing."""

    def listening(self) -> None:
        """From now on, every change in any process is signalled."""

    def changed(self) -> None:
        """A key was created or revoked (in any process)."""

    def lost(self) -> None:
        """Changes are no longer signalled, until :meth:`listening` is called again."""


class KeyStore(Protocol):
    async def insert(self, key: ApiKey) -> None: ...

    async def get(self, key_id: str) -> ApiKey | None: ...

    async def list(self) -> list[ApiKey]:
        """Every key, revoked ones included, oldest first."""
        ...

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked (a revoked key keeps its first revocation time); None: unknown."""
        ...

    async def exists(self) -> bool:
        """Was any key ever created? (Revoked ones count: revoking keys never turns
        authentication off.)"""
        ...

    async def watch(self, watch: KeyWatch) -> None:
        """Signal key changes of every process to ``watch`` until cancelled.

        Returns at once where the backend has no cross-process signal; the service then trusts
        what it remembers for a bounded time only.
        """
        ...
