"""The live stream: ``WS /v1/events/stream`` fed by one store tailer per process."""

from pliers.stream.connection import Connection
from pliers.stream.hub import Hub, Subscription
from pliers.stream.protocol import StreamError, StreamFilter

__all__ = ["Connection", "Hub", "StreamError", "StreamFilter", "Subscription"]
