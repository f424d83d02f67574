"""The rest of the best section is read beside the k best, and is not the gate's."""

from __future__ import annotations

import numpy as np

from assistant.models import ChunkRecord
from assistant.retrieval.rerankers import Candidates, RestOfSection


def record(id_: str, section: str, order: int, source: str = "docs/server.md") -> ChunkRecord:
    return ChunkRecord(id=id_, text=id_, source=source, title="Server", section=section,
                       order=order)  # fmt: skip


def candidates(order: list[str], records: list[ChunkRecord]) -> Candidates:
    return Candidates("q", np.zeros(3), k=len(order), fused={}, order=list(order),
                      records={r.id: r for r in records})  # fmt: skip


def test_the_best_chunks_neighbours_in_its_section_are_read_after_the_k_best() -> None:
    found = candidates(
        ["proxy-1", "other"],
        [
            record("proxy-1", "Factory › trustProxy", 7),
            record("other", "Routes", 2),
            record("proxy-2", "Factory › trustProxy", 8),  # what the option does
            record("proxy-4", "Factory › trustProxy", 9),
            record("far", "Factory › trustProxy", 20),  # the same heading far away
            record("elsewhere", "Factory › trustProxy", 8, source="docs/other.md"),
        ],
    )
    RestOfSection().rerank(found)
    assert found.order == ["proxy-1", "other", "proxy-2", "proxy-4"]


def test_nothing_is_added_when_the_best_section_is_whole() -> None:
    found = candidates(["a"], [record("a", "Routes", 1), record("b", "Hooks", 2)])
    RestOfSection().rerank(found)
    assert found.order == ["a"]


def test_chunks_read_as_the_rest_of_a_section_are_no_evidence_for_the_gate() -> None:
    from assistant.grounding.gate import leading
    from assistant.models import Hit
    from tests.helpers.units import scored

    def unit(hit: Hit, score: float):
        return scored(hit, score=score)

    best = Hit(record("proxy-1", "Factory › trustProxy", 7), 1.0)
    rest = Hit(record("proxy-2", "Factory › trustProxy", 8), 0.5, context=True)
    assert [u.hit for u in leading([unit(rest, 0.9), unit(best, 0.8)])] == [best]


def test_the_chunks_either_side_of_the_best_hits_are_fetched_though_retrieval_missed_them():
    """ "If the error statusCode is less than 400, …" sits one chunk before the one naming
    the handler: the index knows each chunk's place, so it is read even unranked."""
    from assistant.index.lexical import LexicalIndex

    chunks = [
        record("handler-0", "Server › setErrorHandler", 4),  # the rule, not ranked
        record("handler-1", "Server › setErrorHandler", 5),
        record("routes-3", "Routes", 3),
        record("routes-4", "Routes", 4),  # second hit's neighbour: read too
        record("routes-9", "Routes", 9),  # too far
        record("hooks-6", "Hooks", 6),  # next in the document, another section
    ]
    lexical = LexicalIndex.build(chunks)
    ranked = {r.id: r for r in chunks if r.id in ("handler-1", "routes-3")}
    store = {r.id: r for r in chunks}
    found = Candidates("q", np.zeros(3), k=2, fused={"handler-1": 1.0, "routes-3": 0.5},
                       order=["handler-1", "routes-3"], records=dict(ranked),
                       fetch=lambda ids: {i: store[i] for i in ids})  # fmt: skip

    RestOfSection(lexical).rerank(found)

    assert found.order == ["handler-1", "routes-3", "handler-0", "routes-4"]
    assert found.fused["handler-0"] == 0.0  # read beside the hits, not ranked


def test_an_index_saved_before_chunk_places_were_kept_adds_only_what_retrieval_found(
    tmp_path,
) -> None:
    from assistant.index.lexical import LexicalIndex

    chunks = [record("a-1", "Routes", 1), record("a-2", "Routes", 2)]
    built = LexicalIndex.build(chunks)
    built.places = None  # as an older version wrote it
    built.save(tmp_path, "g1")
    old = LexicalIndex.load(tmp_path)
    assert old is not None and old.chunk_at("docs/server.md", "Routes", 2) is None
    assert not LexicalIndex.is_complete(tmp_path)  # the next ingest rebuilds it, no embedding
    found = candidates(["a-1"], chunks[:1])
    RestOfSection(old).rerank(found)
    assert found.order == ["a-1"]
