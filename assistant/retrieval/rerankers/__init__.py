"""Steps that reorder fused retrieval results, run in order by `HybridRetriever`."""

from assistant.retrieval.rerankers.base import Candidates, Reranker, TopK
from assistant.retrieval.rerankers.coverage import CoverageRerank
from assistant.retrieval.rerankers.named_options import NamedOptionSections
from assistant.retrieval.rerankers.sections import OnePlacePerSection, RestOfSection
from assistant.retrieval.rerankers.warning_section import WarningSection

__all__ = [
    "Candidates",
    "CoverageRerank",
    "NamedOptionSections",
    "OnePlacePerSection",
    "Reranker",
    "RestOfSection",
    "TopK",
    "WarningSection",
]
