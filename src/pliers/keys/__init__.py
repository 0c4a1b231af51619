"""API keys: scopes, the key model, the storage port and the service that checks keys.

Domain code: it imports no web framework, driver or Redis client. The HTTP side (the middleware
that resolves a key per request, the per-route scope check) is :mod:`pliers.api.auth`.
"""

from pliers.keys.model import ADMIN_ACTOR, ApiKey, KeyRequest, Principal
from pliers.keys.scopes import SCOPES, Scope
from pliers.keys.service import KeyService
from pliers.keys.store import KeyStore, KeyWatch

__all__ = [
    "ADMIN_ACTOR",
    "SCOPES",
    "ApiKey",
    "KeyRequest",
    "KeyService",
    "KeyStore",
    "KeyWatch",
    "Principal",
    "Scope",
]
