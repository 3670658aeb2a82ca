"""`/health`: 200 when the Source database answers, 503 when it does not."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api_service.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    summary="Liveness and database reachability",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "The Source database is down."}},
)
def health(request: Request) -> JSONResponse:
    try:
        with request.app.state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return JSONResponse({"status": "degraded", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
