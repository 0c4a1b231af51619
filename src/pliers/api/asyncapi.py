"""``/asyncapi.json``: the AsyncAPI 3.0 document of ``WS /v1/events/stream``.

The client messages are the models the stream parses them with (``stream.protocol``); the
server's messages are described here. The document describes the server: it *receives* what
clients send and *sends* events, confirmations and errors.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pliers.api.contract import EVENT_EXAMPLE
from pliers.api.schemas import StoredEvent
from pliers.errors import InvalidJSON, ServiceUnavailable
from pliers.stream.protocol import Ping, StreamFilter, Subscribe, Unsubscribe

CHANNEL = "/v1/events/stream"
COMPONENT = "#/components/schemas/{model}"

#: ``code`` values of ``error`` messages; the connection stays open after each.
ERROR_CODES = {
    InvalidJSON.code: "the message is not JSON",
    "INVALID_MESSAGE": "not an object with a known `type`, or a field breaks a rule",
    "UNKNOWN_TYPE": "a `type` other than subscribe, unsubscribe, ping",
    "INVALID_FILTER": "a filter value breaks a rule",
    "MESSAGE_TOO_LARGE": "a message over `PLIERS_STREAM_MAX_MESSAGE_BYTES`",
    "DUPLICATE_SUBSCRIPTION": "a `subscriptionId` already used on this connection",
    "TOO_MANY_SUBSCRIPTIONS": "more subscriptions on one connection than allowed",
    "SUBSCRIPTION_NOT_FOUND": "`unsubscribe` of an unknown `subscriptionId`",
    ServiceUnavailable.code: "the store is unreachable: subscribe again later",
}

DESCRIPTION = """\
The live stream of stored events, in position order.

**Resume rule.** A `subscribe` with `fromPosition` first delivers the stored matching events
after that position, then live ones, with no gap and no duplicate between the two. A client that
reconnects with the position of the last event it received loses nothing and sees nothing twice
(`pliers.client`'s `events.stream` and `pliers events tail` do exactly this).

**Errors.** A malformed or unknown message is answered with an `error` message; the connection
stays open.

**Close codes.** `1008` (policy violation): the client fell more than `PLIERS_STREAM_BUFFER`
messages behind; the reason says so. `1012` (service restart) or `1001` (going away): the server
is stopping; reconnect and resume. `1000`: a normal close.

**Authentication.** When authentication is on, the upgrade needs a key with `events:read`, in
`Authorization: Bearer <key>` or, for browsers, the `key` query parameter. Without it the upgrade
is refused.
"""


class SubscriptionConfirmed(BaseModel):
    """The subscription is served: live events reach it from now on."""

    type: Literal["subscription_confirmed"]
    subscription_id: str = Field(alias="subscriptionId")
    filter: StreamFilter
    from_position: int | None = Field(default=None, alias="fromPosition")


class EventMessage(BaseModel):
    """One stored event matching the subscription's filter."""

    type: Literal["event"]
    subscription_id: str = Field(alias="subscriptionId")
    data: StoredEvent


class Unsubscribed(BaseModel):
    type: Literal["unsubscribed"]
    subscription_id: str = Field(alias="subscriptionId")


class Pong(BaseModel):
    type: Literal["pong"]


class ErrorMessage(BaseModel):
    """A message the server could not act on; the connection stays open."""

    type: Literal["error"]
    code: str = Field(
        description="; ".join(f"`{code}`: {text}" for code, text in ERROR_CODES.items()),
        examples=list(ERROR_CODES),
    )
    message: str


#: name -> (model, title, example)
MESSAGES: dict[str, tuple[type[BaseModel], str, dict[str, Any]]] = {
    "subscribe": (
        Subscribe,
        "Subscribe to events matching a filter",
        {"type": "subscribe", "filter": {"eventTypes": ["form.created"]}, "fromPosition": 41},
    ),
    "unsubscribe": (
        Unsubscribe,
        "End a subscription",
        {"type": "unsubscribe", "subscriptionId": "s-1"},
    ),
    "ping": (Ping, "Ask for a pong", {"type": "ping"}),
    "subscriptionConfirmed": (
        SubscriptionConfirmed,
        "A subscription is served",
        {
            "type": "subscription_confirmed",
            "subscriptionId": "s-1",
            "filter": {"eventTypes": ["form.created"]},
            "fromPosition": 41,
        },
    ),
    "event": (
        EventMessage,
        "A stored event",
        {
            "type": "event",
            "subscriptionId": "s-1",
            "data": {**EVENT_EXAMPLE, "position": 42},
        },
    ),
    "unsubscribed": (
        Unsubscribed,
        "A subscription ended",
        {"type": "unsubscribed", "subscriptionId": "s-1"},
    ),
    "pong": (Pong, "The answer to a ping", {"type": "pong"}),
    "error": (
        ErrorMessage,
        "A message the server could not act on",
        {"type": "error", "code": "UNKNOWN_TYPE", "message": "unknown message type 'hello'"},
    ),
}


def _message_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/stream/messages/{name}"}


def build(version: str) -> dict[str, Any]:
    keys, top = models_json_schema(
        [(model, "validation") for model, _, _ in MESSAGES.values()],
        ref_template=COMPONENT,
        by_alias=True,
    )
    messages = {
        name: {
            "name": name,
            "title": title,
            "contentType": "application/json",
            "payload": keys[(model, "validation")],
            "examples": [{"payload": example}],
        }
        for name, (model, title, example) in MESSAGES.items()
    }

    def receive(name: str, summary: str, *replies: str) -> dict[str, Any]:
        operation: dict[str, Any] = {
            "action": "receive",
            "channel": {"$ref": "#/channels/stream"},
            "summary": summary,
            "messages": [_message_ref(name)],
        }
        if replies:
            operation["reply"] = {
                "channel": {"$ref": "#/channels/stream"},
                "messages": [_message_ref(r) for r in replies],
            }
        return operation

    def send(name: str, summary: str) -> dict[str, Any]:
        return {
            "action": "send",
            "channel": {"$ref": "#/channels/stream"},
            "summary": summary,
            "messages": [_message_ref(name)],
        }

    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Pliers live stream",
            "version": version,
            "description": DESCRIPTION,
            "license": {"name": "MIT"},
            "externalDocs": {"description": "The HTTP API (OpenAPI)", "url": "/openapi.json"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:8000",
                "protocol": "ws",
                "description": "`pliers serve` on its default address",
            }
        },
        "channels": {
            "stream": {
                "address": CHANNEL,
                "title": "Stored events, live",
                "messages": messages,
                "bindings": {
                    "ws": {
                        "method": "GET",
                        "query": {
                            "type": "object",
                            "properties": {
                                "key": {
                                    "type": "string",
                                    "description": "an API key, for browsers that cannot set "
                                    "headers (never logged)",
                                }
                            },
                        },
                    }
                },
            }
        },
        "operations": {
            "subscribe": receive(
                "subscribe",
                "Subscribe; stored events after `fromPosition` come first, then live ones",
                "subscriptionConfirmed",
                "error",
            ),
            "unsubscribe": receive("unsubscribe", "End a subscription", "unsubscribed", "error"),
            "ping": receive("ping", "Check the connection", "pong"),
            "sendEvent": send("event", "Each stored event matching a subscription, in order"),
            "sendError": send("error", "What the server could not act on"),
        },
        "components": {"schemas": top.get("$defs", {})},
    }


def install(app: FastAPI) -> None:
    """Serve the document at ``/asyncapi.json`` (built once, on first request)."""
    built: dict[str, Any] = {}

    async def document(request: Request) -> Response:
        if not built:
            built.update(build(app.version))
        return JSONResponse(built)

    app.add_route("/asyncapi.json", document, methods=["GET"], include_in_schema=False)
