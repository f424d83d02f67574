"""With an OTLP endpoint configured, each request is exported as a span to it."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from assistant.server.app import create_app
from assistant.service import Assistant
from tests.conftest import make_settings


class Collector:
    """A loopback OTLP/HTTP collector that keeps what it receives."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def spans(self) -> list:
        out = []
        for _, body in self.requests:
            req = ExportTraceServiceRequest()
            req.ParseFromString(body)
            for rs in req.resource_spans:
                for ss in rs.scope_spans:
                    out += list(ss.spans)
        return out


def test_requests_are_exported_as_spans(corpus_assistant, model_cache) -> None:
    collector = Collector()
    try:
        settings = make_settings(
            corpus_assistant.settings.data_dir, model_cache, otlp_endpoint=collector.url
        )
        app = create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder))
        client = TestClient(app)
        assert client.post("/v1/ask", json={"question": "What is Hono?"}).status_code == 200
        app.state.tracer_provider.force_flush()
    finally:
        collector.httpd.shutdown()
    assert collector.requests and collector.requests[0][0] == "/v1/traces"
    spans = {s.name: s for s in collector.spans()}
    assert "POST /v1/ask" in spans, list(spans)
    attrs = {a.key: a.value for a in spans["POST /v1/ask"].attributes}
    assert attrs["http.response.status_code"].int_value == 200
    assert attrs["stackguide.refused"].bool_value is False
    assert attrs["stackguide.total_ms"].double_value > 0


def test_no_endpoint_no_tracing(corpus_assistant) -> None:
    app = create_app(assistant=corpus_assistant)
    assert not hasattr(app.state, "tracer_provider")
