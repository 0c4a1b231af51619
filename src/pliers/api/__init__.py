"""The HTTP and WebSocket layer."""

from pliers.api.app import create_app

__all__ = ["create_app"]
