"""A name the corpus never mentions, close to one it does ("Honox", "Axum2", "Lucia v4"),
is not answered with the real one's facts as if they were the asked name's.

Spelling correction maps such a name onto the corpus' closest one, and the answer is
built from that name's passages; so it must say first that the corpus does not mention
the asked name and that what follows is about the closest one it covers (or refuse).
Typos of real names ("fastfy", "djagno") are still just corrected, without a note.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.index.lexical import LexicalIndex
from assistant.models import ChunkRecord, Turn
from assistant.prompts import Prompts
from assistant.query.followup import rewrite
from assistant.query.names import StandIn, stand_in_note, stand_ins
from assistant.settings import REPO_ROOT
from tests.fake_llm_server import FakeLLMServer, Text
from tests.helpers.llm import llm_assistant

SECTIONS = {
    "1. TypeScript backends › Hono": "Hono — edge-first. Runs on Cloudflare Workers, Bun, Deno.",
    "1. TypeScript backends › Fastify": "Fastify — schema-first, with JSON Schema validation.",
    "5. Rust — Axum, Actix-web › Axum": "Axum — Tokio + Tower ecosystem native.",
    "9. Auth": "BetterAuth / Lucia v3 — TS-first auth libraries. Lucia v3 is deprecated.",
    "3. Python › Note": "Python 3.13 free-threaded (no-GIL) is experimental in 2025.",
    "3. Python › Django Ninja": "Django Ninja — FastAPI patterns inside Django.",
    "4. Go › The net/http shift (Go 1.22+)": "Go's standard net/http got routing.",
    "12. Deployment": "Vercel + Next.js (or Hono) — zero-config. Fastify handles 3 routes.",
    "13. Decision tree": "Pick Fastify, Hono, Axum, Django or Prisma for a Python or Next.js shop.",
    "1. TypeScript backends › Quick table": "Elysia — runtime: Bun.",
    "4. Go › Third-party": "Chi, Echo and Gin are still popular.",
}


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return LexicalIndex.build(
        ChunkRecord(id=f"c{n}", text=text, source="a.md", title="", section=section,
                    units=[{"text": text, "raw": text}])
        for n, (section, text) in enumerate(SECTIONS.items())
    )  # fmt: skip


@pytest.mark.parametrize(
    ("question", "asked", "covered"),
    [
        ("Does Honox run on Deno?", "Honox", "Hono"),
        ("does honox run on deno?", "honox", "Hono"),  # typed in lowercase
        ("Honox: does it run on Deno?", "Honox", "Hono"),  # opening the question
        ("Is Axum2 built on Tokio?", "Axum2", "Axum"),
        ("Is Fastifyx schema-first?", "Fastifyx", "Fastify"),
    ],
)
def test_a_name_the_corpus_lacks_next_to_one_it_has_stands_in_for_it(
    lexical: LexicalIndex, question: str, asked: str, covered: str
) -> None:
    assert stand_ins(question, lexical) == [StandIn(asked, covered)]


@pytest.mark.parametrize(
    ("question", "asked", "covered"),
    [
        ("How do I set up Lucia v4?", "Lucia v4", "Lucia"),
        ("How do I set up Lucia 4?", "Lucia 4", "Lucia"),
        ("Is Next.js 16 zero-config on Vercel?", "Next.js 16", "Next.js"),
        ("Is Python 4 production-ready?", "Python 4", "Python"),
        ("is python 4 production-ready?", "python 4", "Python"),
        ("Does Fastify 5 validate with JSON Schema?", "Fastify 5", "Fastify"),
    ],
)
def test_a_version_the_corpus_never_states_for_a_name_it_covers_stands_in(
    lexical: LexicalIndex, question: str, asked: str, covered: str
) -> None:
    assert stand_ins(question, lexical) == [StandIn(asked, covered)]


@pytest.mark.parametrize(
    "question",
    [
        "fastfy shcema validation?",  # typos of names the user obviously meant
        "djagno ninja or fastapi?",
        "does honno run on cloudfare workers n deno??",
        "ppl still using gin in golang or nah",  # an alias
        "Is Lucia v3 deprecated?",  # versions the corpus states
        "Is Python 3.13's free-threaded build ready?",
        "is python 3 free-threaded yet?",  # 3.13 is a Python 3
        "Since Go 1.22, do I still need a router?",
        "since go 1.22.1, do I still need a router?",
        "Is Fastify 3 times faster?",  # a count, not a version
        "Is Laravel 11 good?",  # a name the corpus lacks with nothing close: the gate's
        "How does Elysia start so quickly?",  # words near the corpus' headings, not names
        "Is Rust justified for part of our backend?",
    ],
)
def test_typos_aliases_stated_versions_and_counts_stand_in_for_nothing(
    lexical: LexicalIndex, question: str
) -> None:
    assert stand_ins(question, lexical) == []


def test_names_and_their_versions_are_saved_with_the_index(
    lexical: LexicalIndex, tmp_path: Path
) -> None:
    lexical.save(tmp_path, "g1")
    loaded = LexicalIndex.load(tmp_path)
    assert stand_ins("Lucia v4 setup?", loaded) == [StandIn("Lucia v4", "Lucia")]
    assert stand_ins("Lucia v3 setup?", loaded) == []
    # An index written before versions were recorded says nothing about them (rather
    # than that none is stated), and counts as incomplete so the next ingest rebuilds it.
    (tmp_path / "g1" / "names.json").unlink()
    old = LexicalIndex.load(tmp_path)
    assert stand_ins("Lucia v4 setup?", old) == []
    assert stand_ins("Is Axum2 built on Tokio?", old) == [StandIn("Axum2", "axum")]
    assert not LexicalIndex.is_complete(tmp_path)


def test_the_note_names_what_is_missing_and_what_follows() -> None:
    prompts = Prompts(REPO_ROOT / "prompts")
    one = stand_in_note([StandIn("Honox", "Hono")], prompts)
    assert one.startswith("The corpus doesn't mention Honox;") and "about Hono" in one
    two = stand_in_note([StandIn("Honox", "Hono"), StandIn("Axum2", "Axum")], prompts)
    assert "mention Honox or Axum2;" in two and "about Hono and Axum" in two
    assert stand_in_note([], prompts) == ""


def test_a_follow_up_quoting_the_answer_leaves_its_note_out() -> None:
    history = [
        Turn("user", "What is Honox?"),
        Turn("assistant", "The corpus doesn't mention Honox; what follows is what it says "
             "about Hono, the closest it covers.\n\n- **Hono** — Edge-first. [1]"),
    ]  # fmt: skip
    turn = rewrite("What are its drawbacks?", history)
    assert "Edge-first" in turn.retrieval and "mention" not in turn.retrieval


# -- end to end, on the bundled corpus --------------------------------------------------
NEAR_NAMES = [
    ("What is Honox?", "Honox", "Hono"),
    ("Does Axum2 use Tokio?", "Axum2", "Axum"),
    ("How do I set up Lucia v4?", "Lucia v4", "Lucia"),
    ("Is Next.js 16 a good fit for a tRPC monorepo?", "Next.js 16", "Next.js"),
    ("Is Python 4 production-ready?", "Python 4", "Python"),
    ("Does Fastify 5 validate requests with JSON Schema?", "Fastify 5", "Fastify"),
    ("What is Prismax good for?", "Prismax", "Prisma"),
    ("Does Temporalio replace cron jobs?", "Temporalio", "Temporal"),
    ("NestJS 12 cold start on Lambda?", "NestJS 12", "NestJS"),
]


@pytest.mark.parametrize(("question", "asked", "covered"), NEAR_NAMES)
def test_an_answer_about_a_near_name_says_first_what_it_is_about(
    corpus_assistant, question: str, asked: str, covered: str
) -> None:
    answer = corpus_assistant.ask(question, trace=True)
    if answer.refused:  # refusing is the other honest answer
        return
    first, _, rest = answer.answer.partition("\n\n")
    assert f"doesn't mention {asked};" in first and f"about {covered}," in first, answer.answer
    assert rest and answer.citations  # then the cited answer itself
    assert asked in answer.trace["gate"]["unknown"]


@pytest.mark.parametrize(
    "question",
    [
        "fastfy shcema validation?",
        "djagno ninja or fastapi, which one for a django shop?",
        "does honno run on cloudfare workers n deno??",
        "kysley - does it do db migrations?",
        "Lucia v3 is the go-to auth library for new TypeScript projects, so how do we set it up?",
        "Since Go 1.22, do I still need a router like Chi?",
        "What are Supabase Auth and NextAuth v5 each tied to?",
        "where's no-gil python 3.13 at right now?",
    ],
)
def test_typos_and_stated_versions_are_answered_without_a_note(
    corpus_assistant, question: str
) -> None:
    answer = corpus_assistant.ask(question)
    assert not answer.refused and "doesn't mention" not in answer.answer, answer.answer


def test_a_streamed_answer_sends_the_note_before_anything_else(corpus_assistant) -> None:
    run = corpus_assistant.events("What is Honox?")
    deltas = [data for kind, data in run if kind == "delta"]
    assert "".join(deltas).startswith("The corpus doesn't mention Honox;")


def test_the_llm_is_asked_about_the_covered_name_and_its_stream_follows_the_note(
    corpus_assistant, model_cache
) -> None:
    prompts: list[str] = []

    def reply(body: dict) -> Text:
        prompts.append(str(body["messages"]))
        return Text("Hono is edge-first: one codebase for Workers, Bun, Deno and Node [1].")

    with FakeLLMServer(respond=reply) as server:
        assistant = llm_assistant(corpus_assistant, model_cache, server.url)
        events = list(assistant.stream("What is Honox?"))
    streamed = "".join(data for kind, data in events if kind == "delta")
    done = events[-1][1]
    assert streamed.startswith("The corpus doesn't mention Honox;")
    assert done["answer"] == streamed and done["replaced"] is False
    assert prompts and not any("Honox" in p for p in prompts), prompts
