"""The Bolt app, and the two ways to run it: HTTP routes on the web service (signed with
the signing secret) or Socket Mode (an outbound WebSocket, no public URL needed)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from slack_bolt import App
from slack_bolt.adapter.fastapi import SlackRequestHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_bolt.error import BoltError
from slack_sdk import WebClient
from starlette.concurrency import run_in_threadpool

from assistant.errors import BackendUnavailable, ConfigError
from assistant.service import Assistant
from assistant.settings import Settings
from assistant.slack.handlers import SlackBot

log = logging.getLogger(__name__)
ROUTES = ("/slack/events", "/slack/interactions", "/slack/commands")  # as in manifest.yaml
# Listener threads: acks of commands and clicks run on them too, so there are enough that
# a few slow answers never hold an ack past Slack's 3 seconds.
LISTENER_THREADS = 16


def build_app(settings: Settings, assistant: Assistant, *, socket_mode: bool = False) -> App:
    """A Bolt app whose listeners answer through `assistant`; Web API calls go to
    `settings.slack_api_url`."""
    if not settings.slack_bot_token:
        raise ConfigError("set SLACK_BOT_TOKEN (the app's xoxb- bot token)")
    if not socket_mode and not settings.slack_signing_secret:
        raise ConfigError("set SLACK_SIGNING_SECRET: Slack's requests are verified with it")
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url)
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
    SlackBot(assistant, settings.slack_command).register(app)
    return app


class ThreadedSlackRequestHandler(SlackRequestHandler):
    """Bolt's FastAPI handler, with `App.dispatch` off the event loop: it blocks until the
    listener has acknowledged (and calls auth.test on the first request)."""

    async def handle(
        self, req: Request, addition_context_properties: dict[str, Any] | None = None
    ) -> Response:
        if req.method != "POST":
            return await super().handle(req, addition_context_properties)
        body = await req.body()
        bolt_request = to_bolt_request(req, body, addition_context_properties)
        return to_starlette_response(await run_in_threadpool(self.app.dispatch, bolt_request))


def mount(api: FastAPI, settings: Settings, assistant: Assistant) -> None:
    """POST /slack/events, /slack/interactions, /slack/commands on the web service.

    Not behind the API keys of /v1: Slack cannot send them; every request is verified by
    its signature instead (401 when missing, wrong, or older than 5 minutes)."""
    bolt = build_app(settings, assistant)
    handler = ThreadedSlackRequestHandler(bolt)
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
