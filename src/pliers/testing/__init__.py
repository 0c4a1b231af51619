"""``pliers.testing``: a pytest plugin for real-dependency integration tests of Pliers apps.

Names are imported on first use: pytest loads this package (the plugin's entry point) before
coverage starts, and anything imported that early would look untested.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pliers.testing.apps import LiveServer, client_for, running_runtime, serve
    from pliers.testing.email import MockEmailProvider, ProviderCall
    from pliers.testing.factories import EventFactory, FormBuilder
    from pliers.testing.postgres import TestDatabase
    from pliers.testing.redis import TestCache

_WHERE = {
    "EventFactory": "pliers.testing.factories",
    "FormBuilder": "pliers.testing.factories",
    "LiveServer": "pliers.testing.apps",
    "MockEmailProvider": "pliers.testing.email",
    "ProviderCall": "pliers.testing.email",
    "TestCache": "pliers.testing.redis",
    "TestDatabase": "pliers.testing.postgres",
    "client_for": "pliers.testing.apps",
    "running_runtime": "pliers.testing.apps",
    "serve": "pliers.testing.apps",
}

__all__ = [
    "EventFactory",
    "FormBuilder",
    "LiveServer",
    "MockEmailProvider",
    "ProviderCall",
    "TestCache",
    "TestDatabase",
    "client_for",
    "running_runtime",
    "serve",
]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
