"""With API keys on, what the service says about itself (/metrics, /docs, /redoc,
/openapi.json) needs a key unless `public_ops` opens it; health probes stay open. A
"question" with no words (`5`, `[9]`) is a clear 422, not an answer quoted from the corpus."""

from __future__ import annotations

import pytest

from tests.helpers.api import assert_error, build_app, client_for

KEY = "key-for-ops-tests-0001"
OPS = ("/metrics", "/docs", "/redoc", "/openapi.json")


@pytest.fixture
def app_with(corpus_assistant, model_cache, tmp_path):
    def make(**extra: object):
        return client_for(build_app(corpus_assistant, model_cache, tmp_path, **extra))

    return make


def test_ops_routes_need_a_key_when_keys_are_on(app_with) -> None:
    with app_with(api_keys=KEY) as client:
        for path in OPS:
            assert_error(client.get(path), 401)
            assert client.get(path, headers={"X-API-Key": KEY}).status_code == 200, path
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 200
        schema = client.get("/openapi.json", headers={"X-API-Key": KEY}).json()
        assert "/v1/ask" in schema["paths"]


@pytest.mark.parametrize(
    "extra", [{}, {"api_keys": KEY, "public_ops": True}], ids=["no-keys", "public"]
)
def test_ops_routes_are_open_without_keys_or_when_made_public(app_with, extra) -> None:
    with app_with(**extra) as client:
        for path in OPS:
            assert client.get(path).status_code == 200, path
        assert "<html" in client.get("/docs").text.lower()


@pytest.mark.parametrize("question", ["5", "[9]", "???", "  [1][2]  ", "42 !"])
def test_a_question_without_words_is_refused_as_invalid(app_with, question) -> None:
    with app_with() as client:
        error = assert_error(client.post("/v1/ask", json={"question": question}), 422)
        assert "no words" in error["message"]
        assert client.post("/v1/ask/stream", json={"question": question}).status_code == 422


def test_short_real_questions_still_count(app_with) -> None:
    with app_with() as client:
        for question in ("Hono?", "C# or Go?", "Bun 1.2"):
            assert client.post("/v1/ask", json={"question": question}).status_code == 200
