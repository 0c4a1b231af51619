"""Key secrets: how they are made, recognised and stored.

A secret is ``plk_<key id>_<32 random bytes, base64url>``. The prefix lets secret scanners and
people recognise a leaked key; the id lets the server find the one row to compare against.

Only a SHA-256 digest of the secret is stored. A slow password hash (bcrypt, argon2) exists to make
guessing low-entropy passwords expensive; a 256-bit random secret cannot be guessed, so a fast hash
loses nothing and keeps checking a key cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

PREFIX = "plk_"
_ID_BYTES = 8
_SECRET_BYTES = 32
_TOKEN = re.compile(rf"{PREFIX}([0-9a-f]{{{2 * _ID_BYTES}}})_[A-Za-z0-9_-]{{43}}")


def new_id() -> str:
    return secrets.token_hex(_ID_BYTES)


def new_secret(key_id: str) -> str:
    return f"{PREFIX}{key_id}_{secrets.token_urlsafe(_SECRET_BYTES)}"


def key_id_of(token: str) -> str | None:
    """The key id inside a well-formed secret; None for anything else."""
    found = _TOKEN.fullmatch(token)
    return found.group(1) if found else None


def digest(token: str) -> str:
    """What is stored of a secret (hex SHA-256)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def same_digest(a: str, b: str) -> bool:
    """Constant-time comparison of two digests."""
    return hmac.compare_digest(a.encode(), b.encode())


def is_key_id(value: str) -> bool:
    return len(value) == 2 * _ID_BYTES and all(c in "0123456789abcdef" for c in value)
