"""`create_app(settings)`: the FastAPI app, built from its dependencies so tests can too."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from assistant.errors import (
    BackendNotConfigured,
    BackendUnavailable,
    ConfigError,
    Conflict,
    FetchError,
    Forbidden,
    IndexNotReady,
    IngestError,
    InvalidQuestion,
    NotFound,
    StackGuideError,
    TooLarge,
    Unsupported,
)
from assistant.server import routes_ask, routes_documents, routes_openai, routes_ops
from assistant.server.metrics import Metrics
from assistant.server.middleware import BodyLimit, RateLimiter, RequestContext
from assistant.server.owners import TOKEN_HEADER
from assistant.service import Assistant
from assistant.settings import Settings, load_settings

log = logging.getLogger(__name__)
STATUS = {
    InvalidQuestion: 422, BackendNotConfigured: 422, NotFound: 404, IndexNotReady: 503,
    BackendUnavailable: 503, Forbidden: 403, Conflict: 409, Unsupported: 415, TooLarge: 413,
    FetchError: 422, IngestError: 422,
}  # fmt: skip


def _error(status: int, kind: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"type": kind, "message": message}}, status_code=status, headers=headers
    )


def create_app(settings: Settings | None = None, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or (assistant.settings if assistant else load_settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.admin_keys:  # a write cut short (kill -9) is finished on start
            app.state.assistant.documents.recover()
        yield
        for hook in app.state.on_shutdown:
            hook()

    app = FastAPI(
        title="StackGuide",
        version="0.1.0",
        description="Cited answers to backend stack questions, from the corpus only.",
        lifespan=lifespan,
        docs_url=None,  # served by routes_ops, behind the API keys unless public_ops
        redoc_url=None,
        openapi_url=None,
    )
    app.state.on_shutdown = []
    app.state.settings = settings
    app.state.assistant = assistant or Assistant(settings)
    if assistant is None:  # made here, so released here
        app.state.on_shutdown.append(app.state.assistant.close)
    app.state.metrics = Metrics()
    limit = settings.rate_limit_per_minute
    app.state.rate_limiter = RateLimiter(limit) if limit else None

    app.include_router(routes_ask.router)
    app.include_router(routes_openai.router)
    app.include_router(routes_documents.router)
    app.include_router(routes_ops.router)
    if settings.slack_http:  # Slack's Events API, slash command and buttons at /slack/*
        from assistant.slack.app import mount as mount_slack

        mount_slack(app, settings, app.state.assistant)

    @app.exception_handler(StackGuideError)
    async def _stackguide_error(request: Request, exc: StackGuideError) -> JSONResponse:
        status = next((s for t, s in STATUS.items() if isinstance(exc, t)), 500)
        if status >= 500:
            request.app.state.metrics.errors.labels(kind=type(exc).__name__).inc()
            if isinstance(exc, ConfigError):
                log.error("configuration error: %s", exc)
        return _error(status, type(exc).__name__, str(exc))

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return _error(422, "invalid_request", problems)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        request.app.state.metrics.errors.labels(kind="internal").inc()
        return _error(500, "internal", "internal error; see the server log")

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST",
            "DELETE"], allow_headers=["Authorization", "X-API-Key", "Content-Type",
            TOKEN_HEADER],
        )  # fmt: skip
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes,
                       larger={"/v1/documents": settings.max_upload_bytes})  # fmt: skip
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    if settings.otlp_endpoint:
        from assistant.server.tracing import instrument

        instrument(app, settings.otlp_endpoint)
    return app


def app_from_env() -> FastAPI:
    """For `uvicorn --factory` (several workers): settings from the environment."""
    return create_app(load_settings())
