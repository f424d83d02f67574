"""Health, readiness, Prometheus metrics, and the web chat page."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import APIRouter, Depends, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from assistant.errors import StackGuideError
from assistant.server.deps import AssistantDep, MetricsDep
from assistant.server.middleware import require_api_key

router = APIRouter(tags=["ops"])


async def ops_access(request: Request) -> None:
    """What the API says about itself (metrics, the schema) is the keys' business too,
    unless `public_ops` opens it."""
    if not request.app.state.settings.public_ops:
        await require_api_key(request)


OpsGuard = [Depends(ops_access)]
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


@router.get("/metrics", dependencies=OpsGuard)
def metrics(m: MetricsDep) -> Response:
    return Response(generate_latest(m.registry), media_type=CONTENT_TYPE_LATEST)


# FastAPI's own /docs, /redoc and /openapi.json are off (see create_app): these are them,
# behind the same guard.
@router.get("/openapi.json", include_in_schema=False, dependencies=OpsGuard)
def openapi(request: Request) -> JSONResponse:
    return JSONResponse(request.app.openapi())


@router.get("/docs", include_in_schema=False, dependencies=OpsGuard)
def docs(request: Request) -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="openapi.json", title=f"{request.app.title} API")


@router.get("/redoc", include_in_schema=False, dependencies=OpsGuard)
def redoc(request: Request) -> HTMLResponse:
    return get_redoc_html(openapi_url="openapi.json", title=f"{request.app.title} API")


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    return FileResponse(WEB / "index.html", media_type="text/html")
