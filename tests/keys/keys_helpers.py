"""Making keys through the API, from tests."""

from __future__ import annotations

from typing import Any

import httpx


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


async def make_key(
    http: httpx.AsyncClient, admin: dict[str, str], scopes: list[str], **fields: Any
) -> dict[str, Any]:
    """A new key (``key`` holds its secret)."""
    response = await http.post(
        "/v1/keys", json={"name": "test", "scopes": scopes, **fields}, headers=admin
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["data"]
    return created
