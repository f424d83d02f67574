"""The HTTP API under hostile input: a property-based fuzz run (schemathesis, from the app's
own OpenAPI) that must never produce a 5xx, then the edges one at a time: content type,
malformed and oversized bodies, unknown ids, empty questions, API keys, rate limits."""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from tests.helpers.api import assert_error, build_app, client_for
from tests.live_server import live_server

ASK = {"question": "What is Hono?"}
CHAT = {"model": "stackguide", "messages": [{"role": "user", "content": "What is Hono?"}]}


# -- the fuzz run ----------------------------------------------------------------------------

OPERATIONS = [
    "POST /v1/ask",
    "POST /v1/ask/stream",
    "GET /v1/conversations/{conversation_id}",
    "DELETE /v1/conversations/{conversation_id}",
    "GET /v1/models",
    "POST /v1/chat/completions",
    "GET /healthz",
    "GET /readyz",
    "GET /metrics",
    "GET /v1/documents",
    "GET /v1/documents/{doc_id}",
    "POST /v1/documents",
    "DELETE /v1/documents/{doc_id}",
    "POST /v1/documents/{doc_id}/refresh",
    "GET /v1/jobs/{job_id}",
]
VALID_BODIES = {
    "/v1/ask": {"question": "What is Hono?"},
    "/v1/ask/stream": {"question": "What is Fastify's killer feature?"},
    "/v1/chat/completions": {"messages": [{"role": "user", "content": "What is Hono?"}]},
}
EXAMPLES = 40  # per operation and mode; the whole run stays well under a minute


# error types the JSON routes answer with a 5xx (and anything unexpected: "internal")
SERVER_ERROR_TYPES = {"internal", "BackendUnavailable", "IndexNotReady", "ConfigError"}


def sse_errors(body: str) -> list[dict]:
    errors = []
    for block in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if lines.get("event") == "error":
            errors.append(json.loads(lines["data"]))
    return errors


def server_errors_in_stream(body: str) -> list[dict]:
    return [e for e in sse_errors(body) if e.get("type") in SERVER_ERROR_TYPES]


@pytest.fixture(scope="module")
def api_schema(corpus_assistant, model_cache, tmp_path_factory):
    app = build_app(
        corpus_assistant, model_cache, tmp_path_factory.mktemp("fuzz"), rate_limit_per_minute=0
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_the_fuzz_run_covers_every_operation(api_schema) -> None:
    labels = [result.ok().label for result in api_schema.get_all_operations()]
    assert sorted(labels) == sorted(OPERATIONS), "a new route: add it to OPERATIONS"


@pytest.mark.parametrize("label", OPERATIONS)
def test_fuzz_never_a_server_error(api_schema, label: str) -> None:
    method, path = label.split(" ", 1)
    operation = api_schema[path][method]
    statuses: collections.Counter[int] = collections.Counter()
    strategies = [
        operation.as_strategy(GenerationMode.POSITIVE),  # valid by the schema
        operation.as_strategy(GenerationMode.NEGATIVE),  # wrong types, missing fields, junk
    ]
    if path in VALID_BODIES:  # and one answerable question, so answering is reached for sure
        strategies.append(operation.as_strategy(body=VALID_BODIES[path]))
    cases = st.one_of(strategies)

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None,
        suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    def run(case) -> None:
        response = case.call_and_validate(checks=[not_a_server_error])
        statuses[response.status_code] += 1
        if path == "/v1/ask/stream" and response.status_code == 200:
            # a failure inside a stream is an `error` event under a 200: no 5xx to see
            assert not server_errors_in_stream(response.text), response.text[:500]

    start = time.monotonic()
    run()
    assert statuses, "no request was made"
    assert max(statuses) < 500, dict(statuses)
    assert time.monotonic() - start < 60
    if path in VALID_BODIES:
        # the run reached both the answering code and the validation
        assert statuses[200] > 0 and statuses[422] > 0, dict(statuses)
    elif path.startswith("/v1/documents") and method != "GET":  # no admin keys: refused
        assert set(statuses) <= {403, 422}, dict(statuses)


# -- bodies ----------------------------------------------------------------------------------

POSTS = ["/v1/ask", "/v1/ask/stream", "/v1/chat/completions"]
BODIES = {"/v1/ask": ASK, "/v1/ask/stream": ASK, "/v1/chat/completions": CHAT}


@pytest.fixture
def app(corpus_assistant, model_cache, tmp_path) -> FastAPI:
    return build_app(corpus_assistant, model_cache, tmp_path, max_body_bytes=1024)


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with client_for(app) as c:
        yield c


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize(
    "ctype", [None, "text/plain", "application/x-www-form-urlencoded", "application/jsonx"]
)
def test_wrong_content_type_is_415(client, path: str, ctype: str | None) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    r = client.post(path, content=json.dumps(BODIES[path]).encode(), headers=headers)
    error = assert_error(r, 415)
    assert "application/json" in error["message"]


def test_json_with_a_charset_is_accepted(client) -> None:
    r = client.post(
        "/v1/ask", content=b'{"question": "What is Hono?"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["citations"]


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("body", [b'{"question": ', b"{'question': 'x'}", b"nul", b"{}}"])
def test_invalid_json_is_422(client, path: str, body: bytes) -> None:
    r = client.post(path, content=body, headers={"Content-Type": "application/json"})
    error = assert_error(r, 422, "invalid_request")
    assert "JSON" in error["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"question": "What is Hono?", "temperature": 0.2},
        {"question": "What is Hono?", "conversation_id": None, "debug": True},
        {"question": "What is Hono?", "verbose": True},  # (`trace` is a field: issue 6)
    ],
)
@pytest.mark.parametrize("path", ["/v1/ask", "/v1/ask/stream"])
def test_extra_fields_are_422(client, path: str, body: dict) -> None:
    extra = next(k for k in body if k not in ("question", "conversation_id"))
    error = assert_error(client.post(path, json=body), 422, "invalid_request")
    assert extra in error["message"] and "not permitted" in error["message"]


@pytest.mark.parametrize("path", POSTS)
def test_oversized_body_with_content_length_is_413(client, path: str) -> None:
    body = {**BODIES[path], "padding": "x" * 2000}
    r = client.post(path, json=body)
    assert int(r.request.headers["content-length"]) > 1024
    assert_error(r, 413, "body_too_large")


def test_body_at_the_limit_is_read(client) -> None:
    prefix, suffix = b'{"question": "What is Hono?', b'"}'
    body = prefix + b" " * (1024 - len(prefix) - len(suffix)) + suffix
    assert len(body) == 1024
    r = client.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["citations"]


def chunked(payload: bytes, pieces: int = 8) -> Iterator[bytes]:
    """A body with no Content-Length: httpx sends it with Transfer-Encoding: chunked."""
    step = max(1, len(payload) // pieces)
    for i in range(0, len(payload), step):
        yield payload[i : i + step]


def test_chunked_body_under_the_limit_is_accepted(app) -> None:
    with live_server(app) as url:
        r = httpx.post(
            f"{url}/v1/ask", content=chunked(b'{"question": "What is Hono?"}'),
            headers={"Content-Type": "application/json"}, timeout=30,
        )  # fmt: skip
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert r.status_code == 200 and r.json()["citations"]


@pytest.mark.parametrize("path", POSTS)
def test_oversized_chunked_body_is_413(app, path: str) -> None:
    payload = json.dumps({**BODIES[path], "padding": "x" * 4000}).encode()
    with live_server(app) as url:
        r = httpx.post(
            f"{url}{path}", content=chunked(payload),
            headers={"Content-Type": "application/json"}, timeout=30,
        )  # fmt: skip
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "body_too_large")


# -- ids and questions -----------------------------------------------------------------------


def test_unknown_conversation_is_404_everywhere(client) -> None:
    for r in (
        client.get("/v1/conversations/does-not-exist"),
        client.delete("/v1/conversations/does-not-exist"),
        client.post("/v1/ask", json={**ASK, "conversation_id": "does-not-exist"}),
        client.post("/v1/ask/stream", json={**ASK, "conversation_id": "does-not-exist"}),
    ):
        error = assert_error(r, 404, "NotFound")
        assert "does-not-exist" in error["message"]


def test_empty_conversation_id_is_the_same_4xx_on_both_ask_routes(client) -> None:
    plain = client.post("/v1/ask", json={**ASK, "conversation_id": ""})
    assert plain.status_code == 422, plain.text  # an empty id is malformed input
    stream = client.post("/v1/ask/stream", json={**ASK, "conversation_id": ""})
    assert stream.status_code == plain.status_code, stream.text
    assert stream.json()["error"]["type"] == plain.json()["error"]["type"] == "invalid_request"


def test_conversation_id_over_64_chars_is_422(client) -> None:
    error = assert_error(client.post("/v1/ask", json={**ASK, "conversation_id": "x" * 65}), 422)
    assert "conversation_id" in error["message"]


@pytest.mark.parametrize("question", [" ", "   \n\t  ", "\u00a0\u2003\u3000", "\r\n"])
def test_whitespace_only_question_is_422(client, question: str) -> None:
    for r in (
        client.post("/v1/ask", json={"question": question}),
        client.post("/v1/ask/stream", json={"question": question}),
        client.post(
            "/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]}
        ),
    ):
        error = assert_error(r, 422, "InvalidQuestion")
        assert error["message"] == "the question is empty"


def test_empty_and_overlong_questions_are_422(corpus_assistant, model_cache, tmp_path) -> None:
    with client_for(build_app(corpus_assistant, model_cache, tmp_path)) as client:
        empty = assert_error(client.post("/v1/ask", json={"question": ""}), 422)
        assert "at least 1 character" in empty["message"]
        long = ("Which framework should I pick? " * 40)[:1001]
        error = assert_error(client.post("/v1/ask", json={"question": long}), 422)
        assert error["message"] == "the question is 1001 characters long; the limit is 1000"
        assert client.post("/v1/ask", json={"question": long[:1000]}).status_code == 200


def test_lone_surrogate_in_chat_message_is_not_a_server_error(client) -> None:
    body = b'{"messages": [{"role": "user", "content": "What is Hono? \\ud800"}]}'
    r = client.post("/v1/chat/completions", content=body, headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code < 500, r.text


def test_lone_surrogate_in_question_is_422(client) -> None:
    body = b'{"question": "What is Hono? \\ud800"}'
    r = client.post("/v1/ask", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 422, "invalid_request")


@pytest.mark.parametrize("request_", ["not-utf8-body", "wrong-method"])
def test_every_error_has_the_documented_body(client, request_: str) -> None:
    if request_ == "not-utf8-body":
        r = client.post("/v1/ask", content=b"\xff\xfe\xfa", headers={"Content-Type": "application/json"})  # fmt: skip
    else:
        r = client.get("/v1/ask")
    assert 400 <= r.status_code < 500
    assert r.json()["error"]["message"], r.text


# -- API keys --------------------------------------------------------------------------------

KEY_A = "sgkeyA-0123456789abcdef"
KEY_B = "sgkeyB-fedcba9876543210"
GUARDED = [
    ("POST", "/v1/ask", ASK),
    ("POST", "/v1/ask/stream", ASK),
    ("POST", "/v1/chat/completions", CHAT),
    ("GET", "/v1/models", None),
    ("GET", "/v1/conversations/x", None),
    ("DELETE", "/v1/conversations/x", None),
]
BAD_CREDENTIALS = {
    "none": {},
    "wrong bearer": {"Authorization": "Bearer wrong-key-0123456789abcdef"},
    "wrong x-api-key": {"X-API-Key": "wrong-key-0123456789abcdef"},
    "key as basic auth": {"Authorization": f"Basic {KEY_A}"},
    "bearer without key": {"Authorization": "Bearer "},
    "prefix of a key": {"Authorization": f"Bearer {KEY_A[:-1]}"},
    "key plus a char": {"X-API-Key": KEY_A + "0"},
    "empty x-api-key": {"X-API-Key": ""},
}


def call(client: TestClient, method: str, path: str, body: dict | None, headers: dict):
    return client.request(method, path, json=body, headers=headers)


@pytest.fixture
def keyed(corpus_assistant, model_cache, tmp_path) -> Iterator[TestClient]:
    app = build_app(corpus_assistant, model_cache, tmp_path, api_keys=f"{KEY_A}, {KEY_B}")
    with client_for(app) as c:
        yield c


@pytest.mark.parametrize("credentials", list(BAD_CREDENTIALS))
def test_api_keys_guard_every_v1_route(keyed, credentials: str) -> None:
    headers = BAD_CREDENTIALS[credentials]
    for method, path, body in GUARDED:
        r = call(keyed, method, path, body, headers)
        error = assert_error(r, 401, "http_error")
        assert "API key" in error["message"], (method, path)
        assert r.headers["www-authenticate"] == "Bearer"
    # the probes of the platform need no key
    assert keyed.get("/healthz", headers=headers).status_code == 200
    assert keyed.get("/readyz", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY_A}"},
        {"Authorization": f"bearer {KEY_B}"},
        {"X-API-Key": KEY_A},
        {"X-API-Key": KEY_B},
    ],
    ids=["bearer-a", "bearer-lowercase-b", "x-api-key-a", "x-api-key-b"],
)
def test_either_key_header_works(keyed, headers: dict) -> None:
    assert keyed.get("/v1/models", headers=headers).json()["data"][0]["id"] == "stackguide"
    answer = keyed.post("/v1/ask", json=ASK, headers=headers)
    assert answer.status_code == 200 and answer.json()["citations"]
    cid = answer.json()["conversation_id"]
    assert keyed.get(f"/v1/conversations/{cid}", headers=headers).status_code == 200
    chat = keyed.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert chat.status_code == 200 and chat.json()["citations"]
    assert keyed.delete(f"/v1/conversations/{cid}", headers=headers).status_code == 204


# -- rate limits -----------------------------------------------------------------------------


def retry_after(r) -> int:
    value = r.headers["retry-after"]
    assert value.isdigit(), value  # delay-seconds, as RFC 9110 says
    return int(value)


def test_rate_limit_per_client(corpus_assistant, model_cache, tmp_path) -> None:
    app = build_app(corpus_assistant, model_cache, tmp_path, rate_limit_per_minute=3)
    with client_for(app) as client:
        assert client.post("/v1/ask", json=ASK).status_code == 200
        assert client.get("/v1/models").status_code == 200
        assert client.get("/v1/conversations/nope").status_code == 404  # counts too
        limited = client.post("/v1/ask", json=ASK)
        error = assert_error(limited, 429)
        assert "rate limit" in error["message"]
        assert 1 <= retry_after(limited) <= 60
        assert client.get("/v1/models").status_code == 429
        # health probes are not rate limited
        assert all(client.get("/healthz").status_code == 200 for _ in range(5))


def test_rate_limit_is_per_api_key(corpus_assistant, model_cache, tmp_path) -> None:
    app = build_app(
        corpus_assistant, model_cache, tmp_path, rate_limit_per_minute=3,
        api_keys=f"{KEY_A},{KEY_B}",
    )  # fmt: skip
    a, b = {"Authorization": f"Bearer {KEY_A}"}, {"X-API-Key": KEY_B}
    with client_for(app) as client:
        assert [client.get("/v1/models", headers=a).status_code for _ in range(3)] == [200] * 3
        limited = client.get("/v1/models", headers=a)
        assert_error(limited, 429)
        assert 1 <= retry_after(limited) <= 60
        # the other key has its own budget, whichever header carries it
        assert client.post("/v1/ask", json=ASK, headers=b).status_code == 200
        statuses = [client.get("/v1/models", headers=b).status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        # A's budget is still spent, through the other header too
        assert client.get("/v1/models", headers={"X-API-Key": KEY_A}).status_code == 429
        # requests with a bad key are refused before they could spend anyone's budget
        assert client.get("/v1/models", headers={"X-API-Key": "x" * 20}).status_code == 401


def test_rate_limit_keys_with_a_common_prefix_have_own_budgets(
    corpus_assistant, model_cache, tmp_path
) -> None:
    team_a, team_b = "sk-proj-team-a-0123456789", "sk-proj-team-b-9876543210"
    app = build_app(
        corpus_assistant, model_cache, tmp_path, rate_limit_per_minute=3,
        api_keys=f"{team_a},{team_b}",
    )  # fmt: skip
    with client_for(app) as client:
        for _ in range(3):
            assert client.get("/v1/models", headers={"X-API-Key": team_a}).status_code == 200
        assert client.get("/v1/models", headers={"X-API-Key": team_a}).status_code == 429
        assert client.get("/v1/models", headers={"X-API-Key": team_b}).status_code == 200
