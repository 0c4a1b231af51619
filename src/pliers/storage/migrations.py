"""SQL migrations shipped in the package, in each backend's ``migrations`` folder, applied in name
order."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

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
