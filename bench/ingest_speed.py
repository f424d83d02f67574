"""Ingest speed against the LangChain quickstart: one Markdown corpus indexed from scratch by
`stackguide ingest` and by bench/quickstart_peer.py, each in a fresh process, one at a time.

    .venv/bin/python bench/ingest_speed.py [--corpus DIR] [--runs N] [--skip-peer]

- corpus: built (or found) by evals/speed_corpus/fetch.py: the docs of fastify, undici and
  pino, 1.19 MB of Markdown; `--corpus DIR` takes that folder instead
- peer: `python bench/quickstart_peer.py CORPUS --persist TMP/peer` (DirectoryLoader-style
  load, RecursiveCharacterTextSplitter 1000/200, HuggingFaceEmbeddings, Chroma)
- StackGuide: `stackguide ingest CORPUS` with STACKGUIDE_DATA_DIR=TMP/sg, a fresh empty dir

Per side: wall seconds around the process, its peak RSS (`os.wait4`), the chunks it
stored, and its index on disk (du). Before timing, each side ingests the bundled article
once, untimed: the page cache and the one-time ONNX export are not ingest work. Both run
from a temp dir with inherited STACKGUIDE_* variables dropped (no .env, no overrides).
Target: StackGuide's seconds / the peer's <= 0.70. `--runs N` takes the median of N runs
per side (alternating); `--skip-peer` reuses the peer figures of the last
bench/results/ingest_speed.json (same corpus only). Figures are printed and saved there.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from host import describe_host, host_line  # bench/host.py, beside this script

ROOT = Path(__file__).resolve().parent.parent
STACKGUIDE = str(Path(sys.executable).with_name("stackguide"))
PEER = ROOT / "bench" / "quickstart_peer.py"
FETCH = ROOT / "evals" / "speed_corpus" / "fetch.py"
ARTICLE = ROOT / "corpus" / "modern-backend-frameworks-2025.md"
RESULTS = ROOT / "bench" / "results" / "ingest_speed.json"
TARGET = 0.70  # StackGuide's ingest seconds / the quickstart's
# The ingest summary line (ingest/pipeline.py IngestReport.summary).
SUMMARY = re.compile(r"^(\d+) files \(.*?, (\d+) in index, ([\d.]+)s", re.MULTILINE)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STACKGUIDE_")}
    return env | extra


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> dict:
    """Run `cmd` to the end: wall seconds, the child's own peak RSS, its output."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:  # Ctrl-C: no orphan left running
            proc.kill()
            proc.wait()
            raise
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-15:])
        sys.exit(f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{tail}")
    return {"seconds": seconds, "rss_mb": usage.ru_maxrss / 1024, "stdout": stdout}


def disk_mb(folder: Path) -> float:
    """What `du -s` counts: allocated blocks of everything under `folder`."""
    total = folder.lstat().st_blocks
    for path in folder.rglob("*"):
        total += path.lstat().st_blocks
    return total * 512 / 1e6


def run_peer(corpus: Path, tmp: Path) -> dict:
    persist = tmp / "peer"
    done = timed([sys.executable, str(PEER), str(corpus), "--persist", str(persist)],
                 clean_env(), tmp)  # fmt: skip
    inner = json.loads(done["stdout"].strip().splitlines()[-1])
    figures = {
        "seconds": round(done["seconds"], 2),
        "chunks": inner["chunks"],
        "files": inner["files"],
        "peak_rss_mb": round(done["rss_mb"], 1),
        "index_mb": round(disk_mb(persist), 1),
        "seconds_in_script": inner["seconds"],  # from before its imports to from_documents
    }
    shutil.rmtree(persist)
    return figures


def run_stackguide(corpus: Path, tmp: Path, settings: dict[str, str]) -> dict:
    data = tmp / "sg"
    data.mkdir()
    extra = {f"STACKGUIDE_{k.upper()}": v for k, v in settings.items()}
    env = clean_env(STACKGUIDE_DATA_DIR=str(data), **extra)
    done = timed([STACKGUIDE, "ingest", str(corpus)], env, tmp)
    match = SUMMARY.search(done["stdout"])
    if match:
        files, chunks, inner = int(match[1]), int(match[2]), float(match[3])
    else:  # the summary changed shape: ask the index
        listed = subprocess.run([STACKGUIDE, "sources", "--json"], env=env, cwd=tmp,
                                check=True, capture_output=True, text=True)  # fmt: skip
        docs = json.loads(listed.stdout)["documents"]
        files, chunks, inner = len(docs), sum(d["chunks"] for d in docs), None
    figures = {
        "seconds": round(done["seconds"], 2),
        "chunks": chunks,
        "files": files,
        "peak_rss_mb": round(done["rss_mb"], 1),
        "index_mb": round(disk_mb(data), 1),
        "seconds_in_ingest": inner,  # the ingest's own figure, after imports and model load
    }
    shutil.rmtree(data)
    return figures


def median_of(runs: list[dict]) -> dict:
    figures = dict(runs[0])
    for key in ("seconds", "peak_rss_mb", "index_mb"):
        figures[key] = round(statistics.median(r[key] for r in runs), 2)
    if len({r["chunks"] for r in runs}) > 1:
        print(f"warning: chunk counts differ between runs: {[r['chunks'] for r in runs]}")
    figures["chunks_per_s"] = round(figures["chunks"] / figures["seconds"], 1)
    figures["runs"] = runs
    return figures


def corpus_of(arg: Path | None) -> Path:
    if arg is not None:
        if not arg.is_dir():
            sys.exit(f"--corpus {arg}: not a folder")
        return arg.expanduser().resolve()
    proc = subprocess.run([sys.executable, str(FETCH)], capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{FETCH.relative_to(ROOT)} failed:\n{proc.stderr.strip()}")
    return Path(proc.stdout.strip().splitlines()[-1])


def describe(corpus: Path) -> dict:
    pages = [p for p in corpus.rglob("*.md") if p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(corpus).parts)]  # fmt: skip
    return {"path": str(corpus), "md_files": len(pages),
            "bytes": sum(p.stat().st_size for p in pages)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, help="ingest this folder instead of fetching")
    parser.add_argument("--runs", type=int, default=1, help="runs per side; the median counts")
    parser.add_argument("--skip-peer", action="store_true",
                        help="reuse the peer figures of the last results file")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="a StackGuide setting for its side, e.g. --set "
                        "embedding_precision=int8 (repeatable)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS, help="results file")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if any("=" not in item for item in args.set):
        parser.error("--set takes FIELD=VALUE")
    settings = dict(item.split("=", 1) for item in args.set)

    corpus = corpus_of(args.corpus)
    about = describe(corpus)
    print(f"corpus: {corpus} ({about['md_files']} Markdown files, {about['bytes']:,} bytes)")
    previous = None
    if args.skip_peer:
        try:
            previous = json.loads(RESULTS.read_text())["peer"]
            last_corpus = json.loads(RESULTS.read_text())["corpus"]
        except (OSError, ValueError, KeyError):
            sys.exit(f"--skip-peer: no peer figures in {RESULTS}")
        if (last_corpus["path"], last_corpus["bytes"]) != (about["path"], about["bytes"]):
            sys.exit(f"--skip-peer: the last peer figures are for {last_corpus['path']} "
                     f"({last_corpus['bytes']:,} bytes); run without --skip-peer")  # fmt: skip

    peer_runs: list[dict] = []
    sg_runs: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="stackguide-ingest-speed-") as name:
        tmp = Path(name)
        warm = tmp / "warm"
        warm.mkdir()
        shutil.copyfile(ARTICLE, warm / ARTICLE.name)
        print("warm-up (untimed): each side ingests the bundled article", flush=True)
        if previous is None:
            run_peer(warm, tmp)
        run_stackguide(warm, tmp, settings)
        for i in range(1, args.runs + 1):
            if previous is None:
                print(f"run {i}/{args.runs}: peer…", end=" ", flush=True)
                peer_runs.append(run_peer(corpus, tmp))
                print(f"{peer_runs[-1]['seconds']:.1f}s; StackGuide…", end=" ", flush=True)
            else:
                print(f"run {i}/{args.runs}: StackGuide…", end=" ", flush=True)
            sg_runs.append(run_stackguide(corpus, tmp, settings))
            print(f"{sg_runs[-1]['seconds']:.1f}s", flush=True)

    peer = previous if previous is not None else median_of(peer_runs)
    sg = median_of(sg_runs)
    ratio = sg["seconds"] / peer["seconds"]
    verdict = "PASS" if ratio <= TARGET else "MISS"

    cols = ("seconds", "chunks", "peak_rss_mb", "index_mb")
    heads = ("seconds", "chunks", "peak RSS MB", "index MB")
    reused = f" (reused, {peer.get('date', 'last run')})" if previous is not None else ""
    rows = [(f"LangChain quickstart{reused}", peer), ("StackGuide", sg)]
    width = max(len(label) for label, _ in rows) + 2
    print()
    print(" " * width + "".join(f"{h:>13}" for h in heads))
    for label, figures in rows:
        print(f"{label:<{width}}" + "".join(f"{figures[c]:>13}" for c in cols))
    ratios = [sg[c] / peer[c] if peer[c] else float("nan") for c in cols]
    print(f"{'StackGuide/peer':<{width}}" + "".join(f"{r:>13.2f}" for r in ratios))
    print(f"\nseconds ratio {ratio:.2f} (target <= {TARGET:.2f}): {verdict}")
    host = describe_host()  # after the runs: its torch import is no one's ingest work
    print(host_line(host))

    now = datetime.now(UTC).isoformat(timespec="seconds")
    if previous is None:
        peer["date"] = now
    results = {
        "date": now,
        "cpus": os.cpu_count() or 0,
        "host": host,
        "corpus": about,
        "runs": args.runs,
        "target_ratio": TARGET,
        "ratio": round(ratio, 3),
        "verdict": verdict,
        "peer_reused": previous is not None,
        "peer": peer,
        "stackguide": sg,
        "stackguide_settings": settings,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
