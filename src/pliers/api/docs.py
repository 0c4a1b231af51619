"""``/docs``: Swagger UI over ``/openapi.json``, served from the installed package, with no network.

The assets come from the ``swagger-ui-py`` distribution (Swagger UI 5, which reads OpenAPI 3.1,
under the Apache 2.0 licence served beside them at ``/docs/assets/LICENSE``).
"""

from __future__ import annotations

from pathlib import Path

import swagger_ui  # type: ignore[import-untyped]  # ships no type information
from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from pliers.errors import NotFound

ASSETS = Path(swagger_ui.__file__).parent / "static"
#: The files the page loads, and the licence they ship under; nothing else is served.
SERVED = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain",
}

# Relative URLs, so the page works behind a reverse proxy that mounts Pliers under a prefix.
PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Pliers API</title>
  <link rel="icon" type="image/png" href="docs/assets/favicon-32x32.png">
  <link rel="stylesheet" href="docs/assets/swagger-ui.css">
  <style>body { margin: 0; }</style>
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/assets/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: "openapi.json",
      dom_id: "#swagger-ui",
      deepLinking: true,
      defaultModelsExpandDepth: 0,
      presets: [SwaggerUIBundle.presets.apis],
    });
  </script>
</body>
</html>
"""


async def page(request: Request) -> Response:
    return HTMLResponse(PAGE)


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    media_type = SERVED.get(name)
    if media_type is None:
        raise NotFound(f"no documentation asset {name!r}")
    return FileResponse(
        ASSETS / name, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )


def install(app: FastAPI) -> None:
    app.add_route("/docs", page, methods=["GET"], include_in_schema=False)
    app.add_route("/docs/assets/{name}", asset, methods=["GET"], include_in_schema=False)
