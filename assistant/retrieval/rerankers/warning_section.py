"""A place for the nearest warning when the question asks about risks."""

from __future__ import annotations

import numpy as np

from assistant.index.lexical import LexicalIndex
from assistant.retrieval.rerankers.base import Candidates, Reranker
from assistant.retrieval.warnings import WARNING_TERMS, warns

WARNING_POOL = 20  # warning sections looked at for a question asking about risks


class WarningSection(Reranker):
    """ "Is it OK to skip validation?" shares few words with "No schema validation at the
    edge (all errors surface as 500 later)": the nearest warning gets the last place."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical

    def rerank(self, candidates: Candidates) -> None:
        if not candidates.caution:
            return
        warning = self._nearest(candidates)
        if warning is not None and warning not in candidates.order:
            candidates.fused.setdefault(warning, 0.0)
            candidates.order = [*candidates.order[: candidates.k - 1], warning]

    def _nearest(self, candidates: Candidates) -> str | None:
        """The section that warns whose best unit is nearest the question."""
        found = [i for i, _ in self.lexical.search(WARNING_TERMS, WARNING_POOL)]
        scored = [
            (float(np.max(rec.unit_vecs @ candidates.vector)), id_)
            for id_, rec in candidates.fetched(found).items()
            if warns(rec.section) and rec.unit_vecs is not None and len(rec.unit_vecs)
        ]
        return max(scored)[1] if scored else None
