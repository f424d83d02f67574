"""Markdown → Slack mrkdwn, Slack text → question, and Block Kit within Slack's limits."""

from __future__ import annotations

import json

import pytest

from assistant.slack.blocks import MAX_BLOCKS, MAX_TEXT, answer_message, notice, source_line
from assistant.slack.mrkdwn import plain_question, to_mrkdwn

CITATION = {
    "n": 1,
    "source": "backend-frameworks.md",
    "title": "Modern Backend Frameworks 2025 — NestJS, Fastify, Hono, Elysia, Spring Boot, FastAPI",
    "section": "1. TypeScript backends › Fastify",
    "snippet": "- The raw-speed Node framework. Schema-first (JSON Schema) is the killer feature — "
    "validation, serialization, and OpenAPI for free. … - Use when: REST APIs with schema",
    "score": 0.8,
}


@pytest.mark.parametrize(
    ("markdown", "mrkdwn"),
    [
        ("**Fastify** — fast [1].", "*Fastify* — fast [1]."),
        ("__bold__ and *italic* and _also_", "*bold* and _italic_ and _also_"),
        ("# Pick one\n## Why", "*Pick one*\n*Why*"),
        ("### **Already bold**", "*Already bold*"),
        ("[the docs](https://fastify.dev/?a=1&b=2)", "<https://fastify.dev/?a=1&amp;b=2|the docs>"),
        ("<https://hono.dev>", "<https://hono.dev>"),
        ("a & b < c > d", "a &amp; b &lt; c &gt; d"),
        ("- one\n* two\n  + nested", "• one\n• two\n  • nested"),
        ("~~gone~~", "~gone~"),
        ("`a **b** <c>`", "`a **b** &lt;c&gt;`"),
        ("```\n**kept** & <x>\n```", "```\n**kept** &amp; &lt;x&gt;\n```"),
        ("[1] and [2][3] stay; [x] too", "[1] and [2][3] stay; [x] too"),
        ("5 * 3 * 2", "5 * 3 * 2"),
        ("**bold *italic* inside**", "*bold _italic_ inside*"),
        ("[a|b](https://x.io/?q=<1>)", "<https://x.io/?q=%3C1%3E|a/b>"),
    ],
)
def test_markdown_becomes_slack_mrkdwn(markdown: str, mrkdwn: str) -> None:
    assert to_mrkdwn(markdown) == mrkdwn


def test_answers_as_the_assistant_writes_them() -> None:
    answer = (
        "- **NestJS** — Downsides: boilerplate, slower cold-start than Fastify/Hono. [1]\n"
        "- **Fastify** — Schema-first (JSON Schema) is the killer feature. [2]"
    )
    assert to_mrkdwn(answer) == (
        "• *NestJS* — Downsides: boilerplate, slower cold-start than Fastify/Hono. [1]\n"
        "• *Fastify* — Schema-first (JSON Schema) is the killer feature. [2]"
    )


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("<@UBOT1> What is Hono?", "What is Hono?"),
        ("<@UBOT1|stackguide>   What   is\nHono?", "What is Hono?"),
        ("<@UBOT1>", ""),
        ("Ask <@U0BOB|bob> in <#C1|backend>: <!here>", "Ask @U0BOB in #backend: @here"),
        ("Is <https://hono.dev|Hono> &lt;Elysia &amp; co&gt;?", "Is Hono <Elysia & co>?"),
        ("see <https://hono.dev>", "see https://hono.dev"),
        ("mid-sentence <@UBOT1> mention", "mid-sentence mention"),
    ],
)
def test_slack_text_becomes_the_question(text: str, question: str) -> None:
    assert plain_question(text, "UBOT1") == question


def answer(text: str, citations=(CITATION,), refused: bool = False) -> dict:
    return {"question": "q", "answer": text, "citations": list(citations), "refused": refused,
            "conversation_id": "c1"}  # fmt: skip


def test_a_reply_is_the_answer_then_sources_then_buttons() -> None:
    message = answer_message(answer("**Fastify** — Schema-first [1]."), "c1:1")
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds == ["section", "context", "actions"]
    assert message["blocks"][0]["text"] == {
        "type": "mrkdwn",
        "text": "*Fastify* — Schema-first [1].",
    }
    sources = message["blocks"][1]["elements"][0]["text"]
    assert sources.splitlines()[0] == "*Sources*"
    assert sources.splitlines()[1].startswith(
        "*[1]* Modern Backend Frameworks 2025 › 1. TypeScript backends › Fastify — _The raw-speed"
    )
    actions = message["blocks"][2]
    assert actions["block_id"] == "feedback"
    assert [(e["action_id"], e["value"]) for e in actions["elements"]] == [
        ("feedback_up", "c1:1"), ("feedback_down", "c1:1")]  # fmt: skip
    assert message["text"] == "*Fastify* — Schema-first [1]."  # the notification fallback


def test_a_source_line_is_short_and_escaped() -> None:
    line = source_line({**CITATION, "title": "A <b> & c", "snippet": "x " * 400})
    assert line.startswith("*[1]* A &lt;b&gt; &amp; c › 1. TypeScript backends › Fastify — _")
    assert len(line) < 260 and line.endswith("…_")


def test_a_refusal_has_no_sources_block() -> None:
    refusal = answer("The corpus doesn't cover this question.", citations=(), refused=True)
    message = answer_message(refusal, "c1:1")
    assert [b["type"] for b in message["blocks"]] == ["section", "actions"]
    # even if citations came along with a refusal, none are shown as its sources
    message = answer_message({**refusal, "citations": [CITATION]}, None)
    assert [b["type"] for b in message["blocks"]] == ["section"]


def test_long_answers_stay_within_slack_limits() -> None:
    paragraph = "Fastify is fast and schema-first with JSON Schema. " * 40  # ~2 kB
    huge = "\n\n".join(f"{i}. {paragraph}" for i in range(200))  # ~400 kB, 200 paragraphs
    citations = [{**CITATION, "n": n, "snippet": "s " * 300} for n in range(1, 40)]
    message = answer_message(answer(huge, citations), "c1:1")
    blocks = message["blocks"]
    assert len(blocks) == MAX_BLOCKS
    assert blocks[-1]["type"] == "actions" and blocks[-2]["type"] == "context"
    for b in blocks:
        texts = [b["text"]["text"]] if b["type"] == "section" else []
        texts += [e["text"] for e in b.get("elements", []) if e.get("type") == "mrkdwn"]
        assert all(0 < len(t) <= MAX_TEXT for t in texts)
    assert blocks[-3]["text"]["text"].endswith("…")  # cut, and says so
    assert len(blocks[-2]["elements"]) <= 10
    assert len(message["text"]) <= MAX_TEXT
    # one line longer than a section splits too, without losing the start
    single = answer_message(answer("word " * 2000), None)["blocks"]
    assert [b["type"] for b in single] == ["section"] * 4 + ["context"]
    assert single[0]["text"]["text"].startswith("word word")


def test_notices_are_one_section() -> None:
    message = notice(":warning: Sorry")
    assert message == {"text": ":warning: Sorry",
                       "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                               "text": ":warning: Sorry"}}]}  # fmt: skip
    json.dumps(message)  # plain data, as the Web API wants it
