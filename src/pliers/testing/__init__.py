"""``pliers.testing``: a pytest plugin for real-dependency integration tests of Pliers apps."""

from pliers.testing.email import MockEmailProvider, ProviderCall
from pliers.testing.factories import EventFactory, FormBuilder
from pliers.testing.plugin import LiveServer, TestCache, client_for, running_runtime, serve
from pliers.testing.postgres import TestDatabase

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
