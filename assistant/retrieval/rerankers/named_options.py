"""The own section of each option a question names, pulled into the top k."""

from __future__ import annotations

from assistant.index.lexical import LexicalIndex
from assistant.models import ChunkRecord
from assistant.query.names import question_names
from assistant.retrieval.rerankers.base import Candidates, Reranker
from assistant.text import tokenize

MAX_DEDICATED = 3  # names in one question whose own sections are pulled into the top k


class NamedOptionSections(Reranker):
    """ "Should we use Fastify or NestJS?" needs the Fastify section, not only the chunks
    that name both: make room in the top k for the section dedicated to each name."""

    def __init__(self, lexical: LexicalIndex) -> None:
        self.lexical = lexical

    def rerank(self, candidates: Candidates) -> None:
        order, records, k = candidates.order, candidates.records, candidates.k
        chosen, pulled = order[:k], set()
        for _, parts in question_names(candidates.query, self.lexical)[:MAX_DEDICATED]:
            if any(_dedicated_to(records[i], parts) for i in chosen):
                continue
            best = next((i for i in order[k:] if _dedicated_to(records[i], parts)), None)
            replaceable = [i for i in reversed(chosen) if i not in pulled]
            if best is None or not replaceable:
                continue
            chosen.remove(replaceable[0])
            chosen.append(best)
            pulled.add(best)
        candidates.order = chosen


def _dedicated_to(record: ChunkRecord, parts: list[str]) -> bool:
    heading = record.section.rsplit("›", 1)[-1]
    return all(p in tokenize(heading) for p in parts)
