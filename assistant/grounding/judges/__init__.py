"""Relevance judges: (question, candidate passages) → calibrated probabilities that each
passage answers the question. The gate answers when the best one reaches its threshold."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.grounding.judges.base import Calibration, RelevanceJudge, Signals

if TYPE_CHECKING:
    from assistant.prompts import Prompts
    from assistant.settings import Settings

__all__ = ["Calibration", "RelevanceJudge", "Signals", "get_judge"]


def get_judge(settings: Settings, prompts: Prompts) -> RelevanceJudge:
    """The judge named by `settings.relevance_judge`, with its fitted calibration."""
    calibration = Calibration.load(settings.calibration_file)
    kind = settings.relevance_judge
    if kind == "llm":
        from assistant.grounding.judges.llm import LLMJudge

        return LLMJudge(settings, prompts, calibration.section("llm"))
    if kind == "cross-encoder":
        from assistant.grounding.judges.cross_encoder import CrossEncoderJudge

        return CrossEncoderJudge(settings, calibration.section("cross-encoder"))
    from assistant.grounding.judges.features import FeatureJudge

    return FeatureJudge(calibration.section("features"), settings.relevance_threshold)
