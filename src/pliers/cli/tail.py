"""``pliers events tail``: follow the live stream of a running server in the terminal."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from websockets.exceptions import InvalidHandshake, InvalidURI

from pliers.client.errors import PliersAPIError, StreamError
from pliers.client.stream import EventStream, stream_url

events = typer.Typer(help="Work with the event stream of a running server.", no_args_is_help=True)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


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


async def follow(
    base_url: str,
    filter_: dict[str, list[str]],
    from_position: int | None,
    as_json: bool,
    key: str | None = None,
) -> None:
    """Print events until interrupted, through drops and restarts of the server."""

    def subscribed(confirmation: dict[str, Any]) -> None:
        filtered = escape(json.dumps(confirmation.get("filter", {})))
        err.print(f"[dim]following {escape(stream.url)} {filtered}[/]")

    def dropped() -> None:
        after = "the start" if stream.position is None else f"position {stream.position}"
        err.print(f"[dim]connection lost; reconnecting to resume after {after}[/]")

    stream = EventStream(
        base_url,
        api_key=key,
        filter=filter_,
        from_position=from_position,
        wait_for_server=False,
        on_subscribed=subscribed,
        on_dropped=dropped,
    )
    async for event in stream:
        if as_json:
            # plain print: rich would turn a ":name:" in a payload into an emoji
            print(event.model_dump_json(by_alias=True), flush=True)
        else:
            out.print(render(event.model_dump(mode="json", by_alias=True)))


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
    key: Annotated[
        str | None,
        typer.Option("--key", help="An API key with events:read", envvar="PLIERS_API_KEY"),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per event and line, as stored")
    ] = False,
) -> None:
    """Print events as they are stored; Ctrl-C stops.

    When the connection drops or the server restarts, tail reconnects and carries on after the
    last event it printed: nothing is missed or printed twice.
    """
    try:
        stream_url(url)
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
    try:
        asyncio.run(follow(url, filter_, from_position, as_json, key))
    except KeyboardInterrupt:
        return
    except StreamError as e:
        err.print(
            f"[bold red]error:[/] the server refused the subscription: "
            f"{escape(e.code)}: {escape(e.message)}",
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    except PliersAPIError as e:
        err.print(f"[bold red]error:[/] the server refused the stream: {escape(str(e))}")
        raise typer.Exit(1) from None
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as e:
        reason = str(e) or type(e).__name__
        err.print(
            f"[bold red]error:[/] cannot reach Pliers at {escape(url)}: {escape(reason)}",
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
