"""Eval reports: a rich table for the terminal, JSON for machines, Markdown for people."""

from __future__ import annotations

import json
from pathlib import Path

from assistant.evaluation.runner import RunResult

SHOWN = ("pass_rate", "fact_recall", "lead", "markup_leaks", "citation_validity",
         "citation_support", "refusal_precision", "refusal_recall", "confident_wrong",
         "forbidden_rate", "hit@{k}", "recall@{k}", "mrr", "words_mean", "latency_p50_ms",
         "latency_p95_ms")  # fmt: skip


SHORT = {"pass_rate": "pass", "fact_recall": "facts", "citation_validity": "cite ok",
         "citation_support": "support", "refusal_precision": "ref P", "refusal_recall": "ref R",
         "forbidden_rate": "forbid", "confident_wrong": "wrong", "markup_leaks": "markup",
         "words_mean": "words", "latency_p50_ms": "p50 ms",
         "latency_p95_ms": "p95 ms", "judge_faithfulness": "faithful",
         "judge_relevancy": "relevancy", "degraded_rate": "degraded"}  # fmt: skip
JUDGED = ("judge_faithfulness", "judge_relevancy")
OPTIONAL = ("degraded_rate", *JUDGED)  # shown when some run has them (LLM runs, the judge)


def _fmt(value: float | None, name: str) -> str:
    if value is None:
        return "–"
    if name in ("confident_wrong", "markup_leaks"):
        return str(int(value))
    if name.endswith("_ms") or name.startswith("words"):
        return f"{value:.1f}"
    return f"{value:.3f}"


def _columns(runs: list[RunResult]) -> list[str]:
    cols = [c.format(k=runs[0].k) for c in SHOWN]
    return cols + [c for c in OPTIONAL if any(run.overall.get(c) is not None for run in runs)]


def print_tables(runs: list[RunResult], console=None) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    console = console or Console(width=None if sys.stdout.isatty() else 200)
    cols = _columns(runs)
    title = "Ablation" if len(runs) > 1 else f"Evaluation: {runs[0].name}"
    table = Table(title=title)
    table.add_column("run" if len(runs) > 1 else "category")
    for c in cols:
        table.add_column(SHORT.get(c, c), justify="right")
    if len(runs) > 1:
        for run in runs:
            m = run.overall
            table.add_row(run.name, *[_fmt(m.get(c), c) for c in cols])
    else:
        run = runs[0]
        for cat, m in run.by_category().items():
            table.add_row(f"{cat} ({m['cases']})", *[_fmt(m.get(c), c) for c in cols])
        m = run.overall
        table.add_row(f"[bold]overall ({m['cases']})", *[_fmt(m.get(c), c) for c in cols])
    console.print(table)


def to_json(runs: list[RunResult]) -> dict:
    out = {}
    for run in runs:
        out[run.name] = {
            "overall": run.overall,
            "by_category": run.by_category(),
            "cases": [
                {
                    "id": r.case.id, "category": r.case.category, "passed": r.passed,
                    "question": r.case.question, "error": r.error,
                    "missing_facts": r.missing_facts, "missing_sections": r.missing_sections,
                    "forbidden_found": r.forbidden_found, "refusal_ok": r.refusal_ok,
                    "citations_valid": r.citations_valid, "lead_ok": r.lead_ok,
                    "markup": r.markup, "unflagged": r.unflagged,
                    "faithfulness": r.faithfulness, "answer_relevancy": r.answer_relevancy,
                    "judge_error": r.judge_error,
                    "degraded_reason": r.answer.degraded_reason if r.answer else None,
                    "answer": r.answer.to_dict() if r.answer else None,
                }
                for r in run.results
            ],
        }  # fmt: skip
    return out


def to_markdown(runs: list[RunResult], misses: list[str]) -> str:
    cols = _columns(runs)
    lines = ["# StackGuide evaluation", ""]
    lines += ["| run | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for run in runs:
        m = run.overall
        lines.append(f"| {run.name} | " + " | ".join(_fmt(m.get(c), c) for c in cols) + " |")
    lines += ["", "## Thresholds", ""]
    lines += [f"- MISSED: {m}" for m in misses] or ["- all met"]
    for run in runs[:1]:
        lines += ["", f"## Per category ({run.name})", ""]
        lines += ["| category | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
        for cat, m in run.by_category().items():
            lines.append(f"| {cat} | " + " | ".join(_fmt(m.get(c), c) for c in cols) + " |")
        failed = [r for r in run.results if not r.passed]
        lines += ["", f"## Failed cases ({len(failed)})", ""]
        for r in failed:
            lines += [f"### {r.case.id} ({r.case.category})", "", f"*Question:* {r.case.question}"]
            if r.case.history:
                lines.append(f"*History:* {len(r.case.history)} turns")
            reasons = []
            if r.error:
                reasons.append(f"error: {r.error}")
            if not r.refusal_ok:
                if r.unflagged:
                    reasons.append(f"answered without saying it lacks {', '.join(r.unflagged)}")
                else:
                    reasons.append("should refuse" if r.case.refuse else "refused wrongly")
            reasons += [f"missing fact: {' / '.join(g)}" for g in r.missing_facts]
            reasons += [f"section not cited: {s}" for s in r.missing_sections]
            reasons += [f"forbidden claim: {f}" for f in r.forbidden_found]
            reasons += [f"markup shown: {m}" for m in r.markup]
            if not r.citations_valid:
                reasons.append("invalid citations")
            lines += ["", *[f"- {x}" for x in reasons], ""]
            if r.answer:
                lines += ["Answer:", "", *[f"> {ln}" for ln in r.answer.answer.splitlines()]]
                lines += ["", "Cited: " + "; ".join(c.section for c in r.answer.citations), ""]
    return "\n".join(lines) + "\n"


def write_reports(runs: list[RunResult], misses: list[str], json_path: Path) -> Path:
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(to_json(runs), indent=2, ensure_ascii=False, default=str))
    md_path = json_path.with_suffix(".md")
    md_path.write_text(to_markdown(runs, misses), encoding="utf-8")
    return md_path
