"""Whether a turn's search in the conversation's context answers the turn itself.

A turn no rule reads as a follow-up ("what's the default out of the box?") is searched
alone and also with the conversation before it. The search in context is kept only when
its passages answer the turn's own words nearly as well as the turn's own search does:
context may say which subject the turn is about, never stand in for evidence the turn's
words do not find.
"""

from __future__ import annotations

from collections.abc import Sequence

from assistant.grounding.scoring import ScoredUnit

# The share of the turn's own best evidence the context's best must reach, scored on the
# turn's words. Fitted on the tuning sets' conversations (article, Fastify and Celery
# tune parts): every value in (0.56, 0.76] scores alike there; this is its midpoint.
CONTEXT_EVIDENCE = 0.66


def answers_the_turn(own: Sequence[ScoredUnit], in_context: Sequence[ScoredUnit]) -> bool:
    """`in_context`: the context search's units, scored against the turn alone."""
    own_best = max((u.evidence_score for u in own), default=0.0)
    if own_best <= 0:
        return False
    best = max((u.evidence_score for u in in_context), default=0.0)
    return best >= CONTEXT_EVIDENCE * own_best
