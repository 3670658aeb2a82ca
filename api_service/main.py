"""The Conektor application: `uvicorn api_service.main:app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from api_service.db import make_engine
from api_service.routers import data, health
from api_service.settings import ApiSettings


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    """Build the app; the engine is made at start-up, so importing this connects to nothing."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings or ApiSettings()
        app.state.engine = make_engine(app.state.settings.db_url, app.state.settings.pool_size)
        yield
        app.state.engine.dispose()

    app = FastAPI(
        title="Conektor",
        description="Read-only access to the wind-turbine Source database.",
        version="1.0.0",
        lifespan=lifespan,
    )
    app.include_router(data.router)
    app.include_router(health.router)

    @app.exception_handler(DBAPIError)
    @app.exception_handler(PoolTimeoutError)
    async def database_unavailable(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Connection failures and pool exhaustion are the database's state, not the client's fault.
        return JSONResponse({"detail": "source database unavailable"}, status_code=503)

    return app


app = create_app()
