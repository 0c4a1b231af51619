"""Pliers: an event-sourced forms platform and its integration-testing toolkit."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pliers-platform")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
