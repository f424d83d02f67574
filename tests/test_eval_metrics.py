"""Eval metrics on hand-made answers: cases that may be answered in part, whether an
answer leads with what was asked, and raw markup shown to the reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.evaluation.cases import Case, CaseError, load_file
from assistant.evaluation.metrics import aggregate, markup_leaks, score_case
from assistant.models import Answer


def _answer(refused: bool, uncovered: list[str], text: str = "x") -> Answer:
    return Answer("q", text, [], refused, "extractive", uncovered=uncovered)


# -- cases answered in part --------------------------------------------------------------
def test_a_case_that_may_go_either_way_passes_refused_or_flagged(tmp_path: Path) -> None:
    file = tmp_path / "u.yaml"
    file.write_text(
        "category: uncovered_subject\ncases:\n"
        "  - id: u1\n    question: Should we pair FastAPI with Tortoise ORM?\n"
        "    expect: {uncovered: [Tortoise ORM]}\n"
    )
    [case] = load_file(file)
    assert case.refuse is None and case.uncovered == ["Tortoise ORM"]
    assert score_case(case, _answer(True, [])).passed
    assert score_case(case, _answer(False, ["Tortoise ORM"])).passed
    wrong = score_case(case, _answer(False, []))
    assert not wrong.passed and wrong.unflagged == ["Tortoise ORM"]
    metrics = aggregate([wrong, score_case(case, _answer(True, []))], k=5)
    assert metrics["confident_wrong"] == 1
    assert metrics["refusal_precision"] == 1.0  # refusing it was allowed


def test_a_case_without_refuse_must_name_what_is_uncovered(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text("category: factual\ncases:\n  - id: b\n    question: q?\n    expect: {}\n")
    with pytest.raises(CaseError, match="refuse"):
        load_file(file)


# -- lead and markup -----------------------------------------------------------------------
def _case_with_facts() -> Case:
    return Case("l", "factual", "Which is fastest?", False, facts=[["actix-web"], ["raw"]])


def test_an_answer_leads_when_its_first_line_holds_an_expected_fact() -> None:
    case = _case_with_facts()
    first = (
        "- **Actix-web** — still the fastest in raw benchmarks [1]\n- **Axum** — the default [2]"
    )
    assert score_case(case, _answer(False, [], first)).lead_ok is True
    buried = "- **Axum** — the default [1]\n- **Actix-web** — fastest [2]"
    assert score_case(case, _answer(False, [], buried)).lead_ok is False
    # The note on what the corpus lacks comes first by design: the line after it leads.
    noted = "The corpus says nothing about Crystal; …\n\n- **Actix-web** — fastest [1]"
    assert score_case(case, _answer(False, ["Crystal"], noted)).lead_ok is True
    assert score_case(case, _answer(True, [])).lead_ok is None  # a refusal leads with nothing
    results = [score_case(case, _answer(False, [], t)) for t in (first, buried)]
    assert aggregate(results, k=5)["lead"] == 0.5


def test_raw_markup_in_an_answer_or_its_sources_is_counted() -> None:
    from assistant.models import Citation

    leaky = Answer("q", 'Use it <a id="on-close"></a> like so [1]', [Citation(
        1, "docs/Hooks.md", "Hooks", "Hooks › onClose { #on-close }", "/// tip", 0.5)],
        False, "extractive")  # fmt: skip
    found = markup_leaks(leaky)
    assert '<a id="on-close">' in found and "{ #on-close }" in found
    assert any(m.startswith("///") for m in found)
    # Types in code and comparisons are not markup.
    clean = Answer("q", "reply.send() returns Promise<string>; a < b > c [1]", [], False, "x")
    assert markup_leaks(clean) == []
