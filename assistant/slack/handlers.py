"""What the bot does with a mention, a direct message, the slash command and a feedback
click. Bolt has acknowledged the request (within Slack's 3 seconds) before any of this
runs; the answering happens on Bolt's listener threads.

A channel thread is one conversation (a DM is one too): its id is derived from (team,
channel, thread), so a follow-up in the thread, even after a restart or on another worker,
gets the thread's earlier turns as history.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import re
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from slack_sdk.errors import SlackApiError

from assistant.errors import BackendUnavailable, InvalidQuestion, NotFound, StackGuideError
from assistant.service import Assistant
from assistant.slack.blocks import (
    VOTE_ACTIONS,
    Message,
    answer_message,
    fitted,
    notice,
    progress,
)
from assistant.slack.ledger import EventLedger
from assistant.slack.mrkdwn import escape, plain_question

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 1.0  # chat.update is rate-limited (~50/min): a streamed answer is batched
PROGRESS_MIN_WORDS = 3  # no flash of a lone bullet
FEEDBACK_ACTION = re.compile(r"^feedback_(up|down)$")
# Slack not reached at all (refused, reset, timed out: urllib's URLError is an OSError), as
# opposed to SlackApiError, Slack's own answer: a retry can succeed where that cannot.
TRANSPORT_ERRORS = (OSError, http.client.HTTPException)
# The owner of every conversation started from Slack: HTTP callers cannot reach them, and
# Slack (feedback buttons included) cannot reach theirs.
SLACK_OWNER = "slack"


def thread_conversation_id(team: str, channel: str, thread: str) -> str:
    """The conversation of a Slack thread (or of a DM's top level, thread "dm")."""
    digest = hashlib.sha256(f"{team}:{channel}:{thread}".encode()).hexdigest()
    return f"slack-{digest[:40]}"


class SlackBot:
    def __init__(self, assistant: Assistant, command: str = "/stackguide") -> None:
        self.assistant = assistant
        self.command = command
        self._ledger: EventLedger | None = None
        self._lock = threading.Lock()

    def register(self, app) -> None:
        """Attach the listeners to a Bolt `App`."""
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command(self.command)(self.on_command)
        app.action(FEEDBACK_ACTION)(self.on_feedback)

    # -- listeners --------------------------------------------------------------------------
    def on_mention(self, event: dict, body: dict, client, context, request) -> None:
        if _from_a_bot(event) or not self._first_delivery(body, request):
            return
        channel, root = event["channel"], event.get("thread_ts") or event["ts"]
        cid = thread_conversation_id(_team(body, event), channel, root)
        question = plain_question(event.get("text", ""), context.bot_user_id)
        self._reply_to_event(body, client, channel, root, question, cid)

    def on_message(self, event: dict, body: dict, client, context, request) -> None:
        # Channel messages that mention the bot arrive as app_mention: only DMs count here.
        if event.get("channel_type") != "im" or _from_a_bot(event):
            return
        if not self._first_delivery(body, request):
            return
        # The whole DM is one conversation, threads in it too: a reply in a thread under an
        # answer still follows on from it. Replies go where the question was.
        channel, root = event["channel"], event.get("thread_ts")
        cid = thread_conversation_id(_team(body, event), channel, "dm")
        question = plain_question(event.get("text", ""), context.bot_user_id)
        self._reply_to_event(body, client, channel, root, question, cid)

    def on_command(self, ack, command: dict, respond) -> None:
        text = plain_question(command.get("text", ""))
        if text.lower() in ("", "help"):
            ack(**notice(self._text("help.md", command=self.command)))
            return
        if text.lower() == "sources":
            ack(**self._sources())
            return
        ack(**notice(self._text("placeholder.md")))

        def show(message: Message) -> None:
            respond(replace_original=True, response_type="ephemeral", **message)

        try:
            self._deliver(text, None, show, live=False)  # response_url takes 5 calls at most
        except TRANSPORT_ERRORS as exc:  # a command is never redelivered: nothing to release
            log.error("cannot show the answer to %s: Slack unreachable: %s", self.command, exc)

    def on_feedback(self, ack, body: dict, action: dict, respond) -> None:
        ack()
        vote = VOTE_ACTIONS[action["action_id"]]
        user = (body.get("user") or {}).get("id", "unknown")
        try:
            self.record_feedback(action.get("value", ""), vote, user)
            reply = self._text("thanks.md")
        except NotFound:
            log.warning("feedback on an answer that is gone: %r", action.get("value"))
            reply = self._text("feedback_gone.md")
        except Exception:
            log.exception("storing feedback failed")
            reply = self._text("error.md")
        try:
            respond(text=reply, response_type="ephemeral", replace_original=False)
        except (SlackApiError, ValueError, OSError) as exc:
            log.warning("feedback reply not sent: %s", exc)

    # -- feedback ---------------------------------------------------------------------------
    def record_feedback(self, key: str, vote: str, user: str) -> None:
        """Store a vote on the answer a button's key points at: question, whole answer
        object (citations included), vote, user; the time is the row's own."""
        cid, _, index = key.rpartition(":")
        if not cid or not index.isdigit():
            raise NotFound(f"not a feedback key: {key[:80]!r}")
        store = self.assistant.conversations
        turns = store.get(cid, SLACK_OWNER).turns
        i = int(index)
        if not 0 < i < len(turns) or turns[i]["role"] != "assistant" or not turns[i]["answer"]:
            raise NotFound(f"no answer {i} in conversation {cid}")
        answer = {**turns[i]["answer"], "conversation_id": cid}  # stored before it was known
        self.assistant.feedback.add(turns[i - 1]["content"], answer, vote, user, "slack")

    def _feedback_key(self, answer: dict[str, Any]) -> str | None:
        """`conversation:turn` of the answer just stored (buttons carry it, not the answer)."""
        cid = answer.get("conversation_id")
        if not cid:
            return None
        turns = self.assistant.conversations.get(cid, SLACK_OWNER).turns
        for i in range(len(turns) - 1, 0, -1):
            if (
                turns[i]["role"] == "assistant"
                and turns[i]["content"] == answer.get("answer")
                and turns[i - 1]["content"] == answer.get("question")
            ):
                return f"{cid}:{i}"
        return None

    # -- answering --------------------------------------------------------------------------
    def _reply_to_event(self, body: dict, client, *args: Any) -> None:
        """`_reply`; when Slack could not be reached before the answer was shown, the event
        is released from the ledger, so Slack's redelivery of it is answered."""
        try:
            self._reply(client, *args)
        except TRANSPORT_ERRORS as exc:
            event_id = body.get("event_id")
            if event_id:
                with suppress(BackendUnavailable):  # no ledger at all: nothing took the id
                    self.ledger.release(event_id)
            log.error("event %s not answered, Slack unreachable (%s: %s); released for its retry",
                      event_id, type(exc).__name__, exc)  # fmt: skip

    def _reply(self, client, channel: str, thread_ts: str | None, question: str, cid: str) -> None:
        """Placeholder first (the asker sees at once that it's coming), then the answer.
        Raises TRANSPORT_ERRORS when Slack cannot be reached before the answer is shown."""
        try:
            if not question:
                client.chat_postMessage(
                    channel=channel, thread_ts=thread_ts, **notice(self._text("usage.md"))
                )
                return
            posted = client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, **notice(self._text("placeholder.md"))
            )
        except SlackApiError as exc:
            log.error("cannot post in %s: %s", channel, exc.response.get("error"))
            return

        def show(message: Message) -> None:
            client.chat_update(channel=channel, ts=posted["ts"], **message)

        self._deliver(question, cid, show, live=True)

    def _deliver(
        self, question: str, cid: str | None, show: Callable[[Message], None], live: bool
    ) -> None:
        """Answer and show it; a failure shows a short friendly message, details to the log.
        Raises TRANSPORT_ERRORS when the message could not be shown."""
        try:
            answer = self._answer(question, cid, show if live else None)
            message = answer_message(answer, self._feedback_key(answer))
        except InvalidQuestion as exc:
            message = notice(self._text("invalid.md", reason=escape(str(exc))))
        except Exception:
            log.exception("answering failed (question %r)", question[:120])
            message = notice(self._text("error.md"))
        try:
            show(message)
        except SlackApiError as exc:
            log.error("cannot show the answer: %s", exc.response.get("error"))

    def _answer(
        self, question: str, cid: str | None, show: Callable[[Message], None] | None
    ) -> dict[str, Any]:
        """The answer object, from the assistant's event stream; while it streams (an LLM
        backend), the placeholder shows the text so far, at most once a second."""
        if cid is not None:
            self.assistant.conversations.ensure(cid, SLACK_OWNER)
        text, shown = "", time.monotonic()
        for kind, data in self.assistant.stream(question, cid, owner=SLACK_OWNER):
            if kind == "delta":
                text += data
                due = time.monotonic() - shown >= PROGRESS_EVERY_S
                if show and due and len(text.split()) >= PROGRESS_MIN_WORDS:
                    try:
                        show(progress(text))
                    except (SlackApiError, *TRANSPORT_ERRORS) as exc:  # only a preview:
                        log.warning("progress update failed: %s", exc)  # the answer still comes
                    shown = time.monotonic()
            elif kind == "done":
                return data
        raise BackendUnavailable("the answer stream ended without its answer")

    # -- helpers ----------------------------------------------------------------------------
    def _first_delivery(self, body: dict, request) -> bool:
        """False for a redelivery of an event already taken (here or by another worker)."""
        event_id = body.get("event_id")
        if not event_id:
            return True
        try:
            first = self.ledger.take(event_id)
        except BackendUnavailable:
            log.exception("event ledger unavailable; answering %s anyway", event_id)
            return True
        if not first:
            retry = (request.headers.get("x-slack-retry-num") or ["?"])[0]
            log.info("event %s redelivered (retry %s): already answered", event_id, retry)
        return first

    @property
    def ledger(self) -> EventLedger:
        with self._lock:
            if self._ledger is None:
                self._ledger = EventLedger.open(self.assistant.settings.database)
            return self._ledger

    def _sources(self) -> Message:
        try:
            docs = self.assistant.documents.list()
        except StackGuideError as exc:
            log.error("cannot list the sources: %s", exc)
            return notice(self._text("error.md").replace("answering", "listing the sources"))
        lines = [escape(f"• {d.work} › {d.title}" if d.work else f"• {d.title}") for d in docs]
        count = f"{len(docs)} document{'s' * (len(docs) != 1)}"
        return notice(fitted(self._text("sources.md", count=count, lines="{lines}"), lines))

    def _text(self, name: str, **values: str) -> str:
        prompts = self.assistant.prompts
        path = f"slack/{name}"
        return prompts.render(path, **values) if values else prompts.text(path)


def _from_a_bot(event: dict) -> bool:
    """Other bots' messages (and our own, which Bolt already drops) and edits, deletions,
    joins: only people's new messages are questions."""
    return bool(event.get("bot_id") or event.get("bot_profile") or event.get("subtype"))


def _team(body: dict, event: dict) -> str:
    return body.get("team_id") or event.get("team") or ""
