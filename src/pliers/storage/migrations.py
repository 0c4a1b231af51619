"""SQL migrations shipped in the package, in each backend's ``migrations`` folder, applied in name
order."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Literal

_NAME = re.compile(r"^\d{4}_[a-z0-9_]+\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(backend: str) -> list[Migration]:
    """The migrations of ``backend`` (``postgres`` or ``sqlite``) in the order they apply."""
    folder = resources.files(__package__).joinpath(backend, "migrations")
    found = [
        Migration(entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if _NAME.match(entry.name)
    ]
    return sorted(found, key=lambda m: m.name)


def fingerprint(backend: str) -> str:
    """One digest over every migration of a backend: changes whenever any file does."""
    digest = hashlib.sha256()
    for m in load(backend):
        digest.update(m.name.encode())
        digest.update(m.checksum.encode())
    return digest.hexdigest()


#: ``applied``: recorded and unchanged; ``pending``: shipped, not applied; ``changed``: applied,
#: but the shipped file differs from what was applied; ``unknown``: applied, no longer shipped.
State = Literal["applied", "pending", "changed", "unknown"]


@dataclass(frozen=True, slots=True)
class MigrationStatus:
    name: str
    state: State
    applied_at: str | None = None


def status(backend: str, applied: Mapping[str, tuple[str, str]]) -> list[MigrationStatus]:
    """Compare the shipped migrations with a database's record (name -> (checksum, applied at))."""
    shipped = {m.name: m for m in load(backend)}
    result: list[MigrationStatus] = []
    for name in sorted(shipped.keys() | applied.keys()):
        migration, record = shipped.get(name), applied.get(name)
        if record is None:
            result.append(MigrationStatus(name, "pending"))
            continue
        checksum, at = record
        if migration is None:
            result.append(MigrationStatus(name, "unknown", at))
        elif migration.checksum != checksum:
            result.append(MigrationStatus(name, "changed", at))
        else:
            result.append(MigrationStatus(name, "applied", at))
    return result
