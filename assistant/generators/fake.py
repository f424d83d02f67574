"""Deterministic generators for tests about the logic around generation (the service,
the edges, streaming), without an endpoint: the pattern of pydantic-ai's `TestModel` and
`FunctionModel`.

- `FunctionGenerator(fn)`: `fn(evidence)` returns the Draft (or the text) to answer with.
- `QuotingGenerator()`: quotes the first sentence of each of the `n` best units, each cited.
Both stream their text word by word when `streams=True`, like an LLM.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from collections.abc import Generator as Stream

from assistant.generators.base import Draft, Evidence, Generator
from assistant.models import SNIPPET_CHARS, Citation
from assistant.text import shorten

DraftFunction = Callable[[Evidence], Draft | str]


class FunctionGenerator(Generator):
    name = "function"

    def __init__(self, fn: DraftFunction, *, streams: bool = False) -> None:
        self.fn = fn
        self.streams = streams
        self.calls: list[Evidence] = []  # what it was asked, for assertions

    def generate(self, evidence: Evidence) -> Draft:
        self.calls.append(evidence)
        out = self.fn(evidence)
        return out if isinstance(out, Draft) else Draft(out)

    def stream(self, evidence: Evidence) -> Stream[str, None, Draft]:
        draft = self.generate(evidence)
        if self.streams:
            yield from re.findall(r"\S+\s*|\s+", draft.text)
        return draft


class QuotingGenerator(FunctionGenerator):
    """The best units' opening sentences, one line each, cited `[1]`…`[n]`."""

    name = "quoting"

    def __init__(self, n: int = 2, *, streams: bool = False) -> None:
        super().__init__(self._quote, streams=streams)
        self.n = n

    def _quote(self, evidence: Evidence) -> Draft:
        best = evidence.units[: self.n]
        if not best:
            return Draft("", refused=True)
        citations = [
            Citation.of(i, u.hit.chunk, shorten(u.raw, SNIPPET_CHARS), u.score)
            for i, u in enumerate(best, start=1)
        ]
        text = "\n".join(f"{u.raw} [{i}]" for i, u in enumerate(best, start=1))
        return Draft(text, citations)
