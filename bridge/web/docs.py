"""/openapi.json, /docs and /redoc: the API's schema, for admins only.

FastAPI serves them to anyone by default; here they exist only when the admin API is on and
answer only to its bearer token (404 without a token configured, 401 for a wrong one). A
browser does not send that header when the page's script fetches a schema URL, so both pages
carry the schema inline instead of pointing at /openapi.json.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse

from bridge.web.admin import AdminAuth

router = APIRouter(include_in_schema=False)
CDN = "https://cdn.jsdelivr.net/npm"

SWAGGER = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="{cdn}/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{cdn}/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{spec: {spec}, dom_id: "#swagger-ui"}});</script>
</body></html>
"""

REDOC = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title></head>
<body><div id="redoc"></div>
<script src="{cdn}/redoc@2/bundles/redoc.standalone.js"></script>
<script>Redoc.init({spec}, {{}}, document.getElementById("redoc"));</script>
</body></html>
"""


def _schema(request: Request) -> dict[str, Any]:
    return request.app.openapi()  # type: ignore[no-any-return]


def _inline(schema: dict[str, Any]) -> str:
    """The schema as a JS literal that cannot end the <script> element it sits in."""
    return json.dumps(schema).replace("<", "\\u003c").replace(">", "\\u003e")


def _page(template: str, request: Request) -> HTMLResponse:
    schema = _schema(request)
    title = str(schema.get("info", {}).get("title", "API")).replace("<", "&lt;")
    return HTMLResponse(template.format(title=title, cdn=CDN, spec=_inline(schema)))


@router.get("/openapi.json")
async def openapi(request: Request, _: AdminAuth) -> JSONResponse:
    return JSONResponse(_schema(request))


@router.get("/docs")
async def swagger(request: Request, _: AdminAuth) -> HTMLResponse:
    return _page(SWAGGER, request)


@router.get("/redoc")
async def redoc(request: Request, _: AdminAuth) -> HTMLResponse:
    return _page(REDOC, request)
