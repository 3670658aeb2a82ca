"""The Conektor application: `uvicorn api_service.main:app`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from api_service.db import make_engine
from api_service.docs_ui import add_docs
from api_service.http import HeadAsGet
from api_service.routers import data, health, metadata
from api_service.settings import ApiConfigurationError, ApiSettings, load_api_settings

log = logging.getLogger("api_service")

DESCRIPTION = """
Read-only access to the wind-turbine Source database (table `data`: one row a minute of
`wind_speed`, `power` and `ambient_temperature`).

- `GET /data`: rows in a time range, as JSON records, JSON columns or CSV, paged by a keyset
  cursor for ranges of any length.
- `GET /coverage`: the period the Source holds. `GET /variables`: what `/data` accepts.
- `GET /health`: 200 when the database answers, 503 when it does not.

Every GET route also answers HEAD (same status and headers, no body). Paths are exact: a
trailing slash is a 404, never a redirect built from the request's `Host`.

Bad input gets a 422 whose `detail` says what is wrong; an unavailable database a 503 with a
JSON body. The API connects as a read-only role.
"""


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the engine is made at start-up, so importing this connects to nothing."""
    settings = settings or load_api_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.engine = make_engine(
            app.state.settings.db_url,
            app.state.settings.pool_size,
            app.state.settings.statement_timeout_ms,
        )
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="Conektor",
        description=DESCRIPTION,
        version="1.1.0",
        lifespan=lifespan,
        # Starlette's slash redirects build an absolute Location from the Host header.
        redirect_slashes=False,
        # FastAPI's pages load their assets from a CDN; add_docs serves them from the API.
        docs_url=None,
        redoc_url=None,
    )
    if settings.cors_origin_list:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "HEAD"],
            allow_credentials=False,
        )
    app.include_router(data.router)
    app.include_router(metadata.router)
    app.include_router(health.router)
    add_docs(app)
    app.add_middleware(HeadAsGet)

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            data.document_rules(schema, settings.max_range_days)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeoutError)
    async def database_unavailable(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Connection failures, a server going away mid-query, statement timeouts and pool
        # exhaustion are the database's state, not the client's fault.
        log.warning("source database unavailable: %s", str(exc).splitlines()[0])
        return JSONResponse({"detail": "source database unavailable"}, status_code=503)

    return app


try:
    app = create_app()
except ApiConfigurationError as exc:
    # One line naming the variable, instead of uvicorn's traceback.
    raise SystemExit(f"conektor: {exc}") from None
