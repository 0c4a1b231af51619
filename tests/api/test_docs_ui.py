"""``/docs`` works with no network: the page and every asset it loads come from the server."""

from __future__ import annotations

import re

import httpx
import pytest

pytestmark = pytest.mark.integration


async def test_docs_page_loads_only_assets_the_server_serves(client: httpx.AsyncClient) -> None:
    """Every script, stylesheet and icon of the page is a relative URL the server answers."""
    page = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert urls, page.text
    assert 'url: "openapi.json"' in page.text
    for url in urls:
        assert "//" not in url, f"{url} would need the network"
        asset = await client.get(f"/{url}")
        assert asset.status_code == 200, url
        assert len(asset.content) > 500, url
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in bundle.text
    licence = await client.get("/docs/assets/LICENSE")
    assert "Apache License" in licence.text


async def test_docs_assets_outside_the_list_are_not_served(client: httpx.AsyncClient) -> None:
    for name in ("swagger-editor-bundle.js", "..%2F__init__.py", "index.css"):
        response = await client.get(f"/docs/assets/{name}")
        assert response.status_code == 404, name
        assert response.json()["success"] is False
    assert (await client.get("/redoc")).status_code == 404
