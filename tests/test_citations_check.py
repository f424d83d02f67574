"""The citation check on its own: what an LLM answer may cite, and when it must not be
returned as written."""

from __future__ import annotations

import pytest

from assistant.grounding.citations import check_citations, claims, sentences

KNOWN = {1, 2, 3}


def test_a_fully_cited_answer_passes_unchanged() -> None:
    text = "Fastify is schema-first [1]. Hono runs on the edge [2].\n\n- Elysia is Bun-first [3]."
    check = check_citations(text, KNOWN)
    assert check.ok and check.reason is None
    assert check.text == text
    assert check.cited == [1, 2, 3] and check.removed == [] and check.uncited == []


def test_unknown_numbers_are_removed_and_reported() -> None:
    check = check_citations("Fastify is schema-first [1][7]. Hono is edge-first [2, 9].", KNOWN)
    assert check.ok
    assert check.text == "Fastify is schema-first [1]. Hono is edge-first [2]."
    assert check.removed == [7, 9] and check.cited == [1, 2]


def test_grouped_markers_are_split_into_single_ones() -> None:
    check = check_citations("Pick Fastify or Hono for speed [1, 2].", KNOWN)
    assert check.text == "Pick Fastify or Hono for speed [1][2]."


def test_a_claim_whose_only_citation_was_unknown_fails() -> None:
    check = check_citations(
        "Fastify is schema-first [1]. Hono is the fastest on Lambda [8].", KNOWN
    )
    assert not check.ok
    assert check.removed == [8]
    assert check.uncited == ["Hono is the fastest on Lambda."]
    assert "claim without a citation" in check.reason and "fastest on Lambda" in check.reason


def test_an_uncited_claim_sentence_fails() -> None:
    check = check_citations("Fastify is schema-first [1]. Rails is great for startups.", KNOWN)
    assert not check.ok and check.uncited == ["Rails is great for startups."]


def test_an_answer_without_any_valid_citation_fails() -> None:
    for text in ("Fastify is schema-first.", "Fastify is schema-first [5].", "Fast (source 1)."):
        check = check_citations(text, KNOWN)
        assert not check.ok and check.cited == []
        assert "cites no retrieved passage" in check.reason
    assert "unknown: [5]" in check_citations("Fastify is schema-first [5].", KNOWN).reason


def test_an_empty_answer_fails_with_its_own_reason() -> None:
    check = check_citations("   ", KNOWN)
    assert not check.ok and check.reason == "the model returned an empty answer"


@pytest.mark.parametrize(
    "text",
    [
        "## Fastify vs Hono\nFastify is schema-first [1].",  # a heading states nothing
        "In short:\n- Fastify is schema-first [1]",  # a lead-in ending with a colon
        "Fastify is schema-first [1]. Which one fits your team?",  # a question
        "Fastify is schema-first [1]. The sources do not compare memory use.",  # a remark
        "Fastify is schema-first [1]. Pick it.",  # too short to be a claim
        "| option | note |\n|---|---|\n| Fastify | schema-first [1] |",  # table rows
        "Fastify is schema-first [1].\n```ts\nconst app = fastify()\n```",  # code is not prose
    ],
)
def test_sentences_that_state_nothing_need_no_citation(text: str) -> None:
    assert check_citations(text, KNOWN).ok


def test_a_marker_after_the_full_stop_belongs_to_its_sentence() -> None:
    assert sentences("Fastify is schema-first. [1] Hono runs on the edge. [2]") == [
        "Fastify is schema-first. [1]",
        "Hono runs on the edge. [2]",
    ]
    assert check_citations("Fastify is schema-first. [1] Hono runs on the edge. [2]", KNOWN).ok


def test_abbreviations_do_not_end_a_sentence() -> None:
    assert sentences("Use an edge framework, e.g. Hono or Elysia [2].") == [
        "Use an edge framework, e.g. Hono or Elysia [2]."
    ]


def test_list_items_are_claims_of_their_own() -> None:
    assert claims("- Fastify is schema-first [1]\n- Hono is small and edge-first") == [
        "Fastify is schema-first [1]",
        "Hono is small and edge-first",
    ]
    assert not check_citations(
        "- Fastify is schema-first [1]\n- Hono is small and edge-first", KNOWN
    ).ok


def test_removal_leaves_no_stray_space_before_punctuation() -> None:
    check = check_citations("Fastify is fast [1], and Hono is light [9].", KNOWN)
    assert check.text == "Fastify is fast [1], and Hono is light."
