"""A follow-up is condensed into the question it stands for, not glued to the one before.

The earlier question keeps its subject and intent; what the turn says replaces what it
changes: a name the name in the same place, an aspect the aspect, a reference what it
refers to. Histories are hand-made; the last tests read names with the bundled article's
own vocabulary and quote its lines as the answer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from assistant.index.lexical import LexicalIndex
from assistant.models import ChunkRecord, Turn
from assistant.query.followup import Rewrite, is_follow_up, rewrite, told

ARTICLE = Path(__file__).resolve().parent.parent / "corpus" / "modern-backend-frameworks-2025.md"


def said(*turns: str) -> list[Turn]:
    """A conversation: user and assistant turns in turn."""
    return [Turn("user" if i % 2 == 0 else "assistant", t) for i, t in enumerate(turns)]


def condensed(question: str, *turns: str, lexical: LexicalIndex | None = None) -> Rewrite:
    return rewrite(question, said(*turns), lexical)


# -- a new name replaces the old one -------------------------------------------------------
@pytest.mark.parametrize(
    ("earlier", "turn", "meant"),
    [
        ("Which ORM is the default for Python?", "and for Rust?",
         "Which ORM is the default for Rust?"),
        ("What's the default background job queue in Node?", "And the Python counterpart?",
         "What's the default background job queue in Python?"),
        ("What do Python teams typically use for background jobs?", "what about Ruby shops?",
         "What do Ruby teams typically use for background jobs?"),
        ("Which Go frameworks suit high-throughput services?", "And the Rust counterpart?",
         "Which Rust frameworks suit high-throughput services?"),
        # "the JVM" but plain "Go": the article goes with the name it belonged to
        ("What's the default data layer on the JVM?", "what about Go?",
         "What's the default data layer on Go?"),
        ("Which ORM is the default for Python?", "same for Go", "Which ORM is the default for Go?"),
        ("Does Hono run on Bun?", "and if we're on Deno?", "Does Hono run on Deno?"),
    ],
)  # fmt: skip
def test_a_new_name_replaces_the_earlier_one_and_the_question_stays(
    earlier: str, turn: str, meant: str
) -> None:
    turn_ = condensed(turn, earlier, "An answer [1].")
    assert turn_.standalone == meant
    assert turn_.retrieval == meant  # nothing of the earlier answer: the subject changed
    assert not turn_.refers_back


def test_the_name_replaced_is_the_one_in_the_same_place() -> None:
    earlier = "Is Spring Boot still the right call for enterprise Java?"
    # "for Kotlin" stands where "for enterprise Java" stood (and is still about enterprise) …
    assert condensed("and for Kotlin?", earlier).standalone == (
        "Is Spring Boot still the right call for enterprise Kotlin?"
    )
    # … a bare name takes the place of the question's subject
    assert condensed("what about Quarkus?", earlier).standalone == (
        "Is Quarkus still the right call for enterprise Java?"
    )
    # the kind of thing asked for ("Which ORM …") is never what a name replaces
    assert condensed("what about Gleam?", "Which ORM pairs well with Elixir?").standalone == (
        "Which ORM pairs well with Gleam?"
    )


def test_a_choice_replaces_a_choice() -> None:
    turn = condensed("what about Hono or Elysia?", "Fastify or NestJS for a big team?")
    assert turn.standalone == "Hono or Elysia for a big team?"


def test_a_name_with_what_it_asks_of_it_is_its_own_question() -> None:
    turn = "what about Go's error handling?"
    assert condensed(turn, "Which ORM is the default for Python?") == Rewrite(turn, turn)


# -- a new aspect replaces the old one -----------------------------------------------------
def test_the_opposite_superlative_replaces_the_earlier_one() -> None:
    history = ("Which Rust web framework is fastest?", "Actix-web — fastest in benchmarks [1].")
    for turn in ("and which is the slowest?", "and the slowest?"):
        condensed_ = condensed(turn, *history)
        assert condensed_.standalone == "Which Rust web framework is slowest?"
        assert "Actix" not in condensed_.retrieval  # the first answer is not searched again
    assert condensed("what about the most popular?", *history).standalone == (
        "Which Rust web framework is most popular?"
    )


def test_another_aspect_is_asked_of_the_earlier_subject() -> None:
    spring = ("Is Spring Boot still the right call for enterprise Java?",
              "Yes. It's the default for enterprise Java and its ecosystem is unmatched [1].")  # fmt: skip
    turn = condensed("what about the downsides?", *spring)
    assert turn.standalone == "What about the downsides of Spring Boot?"
    assert turn.refers_back and "ecosystem is unmatched" not in turn.retrieval
    # Asked after "which …?", the subject is what the answer picked.
    picked = condensed("what about the downsides?", "Which Rust web framework is fastest?",
                       "Actix-web — fastest in raw benchmarks [1].")  # fmt: skip
    assert picked.standalone == "What about the downsides of Actix-web?"


# -- a reference is resolved ---------------------------------------------------------------
def test_its_is_the_earlier_questions_subject() -> None:
    turn = condensed(
        "What are its drawbacks, though?",
        "Is Spring Boot still the right call for enterprise Java?",
        "Yes. It's the default for enterprise Java [1].",
    )
    assert turn.standalone == "What are Spring Boot's drawbacks, though?"
    assert turn.refers_back and "default for enterprise Java" in turn.retrieval


@pytest.mark.parametrize(
    ("earlier", "answer", "turn", "meant"),
    [
        ("Which Python ORM should we pick?",
         "SQLAlchemy 2.0 [1]. Sequelize is legacy: avoid it for new projects.",
         "Does that one support async?", "Does SQLAlchemy 2.0 support async?"),
        ("We have a Next.js app and a Node API in one TS monorepo. Which API style?",
         "tRPC: end-to-end types without code generation [1].",
         "Would the same choice work for the API we're opening up to partners?",
         "Would tRPC work for the API we're opening up to partners?"),
        ("Which framework should we use on Cloudflare Workers?",
         "- **Hono** — Edge-first. Runs on Cloudflare Workers, Bun, Deno, Node [1]",
         "Is it mature?", "Is Hono mature?"),
    ],
)  # fmt: skip
def test_a_reference_to_the_pick_is_the_thing_the_answer_leads_with(
    earlier: str, answer: str, turn: str, meant: str
) -> None:
    condensed_ = condensed(turn, earlier, answer)
    assert condensed_.standalone == meant
    assert condensed_.refers_back


def test_the_second_one_is_the_second_thing_the_answers_cited_lines_name() -> None:
    earlier = "Which TS-first auth libraries are out there?"
    sentence = condensed("Is the second one a good choice for a brand-new project?", earlier,
                         "BetterAuth and Lucia v3 [1].")  # fmt: skip
    assert sentence.standalone == "Is Lucia v3 a good choice for a brand-new project?"
    lines = ("- BetterAuth — the default [1]\n- **Lucia v3** — deprecated [1]\n"
             "- NextAuth v5 (Auth.js) — Next-integrated. [2]")  # fmt: skip
    assert condensed("Is the last one maintained?", earlier, lines).standalone == (
        "Is NextAuth v5 maintained?"
    )
    listed = condensed("Is the second one still maintained?",
                       "Which Go frameworks suit high-throughput services?",
                       "Chi, Echo, Fiber or Gin, or plain net/http now that Go 1.22 has method "
                       "routing [1][2].")  # fmt: skip
    assert listed.standalone == "Is Echo still maintained?"


def test_what_an_answer_only_notes_or_states_is_no_pick() -> None:
    # An uncited note says what the corpus lacks; the cited line is what was answered.
    noted = condensed("Is that one mature?", "What's the edge framework here, Honox?",
                      "The corpus doesn't mention Honox; what follows is about Hono.\n\n"
                      "- **Hono** — Edge-first. [1]")  # fmt: skip
    assert noted.standalone == "Is Hono mature?"
    # "Fastify replies with a 400 …" is a fact, not a pick: "it" stays with the question.
    fact = condensed("Can I make it a 422 instead?",
                     "What happens when the body fails schema validation?",
                     "Fastify replies with a 400 carrying the validator's message [1].")  # fmt: skip
    assert fact.standalone == (
        "What happens when the body fails schema validation? Can I make it a 422 instead?"
    )
    assert fact.refers_back and "replies with a 400" in fact.retrieval
    # A refusal cites nothing: nothing in it is what "the second one" means.
    refused = condensed("Is the second one any good?", "Which ORM for Gleam?",
                        "The corpus doesn't cover this question, so I won't guess.")  # fmt: skip
    assert refused.standalone.startswith("Which ORM for Gleam? ")


def test_there_is_the_place_the_earlier_question_named() -> None:
    turn = condensed(
        "POST bodies arrive mangled there. What am I missing?",
        "Can I run fastify on Google Cloud Functions?",
        "Yes: export a function that awaits fastify.ready() [1].",
    )
    assert turn.standalone == (
        "POST bodies arrive mangled on Google Cloud Functions. What am I missing?"
    )


# -- conditions ----------------------------------------------------------------------------
def test_a_condition_is_added_or_takes_the_place_of_its_counterpart() -> None:
    edge = "What's a good framework for deploying an API to edge runtimes?"
    assert condensed("And if we're all-in on Bun specifically?", edge).standalone == (
        f"{edge[:-1]} if we're all-in on Bun specifically?"
    )
    hooks = condensed("and if I only want it on a single route?",
                      "How do I run an auth check on every request in fastify?",
                      "Register an onRequest hook with fastify.addHook [1].")  # fmt: skip
    assert hooks.standalone == "How do I run an auth check on a single route in fastify?"
    assert "addHook" in hooks.retrieval  # "it" is what the answer said to register


@pytest.mark.parametrize(
    "turn",
    ["right, but routes registered outside that plugin can't see it. How do I expose it?",
     "ok so which of them starts fastest?", "Well, what does the guide say about Go?",
     "in TypeScript? I'd rather not hand-write an interface that mirrors the schema"],
)  # fmt: skip
def test_a_turn_opening_by_going_on_from_the_last_is_a_follow_up(turn: str) -> None:
    assert is_follow_up(turn)  # however many words of its own it has


# -- what is left alone --------------------------------------------------------------------
@pytest.mark.parametrize(
    "turn",
    ["What is Hono?", "Is it OK to skip migrations on a small project?",
     "How do I deploy Elysia to Fly.io?", "In Python, how do I retry a failed job?",
     "At what time of day does the nightly scheduler run?"],
)  # fmt: skip
def test_a_turn_that_is_no_follow_up_is_left_alone(turn: str) -> None:
    assert not is_follow_up(turn)
    earlier = "Which ORM is the default for Python?"
    condensed_ = condensed(turn, earlier, "SQLAlchemy 2.0 [1].")
    assert (condensed_.standalone, condensed_.retrieval) == (turn, turn)
    # Without the corpus no name is known to be a subject of its own: the turn is also
    # searched in the conversation, and the service keeps whichever answers it.
    assert condensed_.in_context.startswith(f"{earlier} {turn}")
    assert "SQLAlchemy 2.0" in condensed_.in_context


def test_without_a_conversation_nothing_changes() -> None:
    assert rewrite("and for Go?", []) == Rewrite("and for Go?", "and for Go?")
    assert rewrite("and for Go?", [Turn("assistant", "Hello [1].")]).standalone == "and for Go?"


def test_a_turn_no_rule_reads_is_put_after_the_question_it_leans_on() -> None:
    turn = condensed("why?", "Does Hono run on Bun?", "Yes [1].")
    assert turn.standalone == "Does Hono run on Bun? Why?"


# -- chains ------------------------------------------------------------------------------
def test_a_chain_of_follow_ups_keeps_the_first_questions_intent() -> None:
    turn = condensed(
        "what about Go?",
        "Which ORM is the default for Python?", "SQLAlchemy 2.0 [1].",
        "and for Rust?", "sqlx / SeaORM / Diesel (Rust) — pick on compile-time checks [1].",
    )  # fmt: skip
    assert turn.standalone == "Which ORM is the default for Go?"
    aspect_then_name = condensed(
        "and for Quarkus?",
        "Is Spring Boot still the right call for enterprise Java?", "Yes [1].",
        "What are its drawbacks?", "Downsides: JVM memory, slower dev loop [1].",
    )  # fmt: skip
    assert aspect_then_name.standalone == "What are Quarkus's drawbacks?"


def test_a_stored_standalone_turn_is_read_as_it_was_meant() -> None:
    # Stored conversations hand back user turns already condensed: nothing is redone.
    turn = condensed(
        "and which is the slowest?",
        "Which Rust web framework is fastest?", "Actix-web — fastest [1].",
        "What are Actix-web's drawbacks?", "Unsafe history [1].",
    )  # fmt: skip
    assert turn.standalone == "What are Actix-web's drawbacks? Which is the slowest?"


# -- with the corpus' own vocabulary -------------------------------------------------------
@pytest.fixture(scope="module")
def article() -> tuple[LexicalIndex, dict[str, list[str]]]:
    """The bundled article's index, and the bullet lines of each of its sections."""
    records, lines, section = [], {}, ""
    for block in re.split(r"\n(?=#{1,3} )", ARTICLE.read_text(encoding="utf-8")):
        heading, _, body = block.partition("\n")
        section = heading.lstrip("# ").strip()
        lines[section] = [ln for ln in body.splitlines() if ln.startswith("- ")]
        if body.strip():
            units = [{"text": p, "raw": p} for p in body.split("\n") if p.strip()]
            records.append(ChunkRecord(id=f"c{len(records)}", text=body, source=ARTICLE.name,
                                       title="", section=section, units=units))  # fmt: skip
    return LexicalIndex.build(records), lines


def test_a_name_typed_in_lowercase_is_a_name_the_corpus_writes(article) -> None:
    lexical, _ = article
    history = ("Which ORM is the default for python?", "SQLAlchemy 2.0 [1].")
    assert condensed("and for rust?", *history, lexical=lexical).standalone == (
        "Which ORM is the default for rust?"
    )
    # Without the corpus, "rust" could be the word: the turn is only put after the question.
    assert condensed("and for rust?", *history).standalone == (
        "Which ORM is the default for python? For rust?"
    )


def test_a_long_turn_whose_pronoun_has_nothing_in_it_to_stand_for_goes_on(article) -> None:
    lexical, _ = article
    history = ("Does Hono run on Bun?", "Yes [1].")
    # Earthly and Nix are no subject of the corpus "it" could stand for: it is Hono.
    turn = "How fast does it start when our CI pipeline builds with Earthly and Nix?"
    assert condensed(turn, *history, lexical=lexical).standalone == (
        "How fast does Hono start when our CI pipeline builds with Earthly and Nix?"
    )
    # "it" comes before the names the turn has: it cannot stand for them, so it is Hono.
    turn = "How fast does it start compared with Fastify and Express on Node?"
    assert condensed(turn, *history, lexical=lexical).standalone == (
        "How fast does Hono start compared with Fastify and Express on Node?"
    )


@pytest.mark.parametrize(
    "turn",
    ["We're on the Redis broker in production — anything to watch out for with that?",
     "We keep every result in Postgres with a nightly cleanup job. Will that work?",
     "Can that queue be a RabbitMQ quorum queue, and what changes on the worker side?"],
)  # fmt: skip
def test_a_sentence_pointing_back_before_it_names_anything_goes_on(article, turn: str) -> None:
    lexical, _ = article  # it has Redis, Postgres and RabbitMQ: each a subject of its own
    history = ("Can I schedule a task 6 hours out?", "Yes, pass eta= [1].")
    rewritten = condensed(turn, *history, lexical=lexical)
    assert rewritten.standalone.startswith("Can I schedule a task 6 hours out? ")


def test_a_reference_after_a_name_in_its_sentence_is_to_that_name(article) -> None:
    lexical, _ = article
    turn = "Does Fastify log requests, and can I turn it off?"
    history = ("Which ORM is the default for Python?", "SQLAlchemy [1].")
    assert condensed(turn, *history, lexical=lexical) == Rewrite(turn, turn)


def test_only_a_turn_naming_nothing_the_corpus_has_is_searched_with_the_conversation(
    article,
) -> None:
    lexical, _ = article
    history = ("Which ORM is the default for Python?", "SQLAlchemy 2.0 [1].")
    own = "Is Axum fast enough for a high-throughput API?"
    assert condensed(own, *history, lexical=lexical) == Rewrite(own, own)
    bare = "what's the default out of the box?"
    rewritten = condensed(bare, *history, lexical=lexical)
    assert (rewritten.standalone, rewritten.retrieval) == (bare, bare)
    assert rewritten.in_context.startswith(f"{history[0]} {bare}")
    assert "SQLAlchemy 2.0" in rewritten.in_context


def test_the_second_one_of_an_answer_quoting_the_article(article) -> None:
    lexical, lines = article
    orm = lines["8. ORM / data layer"]
    answer = "\n".join(f"{ln} [1]" for ln in orm if "(Rust)" in ln)
    assert answer.startswith("- sqlx / SeaORM / Diesel (Rust)")
    turn = condensed("Does the second one check queries at compile time?",
                     "Which ORM is the default for Rust?", answer, lexical=lexical)  # fmt: skip
    assert turn.standalone == "Does SeaORM check queries at compile time?"
    auth = "\n".join(f"{ln} [1]" for ln in lines["9. Auth — the 2025 landscape"])
    lucia = condensed("Is the second one a good choice for a brand-new project?",
                      "Which TS-first auth libraries are out there?", auth, lexical=lexical)  # fmt: skip
    assert lucia.standalone == "Is Lucia v3 a good choice for a brand-new project?"


def test_what_the_last_answer_told_is_its_lines_without_labels_bullets_or_markers() -> None:
    answer = (
        "The corpus doesn't mention Bun.\n\n**`bodyLimit`** — Defines the maximum payload [1]\n\n"
        "- **`bodyLimit`** — Default: `1048576` [1]\n- Sources: [2]"
    )
    history = [Turn("user", "first question"), Turn("assistant", "an older answer"),
               Turn("user", "how big may a body be?"), Turn("assistant", answer)]  # fmt: skip
    lines = told(history)
    assert lines[1] == frozenset({"define", "maximum", "payload"})
    assert not any("bodylimit" in line for line in lines)  # the label is the section, not told
    assert {"default", "1048576"} <= lines[2]
    assert len(lines) == 3  # "Sources:" is a single word: nothing a unit could repeat
    assert told([Turn("user", "a first question")]) == ()
