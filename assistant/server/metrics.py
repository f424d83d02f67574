"""Prometheus metrics, one registry per app so tests can build several apps."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)  # LLMs: seconds


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "stackguide_requests_total", "HTTP requests", ["route", "status"],
            registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "stackguide_request_seconds", "HTTP request latency", ["route"],
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.retrieval = Histogram(
            "stackguide_retrieval_seconds", "Embedding + retrieval time per answer",
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.generation = Histogram(
            "stackguide_generation_seconds", "Gate + answer generation time per answer",
            buckets=BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.answers = Counter(
            "stackguide_answers_total", "Answers given", ["refused"], registry=self.registry
        )
        self.degraded = Counter(
            "stackguide_answers_degraded_total",
            "LLM answers replaced by the extractive one (endpoint fault or citation check)",
            registry=self.registry,
        )
        self.errors = Counter(
            "stackguide_errors_total", "Requests that failed", ["kind"], registry=self.registry
        )

    def observe_answer(
        self, timings_ms: dict[str, float], refused: bool, degraded: bool = False
    ) -> None:
        self.retrieval.observe((timings_ms.get("embed", 0) + timings_ms.get("retrieve", 0)) / 1000)
        self.generation.observe(timings_ms.get("generate", 0) / 1000)
        self.answers.labels(refused=str(refused).lower()).inc()
        if degraded:
            self.degraded.inc()
