"""Dependencies shared by the routers."""

from __future__ import annotations

from email.message import Message

from fastapi import Request

from pliers.errors import UnsupportedMediaType
from pliers.runtime import Runtime


async def runtime(request: Request) -> Runtime:
    """The process's Runtime (async: FastAPI would run a plain function in a thread pool)."""
    rt: Runtime = request.app.state.runtime
    return rt


async def require_json(request: Request) -> None:
    """Refuse a body that declares a type other than JSON (415)."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    declared = request.headers.get("content-type")
    if declared is None:
        return  # no declared type: the body is parsed as JSON
    header = Message()
    header["content-type"] = declared
    subtype = header.get_content_subtype()
    if header.get_content_maintype() != "application" or not (
        subtype == "json" or subtype.endswith("+json")
    ):
        raise UnsupportedMediaType(
            f"this endpoint accepts application/json, not {header.get_content_type()}"
        )
