"""The Slack bot end to end over HTTP: the real web app (create_app) on 127.0.0.1 takes
signed Events API, slash-command and interaction payloads; its Web API calls go to a
recording stand-in for Slack (tests/servers/slack_api.py). The real embedder, Chroma
index and conversation database answer."""

from __future__ import annotations

import errno
import json
import logging
import socket
import threading
import time
from types import SimpleNamespace
from urllib.parse import urlsplit

import httpx
import pytest

from assistant.errors import BackendUnavailable
from assistant.server.app import create_app
from assistant.service import Assistant
from assistant.settings import REPO_ROOT
from assistant.slack.handlers import thread_conversation_id
from tests.conftest import make_settings
from tests.helpers.slack import (
    CHANNEL,
    DM,
    SIGNING_SECRET,
    USER,
    click,
    direct_message,
    event_callback,
    mention,
    post,
    send_event,
    signed_headers,
    slash_command,
)
from tests.live_server import live_server
from tests.servers.slack_api import BOT_ID, BOT_TOKEN, BOT_USER_ID, TEAM_ID, fake_slack

PROMPTS = REPO_ROOT / "prompts" / "slack"


def prompt(name: str) -> str:
    return (PROMPTS / name).read_text(encoding="utf-8").strip()


def slack_settings(corpus_assistant, model_cache, db, api_url, **extra):
    return make_settings(
        corpus_assistant.settings.data_dir, model_cache, database_url=f"sqlite:///{db}",
        slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET, slack_api_url=api_url,
        **extra,
    )  # fmt: skip


@pytest.fixture
def slack():
    with fake_slack() as fake:
        yield fake


@pytest.fixture
def bot(corpus_assistant, model_cache, tmp_path, slack):
    """The web service with Slack configured, serving on 127.0.0.1."""
    settings = slack_settings(corpus_assistant, model_cache, tmp_path / "conv.db", slack.url)
    assistant = Assistant(settings, embedder=corpus_assistant.embedder)
    with live_server(create_app(assistant=assistant)) as base:
        yield SimpleNamespace(base=base, fake=slack, assistant=assistant)


def blocks_of(call) -> list[dict]:
    blocks = call.body.get("blocks") or []
    return json.loads(blocks) if isinstance(blocks, str) else blocks


def section_text(blocks: list[dict]) -> str:
    return "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")


def sources_text(blocks: list[dict]) -> str:
    return "\n".join(e["text"] for b in blocks if b["type"] == "context" for e in b["elements"])


def buttons(blocks: list[dict]) -> dict[str, str]:
    return {e["action_id"]: e["value"] for b in blocks if b["type"] == "actions"
            for e in b["elements"]}  # fmt: skip


def answer_for(fake, placeholder_ts: str, timeout: float = 30.0):
    """The chat.update that replaced the placeholder posted with this ts."""
    fake.wait_for(lambda s: any(c.body.get("ts") == placeholder_ts for c in s.of("chat.update")),
                  timeout, f"the update of {placeholder_ts}")  # fmt: skip
    return [c for c in fake.of("chat.update") if c.body.get("ts") == placeholder_ts][-1]


def placeholder_in(fake, thread_ts: str | None, channel: str = CHANNEL, n: int = 1):
    """The placeholder(s) posted in this channel and thread."""
    fake.wait_for(lambda s: len(posts_in(s, thread_ts, channel)) >= n, 30, f"a post in {thread_ts}")
    return posts_in(fake, thread_ts, channel)


def posts_in(fake, thread_ts: str | None, channel: str = CHANNEL):
    return [c for c in fake.of("chat.postMessage")
            if c.body.get("channel") == channel and c.body.get("thread_ts") == thread_ts]  # fmt: skip


def test_mention_is_answered_in_its_thread_with_sources_and_buttons(bot) -> None:
    event = mention("What's the standout feature people pick Fastify for?")
    started = time.monotonic()
    r = send_event(bot.base, event_callback(event))
    assert r.status_code == 200 and time.monotonic() - started < 3.0

    [placeholder] = placeholder_in(bot.fake, event["ts"])
    assert placeholder.body["text"] == prompt("placeholder.md")
    update = answer_for(bot.fake, placeholder.reply["ts"])
    assert update.body["channel"] == CHANNEL
    blocks = blocks_of(update)
    answer = section_text(blocks)
    assert "*Fastify* —" in answer and "Schema-first" in answer and "**" not in answer
    assert "[1]" in answer  # the markers stay, pointing into the sources block
    sources = sources_text(blocks)
    assert sources.startswith("*Sources*")
    assert "*[1]* Modern Backend Frameworks 2025 › 1. TypeScript backends › Fastify — _" in sources

    cid = thread_conversation_id(TEAM_ID, CHANNEL, event["ts"])
    assert buttons(blocks) == {"feedback_up": f"{cid}:1", "feedback_down": f"{cid}:1"}
    turns = bot.assistant.conversations.get(cid, None).turns
    assert [t["role"] for t in turns] == ["user", "assistant"]
    assert turns[1]["answer"]["citations"][0]["section"].endswith("Fastify")
    assert update.body["text"] and len(blocks) <= 50
    # every Web API call carried the bot token; auth.test told the bot its own user id
    assert all(c.token == BOT_TOKEN for c in bot.fake.calls)
    assert bot.fake.of("auth.test")


def test_follow_up_in_the_thread_uses_the_earlier_turns(bot) -> None:
    first = mention("Which ORM is the default for Python?")
    send_event(bot.base, event_callback(first))
    [placeholder] = placeholder_in(bot.fake, first["ts"])
    answer_for(bot.fake, placeholder.reply["ts"])

    follow_up = mention("and for Rust?", thread_ts=first["ts"])
    assert send_event(bot.base, event_callback(follow_up)).status_code == 200
    second = placeholder_in(bot.fake, first["ts"], n=2)[1]
    text = section_text(blocks_of(answer_for(bot.fake, second.reply["ts"])))
    assert any(orm in text for orm in ("Diesel", "SeaORM", "sqlx")), text

    turns = bot.assistant.conversations.get(
        thread_conversation_id(TEAM_ID, CHANNEL, first["ts"]), None
    ).turns
    assert [t["content"] for t in turns[::2]] == ["Which ORM is the default for Python?",
                                                  "and for Rust?"]  # fmt: skip
    assert (
        turns[2]["standalone"] == "Which ORM is the default for Rust?"
    )  # condensed with the thread's first turn


def test_a_direct_message_is_answered_in_the_dm_and_the_dm_is_one_conversation(bot) -> None:
    event = direct_message("What's a good framework for deploying an API to edge runtimes?")
    assert send_event(bot.base, event_callback(event)).status_code == 200
    [placeholder] = placeholder_in(bot.fake, None, channel=DM)
    assert "thread_ts" not in placeholder.body  # top level, like a chat
    text = section_text(blocks_of(answer_for(bot.fake, placeholder.reply["ts"])))
    assert "*Hono* —" in text

    # a reply in a thread under that answer follows on from it, and is answered there
    answer_ts = placeholder.reply["ts"]
    follow_up = direct_message("And if we're all-in on Bun specifically?", thread_ts=answer_ts)
    send_event(bot.base, event_callback(follow_up))
    [in_thread] = placeholder_in(bot.fake, answer_ts, channel=DM)
    text = section_text(blocks_of(answer_for(bot.fake, in_thread.reply["ts"])))
    assert "Elysia" in text, text
    turns = bot.assistant.conversations.get(thread_conversation_id(TEAM_ID, DM, "dm"), None).turns
    assert len(turns) == 4 and "edge" in turns[2]["standalone"].lower()


def test_a_retry_never_posts_a_second_answer(bot, monkeypatch) -> None:
    real_stream = bot.assistant.stream

    def slow_stream(*args, **kwargs):  # the first delivery is still answering meanwhile
        time.sleep(1.0)
        yield from real_stream(*args, **kwargs)

    monkeypatch.setattr(bot.assistant, "stream", slow_stream)
    event = mention("What is Hono?")
    payload = event_callback(event, event_id="Ev0RETRY01")
    statuses: list[int] = []

    def deliver(**headers: str) -> None:
        statuses.append(send_event(bot.base, payload, **headers).status_code)

    deliveries = [
        threading.Thread(target=deliver),
        threading.Thread(target=deliver, kwargs={"X-Slack-Retry-Num": "1",
                                                 "X-Slack-Retry-Reason": "http_timeout"}),
    ]  # fmt: skip
    for t in deliveries:
        t.start()
    for t in deliveries:
        t.join(30)
    [placeholder] = placeholder_in(bot.fake, event["ts"])
    answer_for(bot.fake, placeholder.reply["ts"])
    headers = {"X-Slack-Retry-Num": "2", "X-Slack-Retry-Reason": "http_timeout"}
    statuses.append(send_event(bot.base, payload, **headers).status_code)
    assert statuses == [200, 200, 200]  # every delivery is acknowledged, so Slack stops

    # A retry of an event whose first delivery never arrived is that event's first: answered.
    lost = mention("What is Elysia?")
    send_event(bot.base, event_callback(lost, event_id="Ev0LOST001"), **{"X-Slack-Retry-Num": "1"})
    [lost_placeholder] = placeholder_in(bot.fake, lost["ts"])
    answer_for(bot.fake, lost_placeholder.reply["ts"])
    assert len(posts_in(bot.fake, event["ts"])) == 1
    answered = [c for c in bot.fake.of("chat.update") if c.body["ts"] == placeholder.reply["ts"]
                and buttons(blocks_of(c))]  # fmt: skip
    assert len(answered) == 1


def test_own_and_other_bots_messages_and_edits_are_ignored(bot) -> None:
    ignored = [
        # the bot's own reply in the DM comes back as a message event
        direct_message("Hono is edge-first [1].", user=BOT_USER_ID, bot_id=BOT_ID),
        # another bot, old style and new style
        direct_message("What is Hono?", subtype="bot_message", bot_id="B0OTHER01",
                       username="otherbot"),
        direct_message("What is Hono?", bot_id="B0OTHER01", user="U0OTHERBOT"),
        # an edit of a DM, and a channel message that does not mention the bot
        direct_message("What is Hono?", subtype="message_changed"),
        {**direct_message("What is Hono?"), "channel": CHANNEL, "channel_type": "channel"},
        # another bot mentioning ours
        mention("What is Hono?", bot_id="B0OTHER01", bot_profile={"id": "B0OTHER01"}),
    ]  # fmt: skip
    for event in ignored:
        assert send_event(bot.base, event_callback(event)).status_code == 200
    sentinel = mention("What is Elysia?")
    send_event(bot.base, event_callback(sentinel))
    [placeholder] = placeholder_in(bot.fake, sentinel["ts"])
    answer_for(bot.fake, placeholder.reply["ts"])  # sent last: the others were read before it
    assert [c.body["channel"] for c in bot.fake.of("chat.postMessage")] == [CHANNEL]
    assert len(bot.fake.of("chat.update")) == 1


def test_forged_or_stale_requests_get_401_and_no_answer(bot) -> None:
    body = json.dumps(event_callback(mention("What is Hono?"))).encode()
    url = bot.base + "/slack/events"
    now = int(time.time())
    forged = {
        "no signature": {"Content-Type": "application/json"},
        "wrong secret": signed_headers(body, "application/json", secret="not-the-secret"),
        "stale (6 minutes)": signed_headers(body, "application/json", timestamp=now - 360),
        "from the future": signed_headers(body, "application/json", timestamp=now + 360),
    }
    for why, headers in forged.items():
        assert httpx.post(url, content=body, headers=headers).status_code == 401, why
    tampered = signed_headers(body, "application/json")
    assert httpx.post(url, content=body.replace(b"Hono", b"Elysia"),
                      headers=tampered).status_code == 401  # fmt: skip
    for path in ("/slack/commands", "/slack/interactions"):
        form = b"command=%2Fstackguide&text=What+is+Hono%3F&response_url=x"
        assert httpx.post(bot.base + path, content=form).status_code == 401

    # Slack's URL check: the challenge comes back, signed or not at all.
    check = json.dumps({"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                        "type": "url_verification"}).encode()  # fmt: skip
    r = post(bot.base, "/slack/events", check, "application/json")
    assert r.status_code == 200 and "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in r.text
    assert (
        httpx.post(url, content=check, headers={"Content-Type": "application/json"}).status_code
        == 401
    )

    # A signed event sent after them all is answered: by then any answer to a forged one
    # would have been posted too, and the sentinel's is the only one.
    sentinel = mention("What is Elysia?")
    send_event(bot.base, event_callback(sentinel))
    [placeholder] = placeholder_in(bot.fake, sentinel["ts"])
    answer_for(bot.fake, placeholder.reply["ts"])
    assert len(bot.fake.of("chat.postMessage")) == 1 and len(bot.fake.of("chat.update")) == 1


def test_slash_command_help_and_answer(bot) -> None:
    for text in ("help", "", "  HELP "):
        r = slash_command(bot.base, text, bot.fake.hook_url("help"))
        assert r.status_code == 200
        assert "/stackguide QUESTION" in r.json()["text"]
    hook = bot.fake.hook_url("cmd")
    started = time.monotonic()
    r = slash_command(bot.base, "Which ORM is the default for Python?", hook)
    assert r.status_code == 200 and time.monotonic() - started < 3.0
    assert r.json()["text"] == prompt("placeholder.md")  # shown at once, to the asker only

    [reply] = bot.fake.wait_count("hook:/hooks/cmd", 1)
    assert reply.body["replace_original"] is True
    assert reply.body["response_type"] == "ephemeral"
    blocks = reply.body["blocks"]
    assert "SQLAlchemy 2.0" in section_text(blocks)
    assert "*[1]*" in sources_text(blocks)
    assert set(buttons(blocks)) == {"feedback_up", "feedback_down"}
    assert not bot.fake.of("hook:/hooks/help")  # help is the acknowledgement itself


def test_slash_command_sources_lists_what_the_corpus_covers(bot) -> None:
    r = slash_command(bot.base, " Sources ", bot.fake.hook_url("sources"))
    assert r.status_code == 200
    text = r.json()["text"]
    assert text.startswith("*The corpus covers 1 document:*")
    assert "• Modern Backend Frameworks 2025" in text  # the bundled article's title, one line
    assert not bot.fake.of("hook:/hooks/sources")  # the list is the acknowledgement itself


def test_a_long_source_list_is_cut_to_one_message_and_says_how_many_more() -> None:
    from assistant.slack.blocks import MAX_TEXT, fitted

    lines = [f"• Guide page {n} with a fairly long title" for n in range(400)]
    text = fitted("*The corpus covers 400 documents:*\n{lines}\n", lines)
    assert len(text) <= MAX_TEXT
    assert "• Guide page 0 with" in text
    shown = text.count("• Guide page")
    assert text.rstrip().endswith(f"… and {400 - shown} more")


def test_feedback_clicks_are_stored_with_the_answer(bot) -> None:
    event = mention("What is Hono?")
    send_event(bot.base, event_callback(event))
    [placeholder] = placeholder_in(bot.fake, event["ts"])
    update = answer_for(bot.fake, placeholder.reply["ts"])
    keys = buttons(blocks_of(update))

    message_ts = placeholder.reply["ts"]
    hook = bot.fake.hook_url("vote")
    r = click(bot.base, "feedback_up", keys["feedback_up"], hook, message_ts=message_ts)
    assert r.status_code == 200
    click(bot.base, "feedback_down", keys["feedback_down"], hook, message_ts=message_ts,
          user="U0BOB0001")  # fmt: skip
    thanks = bot.fake.wait_count("hook:/hooks/vote", 2)
    assert all(t.body["text"] == prompt("thanks.md") for t in thanks)
    assert all(t.body["replace_original"] is False for t in thanks)  # the answer stays

    rows = bot.assistant.feedback.all()
    assert [(r["vote"], r["user"], r["source"]) for r in rows] == [
        ("up", USER, "slack"), ("down", "U0BOB0001", "slack")]  # fmt: skip
    stored = rows[0]
    assert stored["question"] == "What is Hono?"
    assert "Edge-first" in stored["answer"]["answer"]
    assert stored["answer"]["citations"][0]["section"].endswith("Hono")
    assert stored["answer"]["conversation_id"] == thread_conversation_id(TEAM_ID, CHANNEL,
                                                                          event["ts"])  # fmt: skip
    assert stored["created_at"]

    gone = click(bot.base, "feedback_up", "slack-nothere:1", bot.fake.hook_url("gone"),
                 message_ts=message_ts)  # fmt: skip
    assert gone.status_code == 200
    [reply] = bot.fake.wait_count("hook:/hooks/gone", 1)
    assert reply.body["text"] == prompt("feedback_gone.md")
    assert len(bot.assistant.feedback.all()) == 2


def test_failures_give_a_short_friendly_error_and_log_the_details(bot, monkeypatch,
                                                                  caplog) -> None:  # fmt: skip
    too_long = mention("Which framework? " * 80)
    send_event(bot.base, event_callback(too_long))
    [placeholder] = placeholder_in(bot.fake, too_long["ts"])
    text = answer_for(bot.fake, placeholder.reply["ts"]).body["text"]
    assert text.startswith(":warning: I can't answer that:") and "the limit is 1000" in text

    def broken(*args, **kwargs):
        raise BackendUnavailable("Chroma server at 127.0.0.9:8000 refused the connection")
        yield  # a generator, like the real one

    monkeypatch.setattr(bot.assistant, "stream", broken)
    event = mention("What is Hono?")
    with caplog.at_level(logging.ERROR, logger="assistant.slack.handlers"):
        send_event(bot.base, event_callback(event))
        [placeholder] = placeholder_in(bot.fake, event["ts"])
        update = answer_for(bot.fake, placeholder.reply["ts"])
    assert update.body["text"] == prompt("error.md")
    assert "Chroma" not in json.dumps(update.body)  # details stay in the log
    assert "refused the connection" in caplog.text and "What is Hono?" in caplog.text


def test_an_empty_mention_gets_a_usage_hint(bot) -> None:
    event = mention("")
    send_event(bot.base, event_callback(event))
    [hint] = placeholder_in(bot.fake, event["ts"])
    assert hint.body["text"] == prompt("usage.md")
    sentinel = mention("What is Elysia?")
    send_event(bot.base, event_callback(sentinel))
    [placeholder] = placeholder_in(bot.fake, sentinel["ts"])
    answer_for(bot.fake, placeholder.reply["ts"])
    assert len(bot.fake.of("chat.update")) == 1  # the hint is not a placeholder


def test_a_refusal_says_so_without_a_sources_block(bot) -> None:
    event = mention("Should we use Redux Toolkit or Zustand for client-side state in React?")
    send_event(bot.base, event_callback(event))
    [placeholder] = placeholder_in(bot.fake, event["ts"])
    blocks = blocks_of(answer_for(bot.fake, placeholder.reply["ts"]))
    assert "The corpus doesn't cover this question" in section_text(blocks)
    assert not [b for b in blocks if b["type"] == "context"]
    assert "Sources" not in json.dumps(blocks)
    assert set(buttons(blocks)) == {"feedback_up", "feedback_down"}  # a wrong refusal is news


def test_the_placeholder_is_there_at_once_and_a_streamed_answer_shows_progress(
    bot, monkeypatch
) -> None:
    real_stream = bot.assistant.stream

    def streamed(*args, **kwargs):  # as an LLM backend streams: deltas over seconds
        deltas = 0
        for kind, data in real_stream(*args, **kwargs):
            if kind == "delta":
                deltas += 1
                if deltas in (1, 4):
                    time.sleep(1.6)
            yield kind, data

    monkeypatch.setattr(bot.assistant, "stream", streamed)
    event = mention("What is Hono?")
    started = time.monotonic()
    assert send_event(bot.base, event_callback(event)).status_code == 200
    assert time.monotonic() - started < 1.5  # acknowledged long before the answer exists
    [placeholder] = placeholder_in(bot.fake, event["ts"])
    bot.fake.wait_for(lambda s: any(b["type"] == "actions" for c in s.of("chat.update")
                                    for b in blocks_of(c)), 30, "the final answer")  # fmt: skip
    updates = bot.fake.of("chat.update")
    assert len(updates) >= 2 and all(u.body["ts"] == placeholder.reply["ts"] for u in updates)
    partial, final = section_text(blocks_of(updates[0])), section_text(blocks_of(updates[-1]))
    assert partial.endswith(" …") and final.startswith(partial.removesuffix(" …").strip())
    assert len(partial) < len(final)


def test_slack_routes_skip_api_keys_and_exist_only_when_configured(
    corpus_assistant, model_cache, tmp_path, slack
) -> None:
    key = "k" * 24
    settings = slack_settings(corpus_assistant, model_cache, tmp_path / "a.db", slack.url,
                              api_keys=[key])  # fmt: skip
    app = create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder))
    with live_server(app) as base:
        assert httpx.post(base + "/v1/ask", json={"question": "What is Hono?"}).status_code == 401
        event = mention("What is Hono?")
        assert send_event(base, event_callback(event)).status_code == 200  # signed, no key
        [placeholder] = placeholder_in(slack, event["ts"])
        answer_for(slack, placeholder.reply["ts"])

    plain = make_settings(corpus_assistant.settings.data_dir, model_cache,
                          database_url=f"sqlite:///{tmp_path / 'b.db'}")  # fmt: skip
    app = create_app(assistant=Assistant(plain, embedder=corpus_assistant.embedder))
    with live_server(app) as base:
        assert send_event(base, event_callback(mention("What is Hono?"))).status_code == 404
        assert "/slack/events" not in httpx.get(base + "/openapi.json").text


def test_a_restart_keeps_the_thread_and_the_events_already_answered(
    corpus_assistant, model_cache, tmp_path, slack
) -> None:
    settings = slack_settings(corpus_assistant, model_cache, tmp_path / "conv.db", slack.url)
    first = mention("Which ORM is the default for Python?")
    payload = event_callback(first, event_id="Ev0RESTART")
    with live_server(
        create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder))
    ) as base:
        send_event(base, payload)
        [placeholder] = placeholder_in(slack, first["ts"])
        answer_for(slack, placeholder.reply["ts"])

    # A new process (a restart, or another worker) on the same database.
    with live_server(
        create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder))
    ) as base:
        assert send_event(base, payload, **{"X-Slack-Retry-Num": "1"}).status_code == 200
        follow_up = mention("and for Rust?", thread_ts=first["ts"])
        send_event(base, event_callback(follow_up))
        second = placeholder_in(slack, first["ts"], n=2)[1]
        text = section_text(blocks_of(answer_for(slack, second.reply["ts"])))
    assert any(orm in text for orm in ("Diesel", "SeaORM", "sqlx")), text
    assert len(posts_in(slack, first["ts"])) == 2  # the first answer and the follow-up's


def slack_reachable(monkeypatch, api_url: str) -> threading.Event:
    """An Event that is set while Slack is up: cleared, every connection to the Web API
    stand-in is refused, as by a Slack (or network) that is down."""
    port = urlsplit(api_url).port
    up = threading.Event()
    up.set()
    connect = socket.socket.connect  # the loopback-only guard of conftest, wrapped

    def refusing(sock: socket.socket, address) -> None:
        if not up.is_set() and sock.family in (socket.AF_INET, socket.AF_INET6) \
                and address[1] == port:  # fmt: skip
            raise ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", refusing)
    return up


@pytest.mark.parametrize("lost", ["chat.postMessage", "chat.update"])
def test_a_question_slack_was_unreachable_for_is_answered_on_its_retry(
    bot, monkeypatch, caplog, lost
) -> None:
    """Slack goes away before the placeholder is posted, or between the placeholder and
    the answer: the event is not kept as taken, so Slack's retry of it is answered."""
    up = slack_reachable(monkeypatch, bot.fake.url)
    r = slash_command(bot.base, "help", bot.fake.hook_url("help"))  # Bolt has run auth.test
    assert r.status_code == 200 and bot.fake.of("auth.test")
    real_reply = bot.fake.reply

    def reply(method: str, body: dict, token: str | None) -> dict:
        if method == "chat.postMessage" and lost == "chat.update":
            up.clear()  # Slack posts the placeholder, then is gone
        return real_reply(method, body, token)

    monkeypatch.setattr(bot.fake, "reply", reply)
    if lost == "chat.postMessage":
        up.clear()
    event = mention("What is Hono?")
    payload = event_callback(event, event_id=f"Ev0DOWN-{lost}")

    def failure_logged() -> bool:
        return any(payload["event_id"] in r.getMessage() for r in caplog.records)

    with caplog.at_level(logging.ERROR, logger="assistant.slack.handlers"):
        assert send_event(bot.base, payload).status_code == 200
        bot.fake.wait_for(lambda s: failure_logged(), 30, "the failure to reach Slack logged")
    [failure] = [r for r in caplog.records if r.levelno >= logging.WARNING]  # one line
    assert "ConnectionRefusedError" in failure.getMessage() or "URLError" in failure.getMessage()
    assert not failure.exc_info and not bot.fake.of("chat.update")

    monkeypatch.setattr(bot.fake, "reply", real_reply)
    up.set()
    retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    assert send_event(bot.base, payload, **retry).status_code == 200
    placeholders = placeholder_in(bot.fake, event["ts"], n=2 if lost == "chat.update" else 1)
    text = section_text(blocks_of(answer_for(bot.fake, placeholders[-1].reply["ts"])))
    assert "Hono" in text and "[1]" in text
    assert send_event(bot.base, payload, **{**retry, "X-Slack-Retry-Num": "2"}).status_code == 200
    sentinel = mention("What is Elysia?")  # answered after any second answer would be
    send_event(bot.base, event_callback(sentinel))
    answer_for(bot.fake, placeholder_in(bot.fake, sentinel["ts"])[0].reply["ts"])
    assert len(posts_in(bot.fake, event["ts"])) == len(placeholders)  # answered once


def test_slack_unreachable_on_the_first_request_is_503_so_slack_retries(
    bot, monkeypatch, caplog
) -> None:
    up = slack_reachable(monkeypatch, bot.fake.url)
    up.clear()
    event = mention("What is Hono?")
    payload = event_callback(event, event_id="Ev0COLD001")
    with caplog.at_level(logging.INFO):
        assert send_event(bot.base, payload).status_code == 503  # auth.test could not run
    problems = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(problems) == 1 and not problems[0].exc_info, [p.getMessage() for p in problems]
    up.set()
    assert send_event(bot.base, payload, **{"X-Slack-Retry-Num": "1"}).status_code == 200
    [placeholder] = placeholder_in(bot.fake, event["ts"])
    answer_for(bot.fake, placeholder.reply["ts"])
