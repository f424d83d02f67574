"""`stackguide eval`: run the suite, print the tables, write reports, gate on thresholds."""

from __future__ import annotations

from pathlib import Path

import click

from assistant.settings import BACKENDS, REPO_ROOT, RETRIEVERS

SECOND_CORPUS_TUNE = REPO_ROOT / "evals" / "second_corpus" / "tune"
# What the judge is fitted on: every corpus' tuning part, never a held-out one.
CALIBRATION_SETS = (REPO_ROOT / "evals" / "cases", SECOND_CORPUS_TUNE,
                    REPO_ROOT / "evals" / "html_corpus" / "tune")  # fmt: skip


@click.command("eval")
@click.option(
    "--dataset",
    "datasets",
    type=click.Path(exists=True, path_type=Path),
    multiple=True,
    help="Case files or folders [default: evals/cases; with --calibrate: evals/cases, "
    "evals/second_corpus/tune and evals/html_corpus/tune]. A folder with a dataset.toml is "
    "asked of its own corpus.",
)
@click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default=None,
    help="Answer backend; `openai` runs the suite against the configured LLM endpoint "
    "(the judge is then on by default).",
)
@click.option("--retriever", type=click.Choice(RETRIEVERS), default=None)
@click.option("--k", "k", type=int, default=None, help="Chunks retrieved (hit@k uses it).")
@click.option(
    "--report",
    type=click.Path(path_type=Path),
    default=REPO_ROOT / "evals" / "reports" / "latest.json",
    show_default=True,
    help="JSON report; a Markdown report is written beside it.",
)
@click.option(
    "--thresholds",
    type=click.Path(exists=True, path_type=Path),
    default=REPO_ROOT / "evals" / "thresholds.toml",
    show_default=True,
)
@click.option(
    "--ablation",
    is_flag=True,
    help="Compare retrievers, fusion and chunking (and a quickstart baseline).",
)
@click.option("--category", multiple=True, help="Only these categories.")
@click.option(
    "--judge/--no-judge",
    default=None,
    help="LLM judge (faithfulness, answer relevancy); default: on when an "
    "OpenAI-compatible endpoint and STACKGUIDE_LLM_MODEL are configured.",
)
@click.option(
    "--gate/--no-gate",
    default=True,
    help="Exit non-zero when a metric misses its bound; --no-gate only reports (the held-out set).",
)
@click.option(
    "--calibrate",
    is_flag=True,
    help="Fit the relevance judge's weights and threshold on the datasets' cases, report "
    "them on cross-validation folds, and write them to the calibration file.",
)
@click.pass_context
def eval_command(ctx: click.Context, datasets: tuple[Path, ...], backend: str | None,
                 retriever: str | None, k: int | None, report: Path, thresholds: Path,
                 ablation: bool,
                 category: tuple[str, ...], judge: bool | None, gate: bool,
                 calibrate: bool) -> None:  # fmt: skip
    """Score answers against the expected ones in evals/cases."""
    from assistant.cli.context import assistant_of, fail
    from assistant.errors import StackGuideError
    from assistant.evaluation.cases import load_dataset
    from assistant.evaluation.datasets import Dataset
    from assistant.evaluation.report import print_tables, write_reports
    from assistant.evaluation.runner import below_thresholds, load_thresholds, run_cases

    if calibrate:
        from assistant.evaluation.calibrate_command import run_calibration

        paths = list(datasets) or list(CALIBRATION_SETS)
        try:
            run_calibration(assistant_of(ctx).settings, paths, category)
        except StackGuideError as exc:
            raise fail(exc) from exc
        return
    if len(datasets) > 1:
        raise click.UsageError("give one --dataset (several only with --calibrate)")
    dataset = datasets[0] if datasets else REPO_ROOT / "evals" / "cases"
    try:
        cases = load_dataset(dataset)
        if category:
            cases = [c for c in cases if c.category in category]
        assistant = assistant_of(ctx)
        source = Dataset.at(dataset)
        if source.corpus_command is not None:  # its own corpus and index
            from assistant.service import Assistant

            assistant = Assistant(source.settings(assistant.settings))
            ingested = assistant.ingest()  # incremental: only what changed since the last run
            click.echo(f"{assistant.settings.corpus_dir}: {ingested.summary()}", err=True)
        k = k or assistant.settings.top_k
        assistant.ready()
        if ablation:
            from assistant.evaluation.ablation import run_ablation

            runs = run_ablation(assistant, cases, k=k)
        else:
            opts = {"backend": backend, "retriever": retriever, "k": k}
            judge_ = (
                _judge(assistant) if judge or (judge is None and _configured(assistant)) else None
            )
            runs = [
                run_cases(assistant.ask, cases, name=backend or "default", judge=judge_, **opts)
            ]
    except StackGuideError as exc:
        raise fail(exc) from exc
    misses = below_thresholds(runs[0].overall, load_thresholds(thresholds))
    print_tables(runs)
    md = write_reports(runs, misses, report)
    click.echo(f"reports: {report} {md}")
    for miss in misses:
        click.echo(f"below threshold: {miss}", err=True)
    if misses and gate:
        ctx.exit(1)


def _configured(assistant) -> bool:
    return assistant.settings.llm_configured()


def _judge(assistant):
    from assistant.evaluation.judge import Judge

    return Judge(assistant.settings, assistant.prompts, assistant.embedder)
