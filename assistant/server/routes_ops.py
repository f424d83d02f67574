"""Health, readiness, Prometheus metrics, and the web chat page."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from assistant.errors import StackGuideError
from assistant.server.deps import AssistantDep, MetricsDep

router = APIRouter(tags=["ops"])
WEB = Path(__file__).parent / "web"


@router.get("/healthz")
def healthz() -> dict:
    """The process is up (says which worker answered)."""
    return {"status": "ok", "pid": os.getpid()}


@router.get("/readyz")
def readyz(assistant: AssistantDep) -> JSONResponse:
    """The index is present and loadable."""
    try:
        lexical = assistant.ready()
    except StackGuideError as exc:
        return JSONResponse({"status": "not ready", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready", "chunks": len(lexical.ids)})


@router.get("/metrics")
def metrics(m: MetricsDep) -> Response:
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(WEB / "index.html", media_type="text/html")
