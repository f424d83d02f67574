"""Socket Mode: `stackguide slack` refuses to start without its tokens, verifies the bot
token up front, and the handler answers an event that arrives over a real WebSocket
(a local Socket Mode endpoint; the Web API is the recording stand-in)."""

from __future__ import annotations

import uuid

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.service import Assistant
from assistant.slack.app import socket_mode_handler
from tests.conftest import make_settings
from tests.helpers.slack import CHANNEL, event_callback, mention
from tests.servers.slack_api import APP_TOKEN, BOT_TOKEN, fake_slack, socket_mode_server


@pytest.fixture
def slack():
    with fake_slack() as fake:
        yield fake


def run_slack(env: dict[str, str]):
    return CliRunner().invoke(cli, ["slack"], env=env, catch_exceptions=False)


def test_without_tokens_it_says_what_is_missing() -> None:
    result = run_slack({})
    assert result.exit_code == 2
    assert "SLACK_BOT_TOKEN (the bot token, xoxb-…) and SLACK_APP_TOKEN" in result.output
    result = run_slack({"SLACK_BOT_TOKEN": "xoxb-1"})
    assert result.exit_code == 2
    assert "SLACK_APP_TOKEN" in result.output and "SLACK_BOT_TOKEN" not in result.output


@pytest.fixture
def cli_env(corpus_assistant, model_cache, tmp_path, slack) -> dict[str, str]:
    return {
        "STACKGUIDE_DATA_DIR": str(corpus_assistant.settings.data_dir),
        "STACKGUIDE_MODEL_CACHE_DIR": str(model_cache),
        "STACKGUIDE_DATABASE_URL": f"sqlite:///{tmp_path / 'conv.db'}",
        "STACKGUIDE_SLACK_API_URL": slack.url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_APP_TOKEN": APP_TOKEN,
    }


def test_a_rejected_bot_token_stops_it_at_once(cli_env, slack) -> None:
    result = run_slack({**cli_env, "SLACK_BOT_TOKEN": "xoxb-revoked"})
    assert result.exit_code == 1
    assert "Slack rejected the bot token" in result.output and "invalid_auth" in result.output
    assert [c.method for c in slack.calls] == ["auth.test"]


def test_the_command_builds_the_socket_mode_handler(cli_env, slack, monkeypatch) -> None:
    from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler

    started: list[SocketModeHandler] = []
    monkeypatch.setattr(SocketModeHandler, "start", lambda self: started.append(self))
    result = run_slack(cli_env)
    assert result.exit_code == 0, result.output
    assert "Socket Mode" in result.output
    [handler] = started
    assert handler.app_token == APP_TOKEN
    assert handler.client.web_client.base_url == slack.url  # the setting, not slack.com
    assert handler.app.client.token == BOT_TOKEN
    [auth] = slack.of("auth.test")
    assert auth.token == BOT_TOKEN  # verified before connecting
    assert handler.client.closed  # closed on the way out


def test_an_event_over_the_websocket_is_acknowledged_and_answered(
    corpus_assistant, model_cache, tmp_path, slack
) -> None:
    event = mention("What is Hono?")
    envelope = {
        "envelope_id": str(uuid.uuid4()),
        "type": "events_api",
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
        "payload": event_callback(event),
    }
    settings = make_settings(
        corpus_assistant.settings.data_dir, model_cache,
        database_url=f"sqlite:///{tmp_path / 'conv.db'}", slack_bot_token=BOT_TOKEN,
        slack_app_token=APP_TOKEN, slack_api_url=slack.url,
    )  # fmt: skip
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    with socket_mode_server([envelope]) as server:
        slack.socket_url = server.url
        handler = socket_mode_handler(settings, assistant)
        try:
            handler.connect()
            slack.wait_for(lambda s: s.of("chat.update"), 30, "the answer")
            slack.wait_for(lambda s: server.acks, 10, "the ack")
        finally:
            handler.close()
    assert server.acks[0]["envelope_id"] == envelope["envelope_id"]
    [opened] = slack.of("apps.connections.open")[:1]
    assert opened.token == APP_TOKEN
    [placeholder] = slack.of("chat.postMessage")
    assert placeholder.body["channel"] == CHANNEL and placeholder.body["thread_ts"] == event["ts"]
    [update] = slack.of("chat.update")
    assert update.body["ts"] == placeholder.reply["ts"]
    assert "Edge-first" in update.body["blocks"][0]["text"]["text"]
