"""`/docs` (Swagger UI) and `/redoc` with their scripts, styles and favicon served by the API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# FastAPI's own pages load their assets from a CDN, so they are blank on a machine without
# internet. The fastapi-offline wheel ships the same bundles (Swagger UI 5, which reads
# OpenAPI 3.1, and ReDoc 2); only its files are used, not its app factory.
ASSETS_PACKAGE = ("fastapi_offline", "static")
ASSETS_URL = "/docs/static"
DOCS_URL = "/docs"
REDOC_URL = "/redoc"
FAVICON = "favicon.png"


def add_docs(app: FastAPI) -> None:
    """Serve the docs pages on `app`, which must have been made with docs_url=redoc_url=None."""
    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")
    oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
            init_oauth=app.swagger_ui_init_oauth,
            # Swagger UI's default validator is swagger.io's online one: never call out.
            swagger_ui_parameters={**(app.swagger_ui_parameters or {}), "validatorUrl": None},
        )

    if oauth2_redirect_url:

        @app.get(oauth2_redirect_url, include_in_schema=False)
        async def swagger_ui_oauth2_redirect() -> HTMLResponse:
            return get_swagger_ui_oauth2_redirect_html()

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = _root_path(request)
        return get_redoc_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_URL}/{FAVICON}",
            with_google_fonts=False,
        )


def _root_path(request: Request) -> str:
    # Paths, never `request.url_for`: that builds an absolute URL from the Host header.
    return request.scope.get("root_path", "").rstrip("/")
