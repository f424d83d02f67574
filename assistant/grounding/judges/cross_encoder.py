"""The `cross-encoder` judge: a sentence-transformers CrossEncoder on disk reads each
(question, passage) pair together and scores it; a Platt fit turns the score into a
probability.

The model is loaded by path only (offline, `local_files_only`): a hub name would mean a
download at the first question. It is loaded at the first judgement, not at startup, so
a service that never asks pays nothing for it (torch takes seconds to import).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

from assistant.errors import ConfigError
from assistant.grounding.judges.base import RelevanceJudge, Signals, sigmoid
from assistant.grounding.scoring import ScoredUnit
from assistant.query.intent import Query
from assistant.settings import Settings

SETTING = "STACKGUIDE_CROSS_ENCODER_PATH"
BATCH = 32


class CrossEncoderJudge(RelevanceJudge):
    name = "cross-encoder"

    def __init__(self, settings: Settings, calibration: dict[str, Any]) -> None:
        path = settings.cross_encoder_path
        # Checked now, not at the first question: a wrong setting should stop startup.
        if path is None:
            raise ConfigError(f"relevance_judge=cross-encoder needs {SETTING} (a model folder)")
        if not path.is_dir():
            raise ConfigError(f"{SETTING}={path} is not a folder holding a CrossEncoder model")
        self.path = path
        self.a = _number(calibration, "a", 1.0)
        self.b = _number(calibration, "b", 0.0)
        self.threshold = (
            settings.relevance_threshold
            if settings.relevance_threshold is not None
            else _number(calibration, "threshold", 0.5)
        )
        self._model: Any = None
        self._lock = threading.Lock()  # two first questions at once load it once

    def judge(
        self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals
    ) -> list[float]:
        return [sigmoid(self.a * x + self.b) for x in self.features(query, candidates, signals)]

    def features(self, query: Query, candidates: Sequence[ScoredUnit], signals: Signals):
        """The model's raw logits, one per candidate: what the Platt fit maps."""
        if not candidates:
            return []
        pairs = [(query.standalone, f"{c.hit.chunk.section}\n{c.text}") for c in candidates]
        import torch

        # Identity: the raw score, not the model's own sigmoid (the calibration is ours).
        out = self._load().predict(
            pairs, batch_size=BATCH, activation_fn=torch.nn.Identity(), show_progress_bar=False
        )
        if out.ndim == 2 and out.shape[1] == 2:  # a two-class head: log-odds of "relevant"
            return [float(r[1] - r[0]) for r in out]
        if out.ndim == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.ndim != 1:
            raise ConfigError(f"{SETTING}={self.path}: the model must score with one label")
        return [float(x) for x in out]

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # by path; never reach a hub
                try:
                    from sentence_transformers import CrossEncoder
                except ImportError as exc:  # pragma: no cover - an optional dependency
                    raise ConfigError(
                        "the cross-encoder judge needs sentence-transformers: "
                        "pip install sentence-transformers"
                    ) from exc
                try:
                    self._model = CrossEncoder(str(self.path), device="cpu", local_files_only=True)
                except (OSError, ValueError) as exc:
                    raise ConfigError(
                        f"{SETTING}={self.path}: not a loadable CrossEncoder model ({exc})"
                    ) from exc
            return self._model


def _number(section: dict[str, Any], key: str, default: float) -> float:
    value = section.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"calibration of the cross-encoder judge: `{key}` is not a number"
        ) from None
