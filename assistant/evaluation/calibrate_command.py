"""The `--calibrate` run: ask each dataset's cases of its corpus, fit, report, write."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from assistant.evaluation.calibrate import (
    RecordingJudge,
    Sample,
    collect,
    cross_validate,
    fit,
)
from assistant.evaluation.cases import load_dataset
from assistant.evaluation.datasets import Dataset
from assistant.evaluation.metrics import normalise
from assistant.grounding.judges import Calibration, get_judge
from assistant.grounding.judges.features import DEFAULT_WEIGHTS, FEATURES
from assistant.prompts import Prompts
from assistant.settings import REPO_ROOT, Settings
from ingest.loaders import SUPPORTED


def run_calibration(settings: Settings, paths: list[Path], categories: tuple[str, ...]) -> None:
    from assistant.service import Assistant

    samples = []
    for path in paths:
        source = Dataset.at(path)
        cases = load_dataset(path)
        if categories:
            cases = [c for c in cases if c.category in categories]
        own = source.settings(settings)
        recorder = RecordingJudge(get_judge(own, Prompts(own.prompts_dir)))
        assistant = Assistant(own, judge=recorder)
        if source.corpus_command is not None:
            assistant.ingest()  # incremental: only what changed since the last run
        assistant.ready()
        found = collect(assistant.ask, cases, recorder, _name(path))
        click.echo(f"{_name(path)}: {len(cases)} cases, {len(found)} reached the judge")
        samples.extend(found)
        for other in source.also_asks:
            guests = [c for c in load_dataset(other)
                      if not categories or c.category in categories]  # fmt: skip
            here = f"{_name(other)} asked of {_name(path)}'s corpus"
            found = collect(assistant.ask, guests, recorder, here)
            click.echo(f"{here}: {len(guests)} cases, {len(found)} reached the judge")
            samples.extend(found)
    samples.extend(_borrowed_refusals(settings, paths, categories))
    if len({s.label for s in samples}) < 2:
        raise click.ClickException("calibration needs both answerable and refusal cases")
    judge = settings.relevance_judge
    priors = _priors(judge)
    report = cross_validate(samples, priors=priors)
    final = fit(samples, priors=priors)
    click.echo(
        f"judge {judge}: {report.samples} cases ({report.positives} answerable), "
        f"{len(report.folds)}-fold cross-validation, on folds not fitted:"
    )
    for key in ("answer_precision", "answer_recall", "refusal_precision", "refusal_recall"):
        per_fold = " ".join(f"{f[key]:.3f}" for f in report.folds)
        click.echo(f"  {key:18} {report.mean(key):.3f}   (folds: {per_fold})")
    fitted: dict = {"threshold": round(final.threshold, 4)}
    if judge == "features":
        fitted["weights"] = {f: round(w, 4) for f, w in zip(FEATURES, final.weights, strict=True)}
        fitted["bias"] = round(final.bias, 4)
    else:  # one raw score per passage: a Platt scaling of it
        fitted["a"], fitted["b"] = round(final.weights[0], 4), round(final.bias, 4)
    fitted["fitted_on"] = {
        "datasets": [_name(p) for p in paths],
        "cases": report.samples,
        "answerable": report.positives,
    }
    fitted["cross_validation"] = {
        k: round(report.mean(k), 4)
        for k in ("answer_precision", "answer_recall", "refusal_precision", "refusal_recall")
    }
    Calibration.load(settings.calibration_file).save(settings.calibration_file, judge, fitted)
    click.echo(f"threshold {final.threshold:.3f}; written to {settings.calibration_file}")


def _priors(judge: str) -> dict[int, float]:
    """The feature judge's stand-in weights, kept for signals the cases hardly show."""
    if judge != "features":
        return {}
    return {FEATURES.index(f): w for f, w in DEFAULT_WEIGHTS.items()}


def _name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def _borrowed_refusals(
    settings: Settings, paths: list[Path], categories: tuple[str, ...]
) -> list[Sample]:
    """Questions another corpus answers, asked of the configured one: refusals in the
    domain, phrased as users ask, wherever none of their expected facts is in its text.
    Few refusals reach the judge otherwise (most name what the corpus lacks)."""
    from assistant.service import Assistant

    borrowed = [
        case
        for path in paths
        if Dataset.at(path).corpus_command is not None
        for case in load_dataset(path)
        if case.refuse is False and (not categories or case.category in categories)
    ]
    if not borrowed:
        return []
    text = normalise("\n".join(_corpus_texts(settings.corpus_dir)))
    absent = [
        replace(case, refuse=True, facts=[], sections=[], id=f"borrowed-{case.id}")
        for case in borrowed
        if not any(normalise(p) in text for group in case.facts for p in group)
    ]
    recorder = RecordingJudge(get_judge(settings, Prompts(settings.prompts_dir)))
    assistant = Assistant(settings, judge=recorder)
    assistant.ready()
    found = collect(assistant.ask, absent, recorder, "borrowed")
    click.echo(f"borrowed: {len(absent)} answerable elsewhere, absent here; {len(found)} judged")
    return found


def _corpus_texts(folder: Path) -> list[str]:
    return [
        p.read_text(encoding="utf-8", errors="replace")
        for p in sorted(folder.rglob("*"))
        if p.suffix.lower() in SUPPORTED and p.is_file()
    ]
