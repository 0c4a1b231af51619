"""``pliers events tail``: follow the live stream of a running server in the terminal."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import typer
from rich.console import Console
from rich.markup import escape
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

events = typer.Typer(help="Work with the event stream of a running server.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def stream_url(base_url: str) -> str:
    """``http://host:port`` -> ``ws://host:port/v1/events/stream`` (https -> wss)."""
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {base_url!r}")
    path = parts.path.rstrip("/") + "/v1/events/stream"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def render(event: dict[str, Any]) -> str:
    payload = json.dumps(event.get("payload", {}), separators=(",", ":"), ensure_ascii=False)
    if len(payload) > 200:
        payload = payload[:197] + "..."
    return (
        f"[dim]{escape(str(event.get('position')))[:12]:>8}[/] "
        f"[cyan]{escape(str(event.get('recordedAt', '')))}[/] "
        f"[bold green]{escape(str(event.get('type')))}[/] "
        f"[magenta]{escape(str(event.get('aggregateType')))}[/]/"
        f"[yellow]{escape(str(event.get('aggregateId')))}[/]"
        f"[dim]#{escape(str(event.get('sequenceNumber')))}[/] "
        f"{escape(payload)}"
    )


async def follow(url: str, subscribe: dict[str, Any]) -> None:
    async with connect(url, open_timeout=5) as ws:
        await ws.send(json.dumps(subscribe))
        async for raw in ws:
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "event":
                out.print(render(message["data"]))
            elif kind == "subscription_confirmed":
                err.print(
                    f"[dim]following {escape(url)} {escape(json.dumps(message['filter']))}[/]"
                )
            elif kind == "error":
                raise typer.BadParameter(f"{message.get('code')}: {message.get('message')}")


@events.command()
def tail(
    types: Annotated[
        list[str] | None, typer.Option("--type", "-t", help="Only these event types (repeatable)")
    ] = None,
    aggregates: Annotated[
        list[str] | None,
        typer.Option("--aggregate", "-a", help="Only these aggregate ids (repeatable)"),
    ] = None,
    aggregate_types: Annotated[
        list[str] | None,
        typer.Option("--aggregate-type", help="Only these aggregate types (repeatable)"),
    ] = None,
    from_position: Annotated[
        int | None,
        typer.Option("--from-position", min=0, help="First print stored events after this"),
    ] = None,
    url: Annotated[
        str, typer.Option("--url", help="The server's base URL", envvar="PLIERS_URL")
    ] = "http://127.0.0.1:8000",
) -> None:
    """Print events as they are stored; Ctrl-C stops."""
    try:
        ws_url = stream_url(url)
    except ValueError as e:
        err.print(f"[bold red]error:[/] {escape(str(e))}")
        raise typer.Exit(2) from None
    filter_: dict[str, list[str]] = {}
    if types:
        filter_["eventTypes"] = types
    if aggregates:
        filter_["aggregateIds"] = aggregates
    if aggregate_types:
        filter_["aggregateTypes"] = aggregate_types
    message: dict[str, Any] = {"type": "subscribe", "filter": filter_}
    if from_position is not None:
        message["fromPosition"] = from_position
    try:
        asyncio.run(follow(ws_url, message))
    except KeyboardInterrupt:
        return
    except typer.BadParameter as e:
        err.print(
            f"[bold red]error:[/] the server refused the subscription: {escape(str(e))}",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
        reason = str(e) or type(e).__name__
        err.print(
            f"[bold red]error:[/] cannot reach Pliers at {escape(url)}: {escape(reason)}",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    except ConnectionClosed as e:
        err.print(
            f"[bold red]error:[/] the server closed the stream: {escape(str(e))}", soft_wrap=True
        )
        raise typer.Exit(1) from None
    err.print("[dim]the server ended the stream[/]")
