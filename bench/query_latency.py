"""Query and ingest figures on this machine (printed, and saved to bench/results/).

- cold: `stackguide ask --json` as a fresh process, index already built (median of N)
- warm: in-process answers (retrieve + compose) over the eval questions (p50/p95)
- ingest: chunks/s for a fresh index of the corpus; a no-change re-ingest, in-process and
  as a fresh `stackguide ingest` process
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from host import describe_host, host_line  # noqa: E402  bench/host.py, beside this script

from assistant.evaluation.cases import load_dataset  # noqa: E402
from assistant.service import Assistant  # noqa: E402
from assistant.settings import Settings  # noqa: E402

QUESTION = "Which framework should a Python ML team deploying to AWS Lambda pick?"
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "7"))
STACKGUIDE = str(Path(sys.executable).with_name("stackguide"))


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def main() -> None:
    figures: dict[str, object] = {"cpus": os.cpu_count() or 0}
    with tempfile.TemporaryDirectory(prefix="stackguide-bench-") as tmp:
        data = Path(tmp) / "data"
        settings = Settings(data_dir=data)
        env = {**os.environ, "STACKGUIDE_DATA_DIR": str(data)}

        assistant = Assistant(settings)
        _ = assistant.embedder  # the ONNX export (once per machine) is not ingest work
        t = time.perf_counter()
        report = assistant.ingest()
        took = time.perf_counter() - t
        figures["ingest_chunks"] = report.chunks_total
        figures["ingest_s"] = round(took, 3)
        figures["ingest_chunks_per_s"] = round(report.chunks_total / took, 1)

        t = time.perf_counter()
        again = assistant.ingest()
        figures["reingest_nochange_inprocess_s"] = round(time.perf_counter() - t, 3)
        assert again.added == again.updated == again.removed == 0
        t = time.perf_counter()
        subprocess.run([STACKGUIDE, "ingest"], env=env, check=True, capture_output=True)
        figures["reingest_nochange_process_s"] = round(time.perf_counter() - t, 3)

        cold = []
        for _ in range(COLD_RUNS):
            t = time.perf_counter()
            out = subprocess.run(
                [STACKGUIDE, "ask", "--json", QUESTION], env=env, check=True, capture_output=True
            )
            cold.append(time.perf_counter() - t)
            assert json.loads(out.stdout)["citations"]
        figures["cold_ask_median_s"] = round(statistics.median(cold), 3)
        figures["cold_ask_max_s"] = round(max(cold), 3)

        cases = load_dataset(ROOT / "evals" / "cases")
        assistant.ask(QUESTION)  # warm up
        warm = []
        for _ in range(3):
            for case in cases:
                t = time.perf_counter()
                assistant.ask(case.question, case.history)
                warm.append((time.perf_counter() - t) * 1000)
        figures["warm_answers"] = len(warm)
        figures["warm_p50_ms"] = round(statistics.median(warm), 2)
        figures["warm_p95_ms"] = round(pct(warm, 0.95), 2)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)

    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    # A query never runs torch: the host's Python speed is what the cold answer follows.
    figures["host"] = host = describe_host(matmul=False)
    print(host_line(host))
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "query_latency.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
