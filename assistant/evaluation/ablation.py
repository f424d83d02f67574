"""Ablations: what each design choice buys, on the same cases, in one run.

Each variant is the assistant with one setting changed (its own temporary index where
chunking changes), the relevance judges this machine can run, and the plain quickstart
baseline.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from assistant.evaluation.cases import Case
from assistant.evaluation.runner import RunResult, run_cases
from assistant.service import Assistant

VARIANTS: list[tuple[str, dict]] = [
    ("hybrid-rrf (default)", {}),
    ("hybrid-rrf, no coverage rerank", {"coverage_rerank": False}),
    ("hybrid-convex a=0.5", {"fusion": "convex", "fusion_alpha": 0.5}),
    ("hybrid-convex a=0.7", {"fusion": "convex", "fusion_alpha": 0.7}),
    ("dense only", {"retriever": "dense"}),
    ("bm25 only", {"retriever": "bm25"}),
    ("hybrid, chunks <= 300 chars", {"chunk_max_chars": 300}),
    # The relevance judge: its stand-in weights before any calibration
    ("judge: features, uncalibrated", {"calibration_file": Path("/nonexistent/calibration.json")}),
]


def _judges(assistant: Assistant) -> list[tuple[str, dict]]:
    """Judge variants this machine can run: the LLM with an endpoint, a cross-encoder on
    disk (uncalibrated unless `eval --calibrate` fitted one)."""
    found = []
    if assistant.settings.llm_configured():
        found.append(("judge: llm", {"relevance_judge": "llm"}))
    if assistant.settings.cross_encoder_path is not None:
        found.append(("judge: cross-encoder", {"relevance_judge": "cross-encoder"}))
    return found


def run_ablation(assistant: Assistant, cases: list[Case], k: int) -> list[RunResult]:
    base = assistant.settings
    runs = []
    with tempfile.TemporaryDirectory(prefix="stackguide-ablation-") as tmp:
        for name, change in [*VARIANTS, *_judges(assistant)]:
            settings = base.model_copy(update=change)
            if "chunk_max_chars" in change:
                settings = settings.model_copy(update={"data_dir": Path(tmp) / name.split()[0]})
                variant = Assistant(settings, embedder=assistant.embedder)
            else:
                variant = Assistant(settings, store=assistant.store, embedder=assistant.embedder)
            runs.append(run_cases(variant.ask, cases, name=name, k=k))
        from assistant.evaluation.baseline import QuickstartBaseline

        baseline = QuickstartBaseline(base, assistant.embedder)
        runs.append(
            run_cases(baseline.ask, cases, name="quickstart baseline (1000c, dense@4)", k=k)
        )
    return runs
