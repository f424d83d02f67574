"""The Bolt app, and the two ways to run it: HTTP routes on the web service (signed with
the signing secret) or Socket Mode (an outbound WebSocket, no public URL needed)."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.adapter.fastapi import SlackRequestHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_bolt.middleware.middleware_error_handler import MiddlewareErrorHandler
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from assistant.errors import BackendUnavailable, ConfigError
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.slack.handlers import TRANSPORT_ERRORS, SlackBot

log = logging.getLogger(__name__)
ROUTES = ("/slack/events", "/slack/interactions", "/slack/commands")  # as in manifest.yaml
# Listener threads: acks of commands and clicks run on them too, so there are enough that
# a few slow answers never hold an ack past Slack's 3 seconds.
LISTENER_THREADS = 16
MAX_AGE_S = 5 * 60  # Slack's window against replays
# What reading a payload of another shape than Slack's raises (json, parse_qsl, Bolt's
# `body["event"]["type"]` and the like): the sender's error, never a crash of ours.
PAYLOAD_ERRORS = (ValueError, TypeError, AttributeError, KeyError, IndexError, RecursionError)


def build_app(settings: Settings, assistant: Assistant, *, socket_mode: bool = False) -> App:
    """A Bolt app whose listeners answer through `assistant`; Web API calls go to
    `settings.slack_api_url`."""
    if not settings.slack_bot_token:
        raise ConfigError("set SLACK_BOT_TOKEN (the app's xoxb- bot token)")
    if not socket_mode and not settings.slack_signing_secret:
        raise ConfigError("set SLACK_SIGNING_SECRET: Slack's requests are verified with it")
    # slack_sdk logs every failed attempt at ERROR, then raises: the handlers log it once.
    quiet = logging.getLogger("stackguide.slack.web")
    quiet.setLevel(logging.CRITICAL)
    client = WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, logger=quiet
    )
    try:
        app = App(
            client=client,
            signing_secret=settings.slack_signing_secret or "",
            # Socket Mode has no signatures: the WebSocket itself is authenticated.
            request_verification_enabled=not socket_mode,
            # The web service must start even when Slack is unreachable: it then checks
            # the token (auth.test) on the first request. `stackguide slack` fails fast.
            token_verification_enabled=socket_mode,
            process_before_response=False,  # ack first, answer on the listener threads
            listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack"),
            logger=logging.getLogger("stackguide.slack.bolt"),
            name="stackguide",
        )
    except BoltError as exc:
        raise ConfigError(f"Slack rejected the bot token: {exc}") from exc
    except OSError as exc:
        raise BackendUnavailable(f"cannot reach Slack at {settings.slack_api_url}: {exc}") from exc
    # Bolt's default turns every middleware failure into a 500 with a traceback. There is no
    # public setter for the middleware half alone (`App.error` also replaces the listeners'
    # handler, whose tracebacks are our bugs): tests/security/test_slack_requests.py checks it.
    app._middleware_error_handler = MiddlewareFailures()
    SlackBot(assistant, settings.slack_command).register(app)
    return app


class MiddlewareFailures(MiddlewareErrorHandler):
    """A failure in Bolt's own middleware (authorization, event matching), as a status:
    Slack unreachable for auth.test is 503 (Slack retries), a signed payload Bolt cannot read
    is 400; anything else is a bug of ours, logged with its traceback."""

    def handle(self, error: Exception, request: BoltRequest, response: BoltResponse | None) -> None:
        if response is None:  # Bolt always passes one; nothing to set otherwise
            log.exception("slack: middleware failed")
            return
        if isinstance(error, TRANSPORT_ERRORS):
            log.error("slack: cannot reach Slack's Web API: %s", error)
            response.status, response.body = 503, _body("unavailable", "Slack is unreachable")
        elif isinstance(error, PAYLOAD_ERRORS):
            # The type only: the message may quote the payload, which is the sender's.
            log.warning("slack: signed request rejected (400): %s", type(error).__name__)
            response.status, response.body = 400, _body("invalid_payload", NOT_A_PAYLOAD)
        else:
            log.error("slack: middleware failed", exc_info=error)
            response.status, response.body = 500, _body("internal", "internal error")
        response.headers = {"content-type": ["application/json"]}


NOT_SIGNED = "the request is not signed by Slack"
NOT_A_PAYLOAD = "the request body is not a Slack payload"


def _body(kind: str, message: str) -> str:
    return json.dumps({"error": {"type": kind, "message": message}})


def signature_problem(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float
) -> str | None:
    """Why a request is not signed by Slack, or None when it is: `v0=` HMAC-SHA256 of
    `v0:{timestamp}:{raw body}`, the timestamp an integer within 5 minutes of `now`.

    Not slack_sdk's SignatureVerifier: it decodes the body as UTF-8 first (invalid bytes
    raise) and takes `int()` of the header, which raises on "abc" and reads " 17" or "1_7"."""
    if not timestamp or not signature:
        return "missing signature or timestamp"
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return "timestamp is not an integer"
    if abs(now - int(timestamp)) > MAX_AGE_S:
        return "timestamp is more than 5 minutes off"
    # Header values arrive decoded as latin-1: encoding back gives their bytes, any bytes.
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = b"v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest().encode()
    if not hmac.compare_digest(expected, signature.encode("latin-1")):
        return "signature does not match"
    return None


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's FastAPI handler, with the signature checked over the raw body before Bolt
    parses anything, and `App.dispatch` off the event loop: it blocks until the listener
    has acknowledged (and calls auth.test on the first request)."""

    def __init__(self, app: App, signing_secret: str) -> None:
        super().__init__(app)
        self.signing_secret = signing_secret

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        if req.method != "POST":
            return await super().handle(req, addition_context_properties)
        body = await req.body()
        problem = signature_problem(
            self.signing_secret,
            req.headers.get("x-slack-request-timestamp"),
            req.headers.get("x-slack-signature"),
            body,
            time.time(),
        )
        if problem:
            log.warning("slack: %s rejected (401): %s", req.url.path, problem)
            return _rejected(401, "invalid_signature", NOT_SIGNED)
        try:
            bolt_request = to_bolt_request(req, body, addition_context_properties)
        except PAYLOAD_ERRORS as exc:
            log.warning("slack: %s signed but rejected (400): %s", req.url.path, type(exc).__name__)
            return _rejected(400, "invalid_payload", NOT_A_PAYLOAD)
        return to_starlette_response(await run_in_threadpool(self.app.dispatch, bolt_request))


def _rejected(status: int, kind: str, message: str) -> Response:
    return Response(_body(kind, message), status, media_type="application/json")


def mount(api: FastAPI, settings: Settings, assistant: Assistant) -> None:
    """POST /slack/events, /slack/interactions, /slack/commands on the web service.

    Not behind the API keys of /v1: Slack cannot send them; every request is verified by
    its signature instead, over the raw body and before Bolt parses it (401 when missing,
    wrong, or older than 5 minutes; 400 when signed but no Slack payload)."""
    bolt = build_app(settings, assistant)
    handler = ThreadedSlackRequestHandler(bolt, settings.slack_signing_secret or "")
    router = APIRouter(tags=["slack"], include_in_schema=False)

    async def slack_request(req: Request) -> Response:
        return await handler.handle(req)

    for path in ROUTES:
        router.add_api_route(path, slack_request, methods=["POST"])
    api.include_router(router)
    # Answers still being written finish before the process exits.
    api.state.on_shutdown.append(lambda: bolt.listener_runner.listener_executor.shutdown())


def socket_mode_handler(settings: Settings, assistant: Assistant):
    """The Socket Mode handler for `stackguide slack` (connects when started)."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    if not settings.slack_app_token:
        raise ConfigError("set SLACK_APP_TOKEN (an xapp- app-level token) for Socket Mode")
    bolt = build_app(settings, assistant, socket_mode=True)
    return SocketModeHandler(bolt, app_token=settings.slack_app_token)
