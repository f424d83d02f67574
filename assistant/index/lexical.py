"""BM25 (bm25s) over the chunks, persisted beside the vector store and kept in step.

The index is written under `bm25/<generation>/` and published by atomically replacing
`bm25/CURRENT`, so a reader never sees a half-written index and a killed ingest leaves
the previous one in place. The generation is a hash of the chunk ids; the vector store
records the same value, which is how a reader knows the two agree.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import re
import shutil
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from assistant.models import ChunkRecord
from assistant.text import (
    SEP,
    STOPWORDS,
    TOKENIZER,
    content_terms,
    split_sentences,
    stem,
    subject_terms,
    tokenize,
    words,
)

_PAIR = re.compile(r"\b([A-Za-z]{2,12})[ -]([A-Za-z]{1,6})\b")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]+")
# What precedes the first word of a sentence, a heading or a list item.
_OPENER = re.compile(r"(?:^|[.!?:;>|#\n])[\s*_`\"'(\[-]*$")
# Code (fenced blocks, `inline`): identifiers there are lowercase whatever the prose says.
_CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`", re.S)
PROPER_SHARE = 0.8  # capitalised at least this often mid-sentence: a name ("Hono", "Canada")
# A name as written ("Next.js", "NestJS", "Go") and a version ("v3", "3.13", "2.x", "1.22+").
NAME = re.compile(r"[A-Za-z][\w.+#/-]*[\w+#]")
VERSION = r"v?\d+(?:\.\d+)*(?:\.x)?\+?(?![\w+]|\.\w)"
_VERSION = re.compile(rf"(?<![\w.]){VERSION}", re.I)
_LIST_NUMBER = re.compile(r"^[\s#>*-]*\d+[.)]\s+", re.M)  # "4. Go": a place, not a version

# Other names people type for a thing the corpus names one way; applied before spelling.
ALIASES = {stem(k): v for k, v in {"golang": "go", "nodejs": "node", "reactjs": "react"}.items()}


def _bm25s():
    """bm25s, imported when first needed (it is not on every path), and without scipy:
    bm25s imports scipy.sparse only to offer a second way of building its matrices, and
    that import is ~80 ms of a cold answer. Its numpy backend, used here, builds the
    same matrices."""
    if "bm25s" not in sys.modules and "scipy.sparse" not in sys.modules:
        sys.modules["scipy.sparse"] = None  # type: ignore[assignment]  # "not installed"
        try:
            import bm25s
        finally:
            del sys.modules["scipy.sparse"]  # others may import it as usual
    import bm25s

    # Its import sets its logger to DEBUG, which prints every index build to stderr.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


def name_key(name: str) -> str:
    """The stemmed words of a name, as the corpus' names are keyed ("Next.js" → "next js")."""
    return " ".join(stem(w) for w in words(name))


def version_parts(version: str) -> list[str]:
    """ "v3" → ["3"], "1.22+" → ["1", "22"], "2.x" → ["2"]."""
    version = version.lower().removeprefix("v").rstrip("+").removesuffix(".x")
    return version.split(".")


def _names_and_versions(
    rec: ChunkRecord, forms: dict[str, Counter[str]], versions: dict[str, set[str]]
) -> None:
    """Collect how a chunk spells its names, and which versions it states beside them.

    A version belongs to every name of its sentence: "Prisma — great DX, v5 dropped…"
    states Prisma v5 although "DX" stands between. So a version is missed only when no
    sentence holds both, and a note that the corpus lacks it is not said wrongly.
    """
    sentences = [_LIST_NUMBER.sub("", part) for part in rec.section.split(SEP)]
    for line in _LIST_NUMBER.sub("", rec.text).splitlines():
        sentences.extend(split_sentences(line))
    for sentence in sentences:
        stated = {".".join(version_parts(v)) for v in _VERSION.findall(sentence)}
        for m in NAME.finditer(sentence):
            name = m.group(0).rstrip(".")
            if name.islower() or _VERSION.fullmatch(name):
                continue
            key = name_key(name)
            if not key or key in STOPWORDS:
                continue
            forms.setdefault(key, Counter())[name] += 1
            if stated:
                versions.setdefault(key, set()).update(stated)


def generation_of(ids: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(ids)).encode()).hexdigest()[:16]


def _doc_tokens(rec: ChunkRecord) -> list[str]:
    # The heading path is part of what a chunk is about ("Fastify", "Use when"). Tokens
    # are interned: a corpus repeats its words, and one string each, not one per use,
    # keeps the build ~150 MB smaller at 31k chunks.
    return [sys.intern(t) for t in tokenize(f"{rec.section}\n{rec.text}")]


class LexicalIndex:
    def __init__(
        self,
        ids: list[str],
        model,
        df: dict[str, int],
        subjects: set[str],
        sources: list[str] | None = None,
        proper: set[str] | None = None,
        names: dict | None = None,
        places: list[tuple[str, int]] | None = None,
    ) -> None:
        self.ids = ids
        self.sources = sources  # the source document of each chunk, aligned with `ids`
        self.places = places  # each chunk's (section, order in its document), aligned too
        self._at: dict[tuple[str, str, int], str] | None = None
        self.model = model
        self.df = df  # document frequency of each stemmed term
        self.subjects = subjects  # terms that name things: headings, "Chi — …" leads
        self.proper = proper or set()  # terms the corpus writes capitalised: names
        # How the corpus writes each name ("nestj" → "NestJS"), and the versions it states
        # beside it ("lucia" → ["v3"]); versions None: an index saved before they were kept.
        self.forms: dict[str, str] = (names or {}).get("forms", {})
        self.versions: dict[str, list[str]] | None = (names or {}).get("versions")
        self.n_docs = max(len(ids), 1)
        self._corrections: dict[str, str] = {}
        self._rows: dict[str, int] | None = None  # chunk id → row, built on first use
        # Spelling candidates by first letter: difflib over a 100k-term vocabulary is slow.
        self._vocab: dict[str, list[str]] = {}
        for t in sorted(df):
            if len(t) >= 4 and not t.isdigit():
                self._vocab.setdefault(t[0], []).append(t)

    # -- building and persistence -------------------------------------------------------
    @classmethod
    def build(cls, records: Iterable[ChunkRecord]) -> LexicalIndex:
        bm25s = _bm25s()
        ids, corpus, subjects, sources, places = [], [], set(), [], []
        df: Counter[str] = Counter()
        cased: Counter[str] = Counter()  # mid-sentence occurrences written capitalised
        seen: Counter[str] = Counter()  # all mid-sentence occurrences
        forms: dict[str, Counter[str]] = {}
        versions: dict[str, set[str]] = {}
        for rec in records:
            ids.append(rec.id)
            sources.append(rec.source)
            places.append((rec.section, rec.order))
            tokens = _doc_tokens(rec) or ["<empty>"]
            corpus.append(tokens)
            if rec.preview:  # announces what the corpus lacks: its words are not "known"
                continue
            df.update(set(tokens))
            for unit in rec.units:
                subjects |= subject_terms(rec.section, unit["text"])
            _names_and_versions(rec, forms, versions)
            prose = _CODE.sub(" ", rec.text)
            for m in _WORD.finditer(prose):
                word = m.group(0)
                # ALL CAPS says little: code constants (A_STANDOUT) as often as acronyms.
                if word.isupper() or _OPENER.search(prose, max(0, m.start() - 8), m.start()):
                    continue
                term = stem(word.lower())
                seen[term] += 1
                cased[term] += word[0].isupper()
        model = bm25s.BM25(csc_backend="numpy")
        if corpus:
            model.index(corpus, show_progress=False)
        proper = {t for t, n in cased.items() if n >= PROPER_SHARE * seen[t] and t in df}
        names = {
            "forms": {key: spelt.most_common(1)[0][0] for key, spelt in forms.items()},
            "versions": {key: sorted(v) for key, v in versions.items()},
        }
        return cls(ids, model, dict(df), subjects, sources, proper, names, places)

    def save(self, root: Path, generation: str, also: Callable[[Path], None] | None = None) -> None:
        """Write this generation and make it current; `also(folder)` writes more files
        of the same generation into its folder before it appears."""
        root.mkdir(parents=True, exist_ok=True)
        target = root / generation
        tmp = root / f".{generation}.tmp{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        if self.ids:
            self.model.save(str(tmp), show_progress=False)
        (tmp / "ids.json").write_text(json.dumps(self.ids))
        (tmp / "df.json").write_text(json.dumps(self.df))
        (tmp / "subjects.json").write_text(json.dumps(sorted(self.subjects)))
        if self.sources is not None:
            (tmp / "sources.json").write_text(json.dumps(self.sources))
        (tmp / "proper.json").write_text(json.dumps(sorted(self.proper)))
        if self.places is not None:
            (tmp / "places.json").write_text(json.dumps(self.places))
        names = {"forms": self.forms, "versions": self.versions}
        (tmp / "names.json").write_text(json.dumps(names))
        (tmp / "tokenizer.txt").write_text(TOKENIZER)
        if also is not None:
            also(tmp)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(tmp, target)
        pointer = root / f".CURRENT.tmp{os.getpid()}"
        pointer.write_text(generation)
        os.replace(pointer, root / "CURRENT")
        for old in root.iterdir():  # earlier generations are no longer reachable
            if old.is_dir() and old.name != generation:
                shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def current_generation(root: Path) -> str | None:
        try:
            return (root / "CURRENT").read_text().strip() or None
        except OSError:
            return None

    @classmethod
    def is_complete(cls, root: Path) -> bool:
        """Whether the current generation has every file this version writes, made with
        this version's tokenizer (else ingest rebuilds it from the store, no embedding)."""
        generation = cls.current_generation(root)
        files = "ids.json df.json subjects.json sources.json proper.json names.json places.json"
        files = files.split()
        if not generation or not all((root / generation / n).exists() for n in files):
            return False
        try:
            return (root / generation / "tokenizer.txt").read_text() == TOKENIZER
        except OSError:
            return False

    @classmethod
    def load(cls, root: Path) -> LexicalIndex | None:
        generation = cls.current_generation(root)
        needed = ("ids.json", "df.json", "subjects.json")
        if not generation or not all((root / generation / n).exists() for n in needed):
            return None
        bm25s = _bm25s()
        folder = root / generation
        ids = json.loads((folder / "ids.json").read_text())
        model = bm25s.BM25.load(str(folder), show_progress=False) if ids else bm25s.BM25()
        df = json.loads((folder / "df.json").read_text())
        subjects = set(json.loads((folder / "subjects.json").read_text()))
        sources_file = folder / "sources.json"
        sources = json.loads(sources_file.read_text()) if sources_file.exists() else None
        proper_file = folder / "proper.json"
        proper = set(json.loads(proper_file.read_text())) if proper_file.exists() else None
        names_file = folder / "names.json"
        names = json.loads(names_file.read_text()) if names_file.exists() else None
        places_file = folder / "places.json"
        places = json.loads(places_file.read_text()) if places_file.exists() else None
        return cls(ids, model, df, subjects, sources, proper, names, places)

    # -- querying -----------------------------------------------------------------------
    def chunk_at(self, source: str, section: str, order: int) -> str | None:
        """The id of the chunk at `order` in `source`, if it is in `section` (None for an
        index saved before places were kept)."""
        if self._at is None:
            if self.places is None or self.sources is None:
                return None
            self._at = {
                (src, sec, int(n)): id_
                for id_, src, (sec, n) in zip(self.ids, self.sources, self.places, strict=True)
            }
        return self._at.get((source, section, order))

    def correct(self, term: str) -> str:
        """Map a misspelt query term onto the corpus vocabulary ('fastfy' → 'fastify'),
        and a common alias onto the name the corpus uses ('golang' → 'go')."""
        if term in self.df or len(term) < 4 or term.isdigit():
            return term
        if ALIASES.get(term) in self.df:
            return ALIASES[term]
        if term not in self._corrections:
            if len(self._corrections) > 100_000:  # bounded: questions are open-ended
                self._corrections.clear()
            self._corrections[term] = self._closest(term)
        return self._corrections[term]

    def _closest(self, term: str) -> str:
        # A short word gets one letter of slack ("rail" is not a misspelt "rahila") and
        # is corrected only onto a name the corpus writes about: "honno" is Hono, but
        # "bake" is a word the corpus lacks, not the "BLAKE" of a hash function's notes.
        short = len(term) <= 5
        slack = 1 if short else 2
        candidates = [
            t
            for t in self._vocab.get(term[0], [])
            if abs(len(t) - len(term)) <= slack and (not short or t in self.subjects)
        ]
        close = difflib.get_close_matches(term, candidates, n=1, cutoff=0.8)
        return close[0] if close else term

    def form(self, key: str) -> str:
        """How the corpus writes a name ("nestj" → "NestJS"); the key itself if unknown."""
        return self.forms.get(key, key)

    def states_version(self, key: str, version: str) -> bool | None:
        """Whether the corpus states this version of a name ("Lucia v3": yes, "Lucia v4":
        no). A broader or narrower one counts ("Python 3" for 3.13). None: unknown."""
        if self.versions is None:
            return None
        asked = version_parts(version)
        for stated in self.versions.get(key, []):
            have = stated.split(".")
            n = min(len(have), len(asked))
            if have[:n] == asked[:n]:
                return True
        return False

    def rejoin(self, text: str) -> str:
        """Join a name typed in two pieces ("graph ql") when the corpus heads a section
        with the joined form; spelling correction works on single words."""

        def joined(m: re.Match) -> str:
            a, b = m.group(1), m.group(2)
            whole = stem((a + b).lower())
            pieces = {stem(a.lower()), stem(b.lower())}
            return a + b if whole in self.subjects and not pieces <= self.subjects else m[0]

        return _PAIR.sub(joined, text)

    def query_terms(self, text: str) -> list[str]:
        return [self.correct(stem(w)) for w in words(text) if w not in STOPWORDS]

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return float(np.log(1 + (self.n_docs - df + 0.5) / (df + 0.5)))

    def coverage(self, text: str, ids: list[str]) -> dict[str, float]:
        """The share of the question's distinctive terms each chunk contains.

        Terms weigh idf²: a chunk naming "Keycloak" and "Clerk" covers "Keycloak vs Clerk —
        what's the fundamental difference?" far better than one about "fundamental data
        types", although BM25 sums can rank both alike once a corpus is large.
        """
        weights = {t: self.idf(t) ** 2 for t in self.content_query_terms(text)}
        total = sum(weights.values())
        if not total or not ids or not self.ids:
            return {}
        if self._rows is None:
            self._rows = {id_: n for n, id_ in enumerate(self.ids)}
        known = [i for i in ids if i in self._rows]
        rows = np.fromiter((self._rows[i] for i in known), dtype=np.int64, count=len(known))
        covered = np.zeros(len(known))
        for term, weight in weights.items():
            covered += weight * (self.model.get_scores([term])[rows] > 0)
        return dict(zip(known, (covered / total).tolist(), strict=True))

    def mentioned_in(self, terms: list[str], sources: set[str]) -> bool | None:
        """Whether any chunk of these source documents uses one of the terms (None: unknown,
        an index saved before sources were recorded)."""
        if self.sources is None:
            return None
        for term in terms:
            if term not in self.df:
                continue
            rows = np.flatnonzero(self.model.get_scores([term]) > 0)
            if any(self.sources[r] in sources for r in rows):
                return True
        return False

    def content_query_terms(self, text: str) -> list[str]:
        """Corrected content terms of a question that the corpus knows (no framing words)."""
        out = dict.fromkeys(self.correct(t) for t in content_terms(text))
        return [t for t in out if t in self.df]

    def search(self, text: str, k: int) -> list[tuple[str, float]]:
        terms = [t for t in self.query_terms(text) if t in self.df]
        if not terms or not self.ids:
            return []
        scores = self.model.get_scores(terms)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]
