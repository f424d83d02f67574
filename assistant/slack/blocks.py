"""Block Kit messages, kept within Slack's limits: the answer (mrkdwn, `[n]` kept), a
compact sources block (`[n] Title › Section` and a short snippet), 👍 / 👎 buttons."""

from __future__ import annotations

from typing import Any

from assistant.slack.mrkdwn import escape, to_mrkdwn

MAX_TEXT = 3000  # a section's or a context element's text
MAX_BLOCKS = 50  # per message
MAX_CONTEXT_ELEMENTS = 10
SNIPPET_CHARS = 140
TITLE_CHARS = 60
FEEDBACK_BLOCK = "feedback"
VOTE_ACTIONS = {"feedback_up": "up", "feedback_down": "down"}

Message = dict[str, Any]


def notice(text: str) -> Message:
    """A short message of ours (placeholder, usage, error), already in mrkdwn."""
    return {"text": text, "blocks": [_section(text[:MAX_TEXT])]}


def fitted(template: str, lines: list[str]) -> str:
    """`template` with as many of `lines` as fit one message's text (`{lines}` in it), and
    how many more there are."""
    room = MAX_TEXT - len(template) - 40
    shown: list[str] = []
    for line in lines:
        if sum(len(s) + 1 for s in shown) + len(line) + 1 > room:
            break
        shown.append(line)
    more = len(lines) - len(shown)
    text = "\n".join(shown) + (f"\n… and {more} more" if more else "")
    return template.replace("{lines}", text)


def progress(markdown: str, marker: str = " …") -> Message:
    """The answer so far, while it streams in."""
    return {"text": _fallback(markdown), "blocks": _sections(to_mrkdwn(markdown) + marker, 1)}


def answer_message(answer: dict[str, Any], feedback_key: str | None) -> Message:
    """The whole reply. A refusal gets no sources block: there is nothing it stands on."""
    citations = [] if answer.get("refused") else answer.get("citations") or []
    tail: list[dict] = []
    if uncovered := [] if answer.get("refused") else answer.get("uncovered") or []:
        names = ", ".join(escape(str(u)) for u in uncovered)
        tail.append({"type": "context", "elements": [
            _mrkdwn(_cut(f":warning: Not covered by the corpus: {names}", MAX_TEXT))]})  # fmt: skip
    if citations:
        tail.append(_sources(citations))
    if feedback_key:
        tail.append(_feedback_buttons(feedback_key))
    body = _sections(to_mrkdwn(answer.get("answer") or ""), MAX_BLOCKS - len(tail))
    return {"text": _fallback(answer.get("answer") or ""), "blocks": body + tail}


def source_line(citation: dict[str, Any]) -> str:
    """`[n] Title › Section — snippet`, as mrkdwn."""
    head = citation.get("work") or citation.get("title", "")  # a guide's pages: the guide
    place = " › ".join(p for p in (_short_title(head), citation.get("section", "")) if p)
    line = f"*[{citation['n']}]* {escape(place)}"
    snippet = _snippet(citation.get("snippet", ""))
    return f"{line} — _{escape(snippet)}_" if snippet else line


def _sources(citations: list[dict[str, Any]]) -> dict:
    lines = ["*Sources*", *(source_line(c) for c in citations)]
    elements: list[dict] = []
    current = ""
    for line in lines:
        line = _cut(line, MAX_TEXT)
        if current and len(current) + 1 + len(line) > MAX_TEXT:
            elements.append(_mrkdwn(current))
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    elements.append(_mrkdwn(current))
    return {"type": "context", "elements": elements[:MAX_CONTEXT_ELEMENTS]}


def _feedback_buttons(key: str) -> dict:
    def button(action_id: str, label: str) -> dict:
        return {
            "type": "button",
            "action_id": action_id,
            "text": {"type": "plain_text", "text": label, "emoji": True},
            "value": key,
        }

    return {
        "type": "actions",
        "block_id": FEEDBACK_BLOCK,
        "elements": [
            button("feedback_up", "👍 Helpful"),
            button("feedback_down", "👎 Not helpful"),
        ],
    }


def _sections(mrkdwn: str, most: int) -> list[dict]:
    """Sections of at most MAX_TEXT characters, split between paragraphs or lines where it
    can; past `most` sections the text is cut (Slack rejects the message otherwise)."""
    chunks: list[str] = []
    rest = mrkdwn.strip() or " "
    while rest:
        if len(rest) <= MAX_TEXT:
            chunks.append(rest)
            break
        cut = max(rest.rfind("\n\n", 0, MAX_TEXT), rest.rfind("\n", 0, MAX_TEXT))
        if cut <= 0:
            cut = rest.rfind(" ", 0, MAX_TEXT)
        if cut <= 0:
            cut = MAX_TEXT
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if len(chunks) > most:
        chunks = chunks[:most]
        chunks[-1] = _cut(chunks[-1], MAX_TEXT)[: MAX_TEXT - 1].rstrip() + "…"
    return [_section(c) for c in chunks]


def _section(text: str) -> dict:
    return {"type": "section", "text": _mrkdwn(text)}


def _mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def _fallback(markdown: str) -> str:
    """The notification text Slack shows where blocks are not (and screen readers use)."""
    return _cut(to_mrkdwn(markdown), MAX_TEXT)


def _short_title(title: str) -> str:
    """Long article titles lose their subtitle: "Modern Backend Frameworks 2025 — NestJS, …"."""
    title = " ".join(title.split())
    if len(title) > TITLE_CHARS:
        for sep in (" — ", " – ", ": "):
            if sep in title:
                title = title.split(sep, 1)[0]
                break
    return _cut(title, TITLE_CHARS)


def _snippet(snippet: str) -> str:
    text = " ".join(snippet.replace("**", "").replace("`", "").split())
    text = text.removeprefix("- ").replace(" … - ", " … ")
    return _cut(text, SNIPPET_CHARS)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    return (head[:space] if space > limit // 2 else head).rstrip() + "…"
