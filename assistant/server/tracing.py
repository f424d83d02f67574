"""Optional OpenTelemetry traces, exported over OTLP/HTTP when an endpoint is configured.

One span per request, named by its route, with the answer's timings and refusal added
by the routes (`annotate`). Needs the `otel` extra (opentelemetry-sdk and the OTLP/HTTP
exporter); without an endpoint nothing here is imported.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from assistant.errors import ConfigError


def instrument(app: FastAPI, endpoint: str) -> None:
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError as exc:
        raise ConfigError(
            "STACKGUIDE_OTLP_ENDPOINT is set but OpenTelemetry is not installed: "
            "pip install 'stackguide[otel]'"
        ) from exc
    provider = TracerProvider(resource=Resource.create({"service.name": "stackguide"}))
    exporter = OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces", timeout=5)
    provider.add_span_processor(BatchSpanProcessor(exporter))
    app.state.tracer_provider = provider
    app.add_middleware(_Tracing, tracer=provider.get_tracer("stackguide"))
    app.state.on_shutdown.append(provider.shutdown)  # flushes the last spans


class _Tracing:
    def __init__(self, app: ASGIApp, tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        with self.tracer.start_as_current_span(f"{scope['method']} {scope['path']}") as span:
            span.set_attribute("http.request.method", scope["method"])
            span.set_attribute("url.path", scope["path"])

            async def send_status(message) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_status)
            route = getattr(scope.get("route"), "path", None)
            if route:
                span.update_name(f"{scope['method']} {route}")
                span.set_attribute("http.route", route)


def annotate(answer) -> None:
    """Put the answer's timings and outcome on the current span (a no-op without one)."""
    try:
        from opentelemetry import trace
    except ImportError:  # pragma: no cover
        return
    span = trace.get_current_span()
    if not span.is_recording():
        return
    span.set_attribute("stackguide.refused", answer.refused)
    span.set_attribute("stackguide.backend", answer.backend)
    span.set_attribute("stackguide.citations", len(answer.citations))
    for name, ms in answer.timings_ms.items():
        span.set_attribute(f"stackguide.{name}_ms", float(ms))
