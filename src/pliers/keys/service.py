"""Creating, listing and revoking keys, and resolving a presented secret to a :class:`Principal`.

Resolving runs on every request, so what a key resolves to is remembered in the process, keyed by
the secret's digest (an attacker controls no bit of a dict lookup on a SHA-256 digest). What is
remembered is dropped at once when any process creates or revokes a key, where the store can
signal that (PostgreSQL ``LISTEN``), and is trusted for ``cache_seconds`` at most in any case: the
bound for a key revoked by another process where no signal exists (``pliers keys revoke`` next to
a server on SQLite). A key revoked through this process's API is refused by it at once, always.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from datetime import UTC, datetime

from pliers.errors import Forbidden, KeyNotFound, ValidationError
from pliers.keys import tokens
from pliers.keys.model import ADMIN, LOCAL, ApiKey, KeyRequest, Principal
from pliers.keys.store import KeyStore

log = logging.getLogger(__name__)

#: Remembered keys per process; past this the memory is emptied (it refills from the store).
MAX_REMEMBERED = 10_000


class KeyService:
    def __init__(self, store: KeyStore, *, admin_key: str | None, cache_seconds: float) -> None:
        self.store = store
        self._admin = tokens.digest(admin_key) if admin_key else None
        self._ttl = cache_seconds
        #: secret digest -> (principal, monotonic time until which it is trusted)
        self._known: dict[str, tuple[Principal, float]] = {}
        #: authentication is on for good once a key exists (keys are revoked, never deleted)
        self._enabled = self._admin is not None
        #: until when "no key exists" is trusted
        self._disabled_until = -math.inf
        #: bumped by every change, so a lookup that raced a revocation is not remembered
        self._generation = 0
        self._watcher: asyncio.Task[None] | None = None
        self._may_watch = False

    # --- the watch (see KeyStore.watch) -------------------------------------------------------

    def listening(self) -> None:
        self.changed()

    def changed(self) -> None:
        self._generation += 1
        self._known.clear()
        self._disabled_until = -math.inf

    def lost(self) -> None:
        self.changed()

    async def start(self) -> None:
        """Learn whether authentication is on; follow other processes' changes from the first
        stored key this process remembers (before that there is nothing to forget, and a process
        that never sees one, as with the admin key alone, keeps no listening connection)."""
        self._may_watch = True
        await self.enabled()

    def _follow_changes(self) -> None:
        if self._may_watch and self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="pliers-keys-watch")

    async def _watch(self) -> None:
        try:
            await self.store.watch(self)
        except asyncio.CancelledError:
            raise
        except Exception:  # the bounded trust still holds; say why instant revocation stopped
            log.exception("stopped following key changes of other processes")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher

    # --- resolving ----------------------------------------------------------------------------

    async def enabled(self) -> bool:
        """Is authentication on: an admin key is set, or a key was ever created?"""
        if self._enabled:
            return True
        now = time.monotonic()
        if now < self._disabled_until:
            return False
        generation = self._generation
        exists = await self.store.exists()
        if exists:
            self._enabled = True
        elif generation == self._generation:
            self._disabled_until = now + self._ttl
        return exists

    async def resolve(self, secret: str | None) -> Principal | None:
        """Who ``secret`` acts as; None for no secret, or an unknown, revoked or expired one.

        With authentication off, everyone is :data:`~pliers.keys.model.LOCAL`.
        """
        if not self._enabled and not await self.enabled():
            return LOCAL
        if secret is None:
            return None
        given = tokens.digest(secret)
        principal = self._trusted(given) or await self._look_up(secret, given, time.monotonic())
        return None if principal is None or _expired(principal) else principal

    def remembered(self, secret: str | None) -> Principal | None:
        """What :meth:`resolve` answers for ``secret`` when that is known without the store:
        the admin, a key remembered and still trusted, or :data:`~pliers.keys.model.LOCAL` while
        authentication is known to be off. None otherwise (for a refused key too): ask
        :meth:`resolve`."""
        if not self._enabled:
            return LOCAL if time.monotonic() < self._disabled_until else None
        if secret is None:
            return None
        principal = self._trusted(tokens.digest(secret))
        return None if principal is None or _expired(principal) else principal

    def _trusted(self, given: str) -> Principal | None:
        """The admin, or the key remembered and still trusted, by its secret's digest."""
        if self._admin is not None and tokens.same_digest(given, self._admin):
            return ADMIN
        found = self._known.get(given)
        return found[0] if found is not None and found[1] > time.monotonic() else None

    async def _look_up(self, secret: str, given: str, now: float) -> Principal | None:
        key_id = tokens.key_id_of(secret)
        if key_id is None:
            return None
        generation = self._generation
        key = await self.store.get(key_id)
        if key is None or key.revoked_at is not None or not tokens.same_digest(key.digest, given):
            return None
        expires = key.expires_at.timestamp() if key.expires_at is not None else None
        principal = Principal(key.id, frozenset(key.scopes), expires)
        self._follow_changes()
        if generation == self._generation:
            if len(self._known) >= MAX_REMEMBERED:
                self._known.clear()
            self._known[given] = (principal, now + self._ttl)
        return principal

    # --- managing -----------------------------------------------------------------------------

    async def create(self, request: KeyRequest, *, by: Principal) -> tuple[ApiKey, str]:
        """A new key and its secret (shown once: only its digest is kept).

        A key grants no scope its creator lacks, so ``keys:manage`` alone cannot mint a key
        that reads submissions.
        """
        missing = sorted(set(request.scopes) - by.scopes)
        if missing:
            raise Forbidden(
                f"a key cannot grant scopes its creator does not have: {', '.join(missing)}"
            )
        now = datetime.now(UTC)
        if request.expires_at is not None and request.expires_at <= now:
            raise ValidationError(
                "Key validation failed: expiresAt is in the past",
                details=[{"field": "expiresAt", "rule": "future", "message": "must be later"}],
            )
        key_id = tokens.new_id()
        secret = tokens.new_secret(key_id)
        key = ApiKey(
            id=key_id,
            name=request.name,
            scopes=tuple(dict.fromkeys(request.scopes)),
            digest=tokens.digest(secret),
            created_at=now,
            expires_at=request.expires_at,
        )
        await self.store.insert(key)
        self._enabled = True
        return key, secret

    async def list(self) -> list[ApiKey]:
        return await self.store.list()

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke at once in this process; other processes hear of it through the store."""
        revoked = None
        if tokens.is_key_id(key_id):
            revoked = await self.store.revoke(key_id, datetime.now(UTC))
        self.changed()
        if revoked is None:
            raise KeyNotFound(f"key {key_id!r} not found")
        return revoked


def _expired(principal: Principal) -> bool:
    return principal.expires_at is not None and principal.expires_at <= time.time()
