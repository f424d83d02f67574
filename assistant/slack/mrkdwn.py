"""Between Slack's text formats and ours: the assistant's Markdown as Slack mrkdwn, and a
Slack message's text (mentions, `<url|label>` links, HTML entities) as a plain question."""

from __future__ import annotations

import re

_FENCE = re.compile(r"```.*?```", re.S)
_CODE = re.compile(r"`[^`\n]+`")
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^\s)]+|mailto:[^\s)]+)\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.M)
_BOLD = re.compile(r"\*\*(?=\S)(.+?)(?<=\S)\*\*|__(?=\S)(.+?)(?<=\S)__")
_ITALIC = re.compile(r"(?<![*\w])\*(?=[^\s*])([^*\n]+?)(?<=\S)\*(?![*\w])")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_SLOT = "\x00{}\x00"
_SLOTS = re.compile(r"\x00(\d+)\x00")
_BOLD_MARK = "\x01"  # stands for Slack's `*` until single-star italics are converted


def escape(text: str) -> str:
    """The three characters Slack reads as markup, as the entities it expects."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Markdown → Slack mrkdwn: `**b**` → `*b*`, `*i*` → `_i_`, `# H` → `*H*`, `[t](u)` →
    `<u|t>`, `- x` → `• x`, `&<>` escaped; code is kept verbatim and `[n]` markers stay."""
    kept: list[str] = []

    def keep(text: str) -> str:
        kept.append(text)
        return _SLOT.format(len(kept) - 1)

    text = markdown.replace("\x00", "").replace(_BOLD_MARK, "")
    text = _FENCE.sub(lambda m: keep(escape(m.group(0))), text)
    text = _CODE.sub(lambda m: keep(escape(m.group(0))), text)
    text = _LINK.sub(lambda m: keep(f"<{_url(m.group(2))}|{_label(m.group(1))}>"), text)
    text = _AUTOLINK.sub(lambda m: keep(f"<{_url(m.group(1))}>"), text)
    text = escape(text)
    text = _HEADING.sub(lambda m: _BOLD_MARK + _unbold(m.group(1)) + _BOLD_MARK, text)
    text = _BULLET.sub(lambda m: m.group(1) + "• ", text)
    text = _BOLD.sub(lambda m: _BOLD_MARK + (m.group(1) or m.group(2)) + _BOLD_MARK, text)
    text = _ITALIC.sub(r"_\1_", text)
    text = _STRIKE.sub(r"~\1~", text)
    text = text.replace(_BOLD_MARK, "*")
    return _SLOTS.sub(lambda m: kept[int(m.group(1))], text)


def _unbold(text: str) -> str:
    return text.replace("**", "").replace("__", "")


def _label(text: str) -> str:
    """Link labels are plain in Slack: no markup, and no `|` or `>` to end the link early."""
    return escape(_unbold(text).replace("|", "/"))


def _url(url: str) -> str:
    return url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")


_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_CHANNEL = re.compile(r"<#[CG][A-Z0-9]+\|([^>]*)>")
_SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_SLACK_LINK = re.compile(r"<((?:https?|mailto):[^>|]+)(?:\|([^>]*))?>")


def plain_question(text: str, bot_user_id: str | None = None) -> str:
    """A Slack message as the question it asks: the bot's own mention removed, other
    mentions and links as readable text, entities decoded, whitespace collapsed."""

    def mention(m: re.Match) -> str:
        return "" if m.group(1) == bot_user_id else f"@{m.group(1)}"

    text = _MENTION.sub(mention, text or "")
    text = _CHANNEL.sub(r"#\1", text)
    text = _SPECIAL.sub(r"@\1", text)
    text = _SLACK_LINK.sub(lambda m: m.group(2) or m.group(1), text)
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return " ".join(text.split())
