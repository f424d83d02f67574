"""Scale check: the eval suite with real distractor documents ingested beside the corpus.

Distractors: the HTML manuals of Debian's `python3.11-doc` and `postgresql-doc-15`
(installed here with apt-get when missing; needs root). Reports ingest time, index size,
query latency, the eval metrics against evals/thresholds.toml, and every case that
should have been refused but was answered (a confident wrong answer).

    .venv/bin/python bench/scale_check.py [--data-dir DIR] [--skip-install] [--files N]
                                          [--shift F] [--out FILE]

By default every page of both manuals (1,700 pages, 30,718 chunks here: about 50 min of
embedding on two cores from scratch). `--files N` takes every k-th page instead (600: a
quicker run), `--shift` where in each step the sample starts (0.5: the pages a plain
`--files 600` run skips).

The index is kept in DATA_DIR (default bench/results/scale-index): a second run is
incremental, embeds only pages it has not seen, and re-runs the evaluation.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.evaluation.cases import apply_overrides, load_dataset  # noqa: E402
from assistant.evaluation.runner import below_thresholds, load_thresholds, run_cases  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

DOCS = {
    "python3.11-doc": Path("/usr/share/doc/python3.11/html"),
    "postgresql-doc-15": Path("/usr/share/doc/postgresql-doc-15/html"),
}


def install(packages: list[str]) -> None:
    if not shutil.which("apt-get"):
        sys.exit(f"apt-get not found: install {', '.join(packages)} by hand")
    print(f"installing {' '.join(packages)} (apt-get)…", flush=True)
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *packages], check=True, env=env)


def sample(roots: list[Path], files: int, shift: float = 0.0) -> list[Path]:
    """Every k-th HTML page of the manuals (all of them when `files` is 0), starting
    `shift` of the way into the first step (0.5 takes the pages shift 0 skips)."""
    pages = sorted(p for root in roots for p in root.rglob("*.htm*"))
    if not files or files >= len(pages):
        return pages
    step = len(pages) / files
    return [pages[int((i + shift) * step)] for i in range(files)]


def progress(done: int, total: int) -> None:
    if done == total or done % 2048 < 64:
        print(f"  embedded {done}/{total} chunks", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=ROOT / "bench/results/scale-index")
    parser.add_argument("--skip-install", action="store_true")
    parser.add_argument("--files", type=int, default=0, help="distractor pages (0: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/scale_check.json")
    parser.add_argument(
        "--shift",
        type=float,
        default=0.0,
        help="where in each step the sample starts, 0..1 (0.5: a held-out sample)",
    )
    parser.add_argument(
        "--overrides",
        type=Path,
        default=ROOT / "evals/scale/overrides.yaml",
        help="cases whose expectation changes once the manuals are in the corpus",
    )
    parser.add_argument("--also", type=Path, action="append", default=[], metavar="DIR",
                        help="another folder of HTML pages to add whole (repeatable), e.g. "
                        "/usr/share/doc/python-django-doc/html for a bigger index")  # fmt: skip
    args = parser.parse_args()

    missing = [pkg for pkg, path in DOCS.items() if not path.is_dir()]
    if missing and not args.skip_install:
        install(missing)
    roots = [p for p in DOCS.values() if p.is_dir()]
    if len(roots) < len(DOCS):
        sys.exit(f"distractor manuals missing: {[str(p) for p in DOCS.values() if not p.is_dir()]}")

    if not 0 <= args.shift < 1:
        sys.exit("--shift must be in [0, 1)")
    pages = sample(roots, args.files, args.shift)
    pages += sorted(p for root in args.also for p in root.rglob("*.htm*"))
    settings = Settings(data_dir=args.data_dir)
    assistant = Assistant(settings)
    _ = assistant.embedder  # the one-off ONNX export is not ingest time
    t = time.perf_counter()
    report = assistant.ingest([settings.corpus_dir, *pages], progress=progress)
    ingest_s = time.perf_counter() - t
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # model included
    print(report.summary())

    cases, overridden = apply_overrides(args.overrides, load_dataset(ROOT / "evals" / "cases"))
    assistant.ready()
    run = run_cases(assistant.ask, cases, name="scale", k=settings.top_k)
    metrics = run.overall
    misses = below_thresholds(metrics, load_thresholds(ROOT / "evals" / "thresholds.toml"))
    confident_wrong = [
        {"id": r.case.id, "question": r.case.question, "answer": r.answer.answer}
        for r in run.results
        if r.case.refuse and r.answer and not r.answer.refused
    ]
    cited_distractors = sum(
        1
        for r in run.results
        if r.answer and any(not c.source.startswith("corpus/") for c in r.answer.citations)
    )
    figures = {
        "distractor_pages": len(pages),
        "files": report.files,
        "chunks": report.chunks_total,
        "failed_files": len(report.failed),
        "ingest_s_this_run": round(ingest_s, 1),
        "embedded_this_run": report.added + report.updated,
        "chunks_per_s": round((report.added + report.updated) / ingest_s, 1) if ingest_s else None,
        "peak_rss_mb_after_ingest": round(peak_mb),
        "data_dir_mb": round(
            sum(f.stat().st_size for f in args.data_dir.rglob("*") if f.is_file()) / 2**20
        ),
        "answers_citing_distractors": cited_distractors,
        "confident_wrong_answers": len(confident_wrong),
        **{k: (round(v, 3) if isinstance(v, float) else v) for k, v in metrics.items()},
    }
    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    for miss in misses:
        print(f"below threshold: {miss}")
    for wrong in confident_wrong:
        print(f"answered but should refuse: {wrong['id']}: {wrong['question']}")
    results = {r.case.id: r for r in run.results}
    rescored = [
        {
            "id": cid,
            "reason": reason,
            "passed": results[cid].passed,
            "answer": results[cid].answer.answer if results[cid].answer else None,
        }
        for cid, reason in overridden.items()
    ]
    for item in rescored:
        verdict = "passed" if item["passed"] else "FAILED"
        print(f"scored by {args.overrides.name}: {item['id']} ({verdict}): {item['reason']}")
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "figures": figures,
                "misses": misses,
                "confident_wrong": confident_wrong,
                "overridden": rescored,
            },
            indent=2,
        )
    )
    sys.exit(1 if misses or confident_wrong else 0)


if __name__ == "__main__":
    main()
