"""The eval suite: the dataset is well-formed, malformed cases are rejected with file and
line, the metrics can fail, and the offline assistant meets the thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.evaluation.cases import (
    CATEGORIES,
    CaseError,
    apply_overrides,
    load_dataset,
    load_file,
)
from assistant.evaluation.metrics import score_case, section_matches
from assistant.evaluation.runner import below_thresholds, load_thresholds, run_cases
from assistant.models import Answer, Citation
from assistant.settings import REPO_ROOT

CASES = REPO_ROOT / "evals" / "cases"
HOLDOUT = REPO_ROOT / "evals" / "holdout"


def test_dataset_is_large_and_covers_every_category() -> None:
    cases = load_dataset(CASES)
    assert len(cases) >= 100
    for cat in CATEGORIES:
        assert sum(c.category == cat for c in cases) >= 8, cat


@pytest.mark.parametrize("dataset", [CASES, HOLDOUT], ids=["cases", "holdout"])
def test_every_expected_section_exists_in_the_corpus(corpus_assistant, dataset: Path) -> None:
    sections = {r.section for r in corpus_assistant.store.iter_records()}
    for case in load_dataset(dataset):
        for want in case.sections:
            assert any(section_matches(want, s) for s in sections), f"{case.where}: {want}"


def test_the_held_out_set_is_apart_from_the_cases() -> None:
    held_out = load_dataset(HOLDOUT)
    assert len(held_out) >= 50
    assert not {c.id for c in held_out} & {c.id for c in load_dataset(CASES)}
    assert not {c.question for c in held_out} & {c.question for c in load_dataset(CASES)}


def test_eval_without_the_gate_reports_misses_and_exits_zero(corpus_assistant, tmp_path) -> None:
    from click.testing import CliRunner

    from assistant.cli import cli

    floors = tmp_path / "thresholds.toml"
    floors.write_text("[thresholds]\nwords_mean = 1000.0\n")  # no answer is that long
    args = ["--data-dir", str(corpus_assistant.settings.data_dir), "eval", "--dataset",
            str(HOLDOUT), "--category", "factual", "--thresholds", str(floors),
            "--report", str(tmp_path / "r.json")]  # fmt: skip
    gated = CliRunner().invoke(cli, args)
    assert gated.exit_code == 1, gated.output
    assert "below threshold: words_mean" in gated.output
    reported = CliRunner().invoke(cli, [*args, "--no-gate"])
    assert reported.exit_code == 0, reported.output
    assert "below threshold: words_mean" in reported.output
    assert (tmp_path / "r.md").exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("category: factual\ncases:\n  - id: a\n    question: q\n", "expect"),
        ("category: factual\ncases:\n  - id: a\n    question: ''\n    expect: {refuse: true}\n",
         "question"),
        ("category: nope\ncases: []\n", "unknown category"),
        ("category: factual\ncases:\n  - id: a\n    question: q\n    expect: {refuse: maybe}\n",
         "refuse"),
        ("category: factual\ncases:\n  - id: a\n    question: q\n    expect: {refuse: false}\n",
         "facts"),
        ("category: factual\ncases:\n  - id: a\n    question: q\n    expect:\n      refuse: false\n"
         "      facts: [fastify]\n", "phrase lists"),
        ("category: factual\ncases:\n  - id: a\n    question: q\n    colour: red\n"
         "    expect: {refuse: true}\n", "unknown keys"),
        ("category: factual\ncases: [\n", "not valid YAML"),
    ],
)  # fmt: skip
def test_malformed_cases_are_rejected_with_file_and_line(tmp_path: Path, body, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(CaseError) as err:
        load_file(path)
    assert f"{path}:" in str(err.value) and message in str(err.value)


def test_line_number_points_at_the_broken_case(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "category: factual\ncases:\n"
        "  - id: ok\n    question: q\n    expect: {refuse: true}\n"
        "  - id: broken\n    question: q\n    expect: {refuse: 3}\n"
    )
    with pytest.raises(CaseError, match=r"bad\.yaml:6:"):
        load_file(path)


def _answer(text: str, citations: list[Citation], refused: bool = False) -> Answer:
    return Answer("q", text, citations, refused, "test", {"total": 1.0})


def test_metrics_fail_wrong_answers() -> None:
    case = load_dataset(CASES)[0]
    good_cite = Citation(1, "s", "t", case.sections[0], " ".join(case.facts[0]), 1.0)
    fact = case.facts[0][0]
    assert score_case(case, _answer(f"{fact} [1]", [good_cite])).passed
    assert not score_case(case, _answer("nothing relevant [1]", [good_cite])).passed
    assert not score_case(case, _answer(f"{fact} [2]", [good_cite])).citations_valid
    wrong = Citation(1, "s", "t", "Somewhere › Else", "x", 1.0)
    assert not score_case(case, _answer(f"{fact} [1]", [wrong])).passed
    assert not score_case(case, _answer("refusal", [], refused=True)).passed


def test_thresholds_gate_the_metrics() -> None:
    thresholds = load_thresholds(REPO_ROOT / "evals" / "thresholds.toml")
    assert thresholds["pass_rate"] >= 0.90 and thresholds["citation_validity"] == 1.0
    assert below_thresholds({"pass_rate": 0.5}, thresholds)
    assert below_thresholds({"forbidden_rate": 0.1}, thresholds)
    assert not below_thresholds({"pass_rate": 0.95, "forbidden_rate": 0.0}, thresholds)


@pytest.mark.slow
def test_offline_assistant_meets_the_thresholds(corpus_assistant) -> None:
    run = run_cases(corpus_assistant.ask, load_dataset(CASES), name="offline", k=5)
    misses = below_thresholds(run.overall, load_thresholds(REPO_ROOT / "evals" / "thresholds.toml"))
    assert not misses, misses


def test_scale_overrides_rescore_named_cases_and_say_why(tmp_path: Path) -> None:
    cases = load_dataset(REPO_ROOT / "evals" / "cases")
    shipped, reasons = apply_overrides(REPO_ROOT / "evals" / "scale" / "overrides.yaml", cases)
    assert [c.id for c in shipped] == [c.id for c in cases]  # same cases, same order
    assert set(reasons) == {"prompt_injection-own-knowledge-postgres"}
    postgres = next(c for c in shipped if c.id == "prompt_injection-own-knowledge-postgres")
    assert not postgres.refuse and postgres.facts == [["shared_buffers", "shared buffers"]]
    assert "override" in postgres.where
    untouched = [c for c in shipped if c.id not in reasons]
    assert untouched == [c for c in cases if c.id not in reasons]

    bad = tmp_path / "overrides.yaml"
    bad.write_text("overrides:\n  - id: no-such-case\n    reason: x\n    expect: {refuse: true}\n")
    with pytest.raises(CaseError, match=r"overrides.yaml:2: no case 'no-such-case'"):
        apply_overrides(bad, cases)
    bad.write_text(
        "overrides:\n  - id: factual-fastify-killer-feature\n    expect: {refuse: true}\n"
    )
    with pytest.raises(CaseError, match=r"overrides.yaml:2: .*reason"):
        apply_overrides(bad, cases)
    bad.write_text(
        "overrides:\n  - id: factual-fastify-killer-feature\n    reason: x\n"
        "    expect: {refuse: false}\n"
    )
    with pytest.raises(CaseError, match=r"needs `expect\.facts`"):  # same checks as a case
        apply_overrides(bad, cases)
