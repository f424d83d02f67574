"""The one assistant service every interface calls: CLI, HTTP routes, Slack handlers.

ask() runs the stages in order: validate → read (strip injected instructions, make a
follow-up standalone: `query/`) → find (embed, hybrid retrieval and its rerankers:
`retrieval/`) → score evidence units and pass the grounding gate (subjects covered, the
relevance judge: `grounding/`) → write (a generator, or a refusal) → Answer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Generator as Stream
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from assistant.conversations.base import Conversations
from assistant.errors import ConfigError, IndexNotReady, InvalidQuestion
from assistant.feedback.base import FeedbackStore
from assistant.generators import Draft, Evidence, Generator, get_generator, resolve_backend
from assistant.grounding.gate import GateResult, assess
from assistant.grounding.in_context import answers_the_turn
from assistant.grounding.judges import RelevanceJudge, get_judge
from assistant.grounding.scoring import ScoredUnit, score_units
from assistant.index.lexical import LexicalIndex, generation_of
from assistant.index.live import IndexView, LiveIndex
from assistant.index.vectors.base import VectorStore
from assistant.index.vectors.exact import ExactSearch
from assistant.index.vectors.served import ServedIndex
from assistant.models import Answer, Hit, Turn
from assistant.prompts import Prompts
from assistant.query.followup import Rewrite, rewrite, told
from assistant.query.injection import strip_injection
from assistant.query.intent import Query, make_query
from assistant.query.names import listing
from assistant.retrieval.hybrid import HybridRetriever, Mode
from assistant.settings import Settings, load_settings
from assistant.streams import drain
from assistant.text import encodable

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)


@dataclass
class Reading:
    """The question as read: cleaned of injected instructions, and made standalone."""

    cleaned: str
    injected: bool
    turn: Rewrite
    # "rules" or "llm" for a follow-up made standalone; "context" for a turn answered
    # from its search with the conversation before it
    rewritten_by: str | None
    told: tuple[frozenset[str], ...] = ()  # the last answer's lines, as terms

    @property
    def standalone(self) -> str:
        return self.turn.standalone


class Judged(NamedTuple):
    """One search for a question and what the gate made of it."""

    query: Query
    hits: list[Hit]
    units: list[ScoredUnit]
    verdict: GateResult


RELATED_SECTIONS = 3
# Whose conversations in-process callers (the CLI, scripts) read and write; the HTTP and
# Slack edges pass owners of their own, so none of them can reach another's.
LOCAL_OWNER = "local"


class Assistant:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        store=None,
        embedder=None,
        judge: RelevanceJudge | None = None,
        generator: Generator | None = None,
    ) -> None:
        """Backends not given are made from `settings` when first needed; a `generator`
        given answers for every backend name (tests: `generators/fake.py`)."""
        self.settings = settings or load_settings()
        self.prompts = Prompts(self.settings.prompts_dir)
        self._store = store
        self._owns_store = store is None  # a store handed in is the caller's to reopen
        # The index generation this process last wrote or loaded: a store whose generation
        # is another was written elsewhere, and an embedded one must then be reopened.
        self._known_generation: str | None = None
        self._embedder = embedder
        self._live: LiveIndex | None = None
        self._conversations: Conversations | None = None
        self._feedback: FeedbackStore | None = None
        self._documents = None
        self._generators: dict[str, Generator] = {}
        self._fixed_generator = generator
        self._judge: RelevanceJudge | None = judge
        self._lock = threading.RLock()  # backends open once, even under concurrent requests

    # -- lazily opened backends -------------------------------------------------------------
    @property
    def store(self):
        """The vector store as last opened (reads in flight may hold an older handle)."""
        with self._lock:
            if self._store is None:
                from assistant.index.vectors import open_store

                self._store = open_store(self.settings)
            return self._store

    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                from assistant.embeddings import get_embedder

                self._embedder = get_embedder(self.settings)
            return self._embedder

    def close(self) -> None:
        """Release the backends this Assistant opened (the store's threads, job threads);
        the index and the database stay. Using it afterwards opens them again."""
        with self._lock:
            if self._documents is not None:
                self._documents.close()
            if self._store is not None and self._owns_store:
                self._store.close()
                self._store = None
            self._live = None

    def ingest(self, paths=None, **kwargs):
        """Bring the index in line with `paths` (default: the bundled corpus), one writer
        at a time across this host's processes."""
        from ingest.pipeline import run_ingest

        paths = paths if paths is not None else [self.settings.corpus_dir]
        return self._as_writer(lambda store: run_ingest(paths, self.settings, store=store,
                                                    embedder=self._embedder, **kwargs))  # fmt: skip

    def remove_documents(self, origins: Sequence[str]) -> int:
        """Delete the documents known by `origins` from the index; returns chunks removed."""
        from ingest.pipeline import remove_documents

        return self._as_writer(lambda store: remove_documents(origins, self.settings, store=store))

    def _as_writer(self, write):
        """Run `write(store)` as this host's one writer, on a handle that sees every earlier
        write; readers here see the result on their next question."""
        from ingest.locks import write_lock

        with write_lock(self.settings):
            store = self._writable_store()
            result = write(store)
            self._known_generation = store.state().get("generation")
        self._live_index().invalidate()
        return result

    def _writable_store(self):
        """The store to write with, under the write lock: opened afresh when another
        process wrote since this one last did (an embedded store's cached index would be
        stale, and writing through it could lose that process's vectors)."""
        with self._lock:
            if self._store is not None and self._written_elsewhere(self._store.state()):
                self._store = self._store.reopened()
            return self.store

    def _written_elsewhere(self, state: dict) -> bool:
        if not self._owns_store:
            return False  # the caller's handle: theirs to keep current
        return state.get("generation") != self._known_generation or state.get("clean") == "0"

    @property
    def documents(self):
        """The corpus as a product surface: list, add (files, URLs, feeds), refresh, remove."""
        with self._lock:
            if self._documents is None:
                from assistant.documents.service import Documents

                self._documents = Documents(self)
            return self._documents

    @property
    def conversations(self) -> Conversations:
        from assistant.conversations.memory import MemoryConversations
        from assistant.conversations.store import ConversationStore

        return self._kept("_conversations", MemoryConversations, ConversationStore)

    @property
    def feedback(self) -> FeedbackStore:
        """Votes on answers, kept beside the conversations."""
        from assistant.feedback.memory import MemoryFeedbackStore
        from assistant.feedback.store import SqlFeedbackStore

        return self._kept("_feedback", MemoryFeedbackStore, SqlFeedbackStore)

    def _kept(self, attr: str, memory, sql):
        """The store in `attr`, opened once: in memory, or in the database
        (`settings.conversation_store`)."""
        with self._lock:
            if getattr(self, attr) is None:
                if self.settings.conversation_store == "memory":
                    setattr(self, attr, memory())
                else:
                    self.settings.data_dir.mkdir(parents=True, exist_ok=True)
                    setattr(self, attr, sql(self.settings.database))
            return getattr(self, attr)

    def chat(
        self,
        question: str,
        conversation_id: str | None = None,
        *,
        owner: str = LOCAL_OWNER,
        **options: object,
    ) -> Answer:
        """Answer within a stored conversation of `owner` (a new one when no id is given);
        another owner's conversation is NotFound."""
        history = self._history(conversation_id, owner)
        answer = self.ask(question, history, **options)
        self._remember(answer, conversation_id, owner)
        return answer

    def conversation(self, conversation_id: str, owner: str):
        """The whole record of one of `owner`'s conversations."""
        return self.conversations.get(conversation_id, owner)

    def check_conversation(self, conversation_id: str, owner: str) -> None:
        """NotFound unless `owner` has this conversation (cheap: reads no turns)."""
        self.conversations.recent(conversation_id, 0, owner)

    def delete_conversation(self, conversation_id: str, owner: str) -> None:
        self.conversations.delete(conversation_id, owner)

    def stream(
        self,
        question: str,
        conversation_id: str | None = None,
        *,
        owner: str = LOCAL_OWNER,
        **options: object,
    ) -> Iterator[tuple[str, Any]]:
        """Events for streaming edges: ("citations", [...]), ("delta", text)…, ("done", {...}).

        The extractive answer exists whole before the first event; it is sent in pieces.
        The LLM's text is sent as it is written: `citations` then lists the passages it may
        cite, and `done` carries the checked answer, with `replaced: true` when that is not
        the text streamed (unknown [n] removed, or the extractive answer instead).
        """
        history = self._history(conversation_id, owner)
        run = self.events(question, history, **options)
        streamed: list[str] = []
        while True:
            try:
                kind, data = next(run)
            except StopIteration as done:
                answer: Answer = done.value
                break
            if kind == "delta":
                streamed.append(data)
            yield kind, data
        self._remember(answer, conversation_id, owner)
        yield "done", {**answer.to_dict(), "replaced": "".join(streamed) != answer.answer}

    def _history(self, conversation_id: str | None, owner: str) -> list[Turn]:
        if conversation_id is None:
            return []
        return self.conversations.recent(conversation_id, self.settings.history_turns, owner)

    def _remember(self, answer: Answer, conversation_id: str | None, owner: str) -> None:
        store = self.conversations
        if conversation_id is None:
            answer.conversation_id = store.start(answer.question, answer, owner)
        else:
            store.append(conversation_id, answer.question, answer, owner)
            answer.conversation_id = conversation_id

    def reset_index(self) -> None:
        """Drop everything ingested (for `ingest --rebuild`)."""
        from ingest.locks import write_lock
        from ingest.pipeline import reset_index

        with write_lock(self.settings):
            reset_index(self.settings, self.store)
        with self._lock:
            if self._owns_store:
                self._store.close()
            self._store = None  # the collections are gone: reopen them
            if self._live is not None:
                self._live.drop()

    def ready(self) -> LexicalIndex:
        """Load the index (ingesting the bundled corpus first if nothing was ingested);
        the BM25 index of the generation a new question reads."""
        return self.index().lexical

    def index(self) -> IndexView:
        """The current generation of the index: a request reads this one view throughout."""
        return self._live_index().view()

    def _live_index(self) -> LiveIndex:
        with self._lock:
            if self._live is None:
                self._live = LiveIndex(self.settings, lambda: self.store, self._load_view,
                                       reopen=self._written_elsewhere)  # fmt: skip
            return self._live

    def _load_view(self, open_store: Callable[[], VectorStore]) -> IndexView:
        served = self._served()
        if served is not None:  # answered from files: the store is opened only to write
            self._check_made_here(served.state())
            generation = served.state().get("generation")
            lexical = LexicalIndex.load(self.settings.lexical_dir)
            if lexical is not None and generation == LexicalIndex.current_generation(
                self.settings.lexical_dir
            ):
                snapshot = served.snapshot(self.settings.exact_search_max_vectors)
                exact = ExactSearch(snapshot) if snapshot is not None else None
                with self._lock:
                    self._known_generation = generation
                return IndexView(served, lexical, exact, generation)
        store = open_store()
        state = store.state()
        if store.count() == 0 and not state.get("generation"):
            log.info("empty index: ingesting the bundled corpus %s", self.settings.corpus_dir)
            self.ingest()
            store = self.store
            state = store.state()
        self._check_made_here(state)
        generation = state.get("generation")
        lexical = LexicalIndex.load(self.settings.lexical_dir)
        if lexical is None or generation != LexicalIndex.current_generation(
            self.settings.lexical_dir
        ):
            # Out of step (an ingest was interrupted, or another host wrote through the
            # Chroma server): rebuild in memory, don't write.
            log.warning("BM25 index out of step with the vector store; rebuilding it")
            records = list(store.iter_records())
            lexical = LexicalIndex.build(records)
            log.info("rebuilt generation %s", generation_of(r.id for r in records))
        snapshot = store.snapshot(self.settings.exact_search_max_vectors)
        exact = ExactSearch(snapshot) if snapshot is not None else None
        with self._lock:
            self._store = store  # later questions read the handle that saw this generation
            self._known_generation = generation
        return IndexView(store, lexical, exact, generation)

    def _served(self) -> ServedIndex | None:
        """The current generation's own files, when this process reads an embedded store
        it opened itself (a server's store, or one handed in, is read where it is)."""
        if self.settings.vector_store != "chroma" or self.settings.chroma_url:
            return None
        if not self._owns_store:
            return None
        generation = LexicalIndex.current_generation(self.settings.lexical_dir)
        if generation is None:
            return None
        served = ServedIndex.load(self.settings.lexical_dir / generation)
        return served if served and served.state().get("generation") == generation else None

    def _check_made_here(self, state: dict[str, str]) -> None:
        """The index was written by this version, with the embedder this process has."""
        from assistant.index.identity import INDEX_FORMAT, model_identity

        if state.get("format") != INDEX_FORMAT:
            raise IndexNotReady(
                "the index was built by another version of StackGuide: "
                "run `stackguide ingest` to bring it up to date"
            )
        identity = model_identity(self.settings, self.embedder.dimension)
        if state.get("model") and state["model"] != identity:
            raise ConfigError(
                f"the index was built with {state['model']}, but the embedder is "
                f"{identity}: run `stackguide ingest --rebuild`"
            )

    # -- answering --------------------------------------------------------------------------
    def validate(self, question: str) -> str:
        if not isinstance(question, str) or not question.strip():
            raise InvalidQuestion("the question is empty")
        question = " ".join(question.split())
        if "\x00" in question or not encodable(question):
            raise InvalidQuestion("the question contains characters that are not valid text")
        if not any(ch.isalpha() for ch in question):
            # "5", "[9]", "???": nothing to look up, and digits alone match citation
            # markers and list numbers anywhere in the corpus
            raise InvalidQuestion("the question has no words to look up")
        if len(question) > self.settings.max_question_chars:
            raise InvalidQuestion(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.settings.max_question_chars}"
            )
        return question

    def generator(self, backend: str | None = None) -> Generator:
        """The answer generator for a backend name (`auto` resolved), made once."""
        name = resolve_backend(backend or self.settings.backend, self.settings)
        if self._fixed_generator is not None:
            return self._fixed_generator
        with self._lock:
            if name not in self._generators:
                self._generators[name] = get_generator(name, self.settings, self.prompts)
            return self._generators[name]

    @property
    def judge(self) -> RelevanceJudge:
        """The relevance judge the gate asks (`settings.relevance_judge`), made once."""
        with self._lock:
            if self._judge is None:
                self._judge = get_judge(self.settings, self.prompts)
            return self._judge

    def ask(self, question: str, history: Sequence[Turn] = (), **options: Any) -> Answer:
        return drain(self.events(question, history, **options))

    def events(
        self,
        question: str,
        history: Sequence[Turn] = (),
        *,
        backend: str | None = None,
        retriever: Mode | None = None,
        k: int | None = None,
        trace: bool = False,
    ) -> Stream[tuple[str, Any], None, Answer]:
        """Answer one question: yields ("citations", …) and ("delta", text) events as the
        answer is written, returns the Answer (no conversation is stored)."""
        t0 = time.perf_counter()
        asked = self.validate(question)
        generator = self.generator(backend)
        self.embedder.prepare()  # the model opens while the index loads
        view = self.index()
        lexical = view.lexical
        timings: dict[str, float] = {}
        reading = self._read(asked, history, generator, lexical, timings)
        found = self._judged(reading.turn.retrieval, reading, view, retriever, k, timings)
        if found.verdict.ok and reading.turn.in_context:
            found = self._in_context(found, reading, view, retriever, k, timings)
        query, hits, units, verdict = found
        t = time.perf_counter()
        draft, streamed = None, False
        if verdict.ok:
            evidence = Evidence(verdict.covered(query), hits, units, lexical,
                                corpus=self._corpus_access(view))  # fmt: skip
            draft, streamed = yield from self._write(
                generator, evidence, verdict.note(self.prompts)
            )
        refused = draft is None or draft.refused
        related = _related_sections(hits) if refused else []
        if refused:
            reason = verdict.reason if draft is None else "the LLM found no answer in the passages"
            log.info("refused: %s (best %.3f)", reason, verdict.best)
            text = self._refusal(related, verdict.writing if draft is None else None,
                                 verdict.uncovered if draft is None else [])  # fmt: skip
            draft = Draft(text, refused=True, trace=draft and draft.trace)
        timings["generate"] = _ms(t)
        timings["total"] = _ms(t0)
        answer = Answer(
            question=asked,
            answer=draft.text,
            citations=[] if refused else draft.citations,
            refused=refused,
            backend=draft.backend or generator.name,
            timings_ms=timings,
            related_sections=related,
            standalone_question=reading.standalone
            if reading.standalone != reading.cleaned
            else None,
            trace=_trace(hits, verdict, reading.injected, reading.rewritten_by, draft)
            if trace
            else None,
            degraded=draft.degraded_reason is not None,
            degraded_reason=draft.degraded_reason,
            citations_removed=draft.citations_removed,
            uncovered=[] if refused else verdict.uncovered,
        )
        if not streamed:  # written whole: sent in pieces so every edge streams alike
            yield "citations", [asdict(c) for c in answer.citations]
            for piece in re.findall(r"\S+\s*|\s+", answer.answer):
                yield "delta", piece
        return answer

    # -- the stages of an answer ------------------------------------------------------------
    def _read(
        self,
        asked: str,
        history: Sequence[Turn],
        generator: Generator,
        lexical: LexicalIndex,
        timings: dict[str, float],
    ) -> Reading:
        """The question as the pipeline reads it: injected instructions cut out, a
        follow-up made standalone (by the LLM when one is configured, else by rules)."""
        history = [Turn(t.role, _clean(t.content)) for t in history]
        cleaned, injected = strip_injection(asked)
        cleaned = lexical.rejoin(cleaned)
        turn = rewrite(cleaned, history, lexical) if cleaned else Rewrite("", asked)
        rewritten_by = "rules" if turn.standalone != cleaned else None
        if rewritten_by:  # a follow-up: an LLM may say it better; the rules stay the fallback
            t = time.perf_counter()
            better = generator.rewrite(cleaned, history)
            if better:
                extra = turn.retrieval[len(turn.standalone) :]  # e.g. the previous answer
                turn = Rewrite(better, better + extra, turn.refers_back)
                rewritten_by = "llm"
            timings["rewrite"] = _ms(t)
        return Reading(cleaned, injected, turn, rewritten_by, told(history))

    def _judged(
        self,
        search_text: str,
        reading: Reading,
        view: IndexView,
        retriever: Mode | None,
        k: int | None,
        timings: dict[str, float],
        turn_vector: np.ndarray | None = None,
    ) -> Judged:
        """Search with `search_text`: embed it (and a follow-up's own words, unless
        `turn_vector` has them already), retrieve its passages, score their units and
        pass the gate."""
        cleaned = reading.cleaned
        t = time.perf_counter()
        if turn_vector is not None:
            vector = self.embedder.embed_one(search_text)
        elif search_text != cleaned and cleaned:  # a follow-up: its own meaning counts too
            vector, turn_vector = self.embedder.embed([search_text, cleaned])
        else:
            vector = turn_vector = self.embedder.embed_one(search_text)
        _took(timings, "embed", t)
        t = time.perf_counter()
        query = make_query(cleaned, search_text, vector, turn_vector, view.lexical,
                           refers_back=reading.turn.refers_back, told=reading.told)  # fmt: skip
        hits = self._retriever(view).retrieve(
            search_text,
            vector,
            k or self.settings.top_k,
            retriever or self.settings.retriever,
            caution=query.caution,  # decided on the turn, not on the earlier answer it quotes
            turn=cleaned,
        )
        _took(timings, "retrieve", t)
        t = time.perf_counter()
        units = score_units(query, hits, view.lexical)
        # The gate decides before any LLM call: an out-of-scope question never reaches a
        # model as something to answer.
        verdict = assess(query, units, view.lexical, self.judge)
        _took(timings, "gate", t)
        return Judged(query, hits, units, verdict)

    def _in_context(
        self,
        alone: Judged,
        reading: Reading,
        view: IndexView,
        retriever: Mode | None,
        k: int | None,
        timings: dict[str, float],
    ) -> Judged:
        """The turn searched with the conversation before it, kept when the gate passes
        it and its passages answer the turn's own words nearly as well as the turn's own
        search does; the gate has already passed the turn on its own words."""
        said = self._judged(reading.turn.in_context, reading, view, retriever, k, timings,
                            alone.query.turn_vector)  # fmt: skip
        if not said.verdict.ok:
            return alone
        if not answers_the_turn(alone.units, score_units(alone.query, said.hits, view.lexical)):
            return alone
        reading.rewritten_by = "context"
        return said

    def _write(
        self, generator: Generator, evidence: Evidence, note: str
    ) -> Stream[tuple[str, Any], None, tuple[Draft, bool]]:
        """The generator's draft, streamed when it streams; `note` (what the answer is not
        about: a close name read instead, subjects the corpus lacks) is said first."""
        streamed = False
        if generator.streams:
            yield "citations", [asdict(c) for c in generator.candidates(evidence)]
            if note:
                yield "delta", f"{note}\n\n"
            draft = yield from _deltas(generator.stream(evidence))
            streamed = True
        else:
            draft = generator.generate(evidence)
        if note and not draft.refused:
            draft.text = f"{note}\n\n{draft.text}"
        return draft, streamed

    def _refusal(
        self, related: list[str], writing: str | None = None, lacking: Sequence[str] = ()
    ) -> str:
        if writing:
            text = self.prompts.render("refusal_writing.md", thing=writing)
        elif lacking:  # the question's subjects, none of which the corpus covers
            text = self.prompts.render("refusal_uncovered.md", names=listing(lacking, "or"))
        else:
            text = self.prompts.text("refusal.md")
        if related:
            sections = "\n".join(f"- {s}" for s in related)
            text += "\n\n" + self.prompts.render("related_sections.md", sections=sections)
        return text

    def _retriever(self, view: IndexView) -> HybridRetriever:
        return HybridRetriever(
            view.store,
            view.lexical,
            fusion=self.settings.fusion,
            alpha=self.settings.fusion_alpha,
            candidates=self.settings.candidates,
            cover=self.settings.coverage_rerank,
            cache=view.records,
            exact=view.exact,
        )

    def search(self, text: str, k: int, view: IndexView | None = None) -> list[Hit]:
        """Hybrid retrieval for a free-text query (what the agent's search tool runs)."""
        view = view or self.index()
        hits = self._retriever(view).retrieve(
            text, self.embedder.embed_one(text), k, self.settings.retriever
        )
        return [h for h in hits if not h.context]  # the k best, not the sections' rest

    def _corpus_access(self, view: IndexView):
        from assistant.agent.corpus import Corpus

        with self._lock:
            if view.corpus is None:
                view.corpus = Corpus(lambda q, k: self.search(q, k, view), view.store,
                                     view.records)  # fmt: skip
            return view.corpus


def _related_sections(hits: list[Hit]) -> list[str]:
    """The closest sections a refusal names: what the corpus does cover nearby."""
    return list(dict.fromkeys(h.chunk.section for h in hits if h.chunk.section))[:RELATED_SECTIONS]


def _deltas(stream: Stream[str, None, Draft]) -> Stream[tuple[str, Any], None, Draft]:
    while True:
        try:
            text = next(stream)
        except StopIteration as done:
            return done.value
        yield "delta", text


def _trace(hits, verdict, injected: bool, rewritten_by: str | None, draft: Draft) -> dict:
    trace = {
        "retrieved": [
            {
                "section": h.chunk.section,
                "source": h.chunk.source,
                "id": h.chunk.id,
                "score": round(h.score, 5),
                "dense": h.dense,
                "bm25": h.bm25,
            }
            for h in hits
        ],
        "gate": {
            "ok": verdict.ok,
            "reason": verdict.reason,
            "best": round(verdict.best, 4),
            "unknown": verdict.unknown,
            "uncovered": verdict.uncovered,
            "judge": verdict.judge,
            "probability": None if verdict.probability is None else round(verdict.probability, 4),
        },
        "instructions_removed": injected,
        "rewrite": rewritten_by,
    }
    if draft.trace is not None:  # the LLM's steps, the passages it was shown, the check
        trace["generation"] = draft.trace
    return trace


def _clean(text: str) -> str:
    """Earlier turns are context, not input to reject: drop what is not valid text."""
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _took(timings: dict[str, float], stage: str, start: float) -> None:
    """Add the time since `start` to `stage` (a turn searched twice embeds twice)."""
    timings[stage] = round(timings.get(stage, 0.0) + _ms(start), 2)
