"""Fitting the relevance judge (`stackguide eval --calibrate`) on hand-made samples, and
the datasets it is fitted on."""

from __future__ import annotations

import random
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from assistant.errors import ConfigError
from assistant.evaluation.calibrate import (
    ANSWER_RECALL,
    RecordingJudge,
    Sample,
    cross_validate,
    fit,
    label,
)
from assistant.evaluation.cases import Case
from assistant.evaluation.datasets import Dataset, DatasetError
from assistant.grounding.judges.base import Calibration, Signals
from assistant.grounding.judges.fake import FixedJudge


def _samples(n: int = 80, seed: int = 1) -> list[Sample]:
    """Answerable questions have one passage that scores high on column 0 among weak
    ones; refusals have only weak passages. Column 1 is noise."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        answerable = i % 2 == 0
        rows = [[rng.uniform(0.0, 0.4), rng.random()] for _ in range(4)]
        if answerable:
            rows[rng.randrange(4)][0] = rng.uniform(0.6, 1.0)
        out.append(Sample(f"c{i}", "hand-made", int(answerable), rows))
    return out


def test_the_fit_finds_the_passage_that_answers_and_the_signal_that_tells() -> None:
    samples = _samples()
    fitted = fit(samples, start=0)
    assert fitted.weights[0] > 5 * abs(fitted.weights[1])  # column 0 carries it
    answered = [fitted.best(s) >= fitted.threshold for s in samples]
    assert answered == [bool(s.label) for s in samples]  # separable: no case wrong


def test_the_threshold_lets_through_the_agreed_share_of_answerable_cases() -> None:
    # Overlapping classes: the cut is the highest that still answers ANSWER_RECALL.
    rng = np.random.default_rng(0)
    samples = [Sample(f"p{i}", "x", 1, [[float(v)]]) for i, v in enumerate(rng.normal(1, 1, 100))]
    samples += [Sample(f"n{i}", "x", 0, [[float(v)]]) for i, v in enumerate(rng.normal(-1, 1, 100))]
    fitted = fit(samples, start=0)
    positives = [s for s in samples if s.label]
    kept = sum(fitted.best(s) >= fitted.threshold for s in positives) / len(positives)
    assert ANSWER_RECALL <= kept < ANSWER_RECALL + 0.02


def test_a_signal_the_cases_hardly_show_keeps_its_prior_weight() -> None:
    samples = _samples()
    for s in samples:  # a third column, on in two cases only
        for r in s.rows:
            r.append(0.0)
    samples[0].rows[0][2] = samples[1].rows[0][2] = 1.0
    fitted = fit(samples, start=0, priors={2: -4.0})
    assert fitted.weights[2] == -4.0


def test_cross_validation_reports_each_fold_it_did_not_fit() -> None:
    report = cross_validate(_samples(), start=0)
    assert len(report.folds) == 5 and report.samples == 80 and report.positives == 40
    assert report.mean("refusal_recall") > 0.9 and report.mean("answer_precision") > 0.9


def test_labels_answerable_refused_and_either() -> None:
    def case(refuse, facts=()):
        return Case("x", "uncovered_subject", "q", refuse, facts=[list(f) for f in facts])

    assert label(case(False, [["a"]])) == 1 and label(case(True)) == 0
    assert label(case(None, [["a"]])) == 1  # the covered part has facts to find
    assert label(case(None)) is None


def test_the_recording_judge_keeps_what_it_was_shown() -> None:
    recorder = RecordingJudge(FixedJudge(0.7))
    query = SimpleNamespace(standalone="q")
    assert recorder.judge(query, [], Signals(spread=3)) == []  # type: ignore[arg-type]
    assert recorder.signals == Signals(spread=3) and recorder.last is None  # fakes fit nothing


def test_the_calibration_file_keeps_other_judges_and_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "calibration.json"
    Calibration().save(path, "features", {"threshold": 0.4})
    Calibration.load(path).save(path, "llm", {"threshold": 0.6})
    loaded = Calibration.load(path)
    assert loaded.section("features") == {"threshold": 0.4}
    assert loaded.section("llm") == {"threshold": 0.6}
    assert Calibration.load(tmp_path / "missing.json").section("features") == {}
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        Calibration.load(path)


def test_a_dataset_names_the_command_that_builds_its_corpus(tmp_path: Path) -> None:
    folder = tmp_path / "set"
    folder.mkdir()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    script = tmp_path / "build.py"
    script.write_text(f"print('building')\nprint({str(corpus)!r})\n")
    (folder / "dataset.toml").write_text(f'corpus_command = ["{{python}}", "{script}"]\n')
    dataset = Dataset.at(folder)
    from assistant.settings import Settings

    settings = dataset.settings(Settings(data_dir=tmp_path / "data"))
    assert settings.corpus_dir == corpus
    assert settings.data_dir.parent == tmp_path / "data" / "datasets"
    (folder / "dataset.toml").write_text(
        'corpus_command = ["{python}", "-c", "raise SystemExit(3)"]\n'
    )
    with pytest.raises(DatasetError, match="building its corpus failed"):
        Dataset.at(folder).settings(Settings(data_dir=tmp_path / "data"))
