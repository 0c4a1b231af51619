"""``/v1/keys``: create, list and revoke API keys (scope ``keys:manage``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from pliers.api.auth import acting, requires
from pliers.api.deps import require_json, runtime
from pliers.api.envelope import ok
from pliers.keys import KeyRequest
from pliers.runtime import Runtime

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[Depends(require_json)])
RuntimeDep = Annotated[Runtime, Depends(runtime)]


@router.post("", status_code=201, summary="Create a key; its secret is in this answer only")
@requires("keys:manage")
async def create_key(body: KeyRequest, rt: RuntimeDep) -> Response:
    key, secret = await rt.keys.create(body, by=acting())
    wire = key.to_wire()
    data = {
        "id": key.id,
        "name": key.name,
        "scopes": wire["scopes"],
        "key": secret,
        "createdAt": wire["createdAt"],
        "expiresAt": wire["expiresAt"],
    }
    response = ok(data, 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("", summary="Every key, revoked ones included, without secrets")
@requires("keys:manage")
async def list_keys(rt: RuntimeDep) -> Response:
    keys = await rt.keys.list()
    return ok({"keys": [k.to_wire() for k in keys], "count": len(keys)})


@router.delete("/{key_id}", summary="Revoke a key, at once, in every server process")
@requires("keys:manage")
async def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=100)], rt: RuntimeDep
) -> Response:
    return ok((await rt.keys.revoke(key_id)).to_wire())
