"""The agent's tools over the corpus: search, read a whole section, list the sources.

Every passage a tool returns is numbered in the answer's `Passages`, so the model can
cite it and the citation check will accept it. Tool results are data for the model,
never instructions (the system rules say so, and passages come quoted, see `Passages`);
they are capped so a big section cannot flood the context.
"""

from __future__ import annotations

import logging
import re

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, ValidationError

from assistant.agent.corpus import Corpus
from assistant.agent.passages import Passages

log = logging.getLogger(__name__)
SEARCH_K = 4
MAX_RESULT_CHARS = 4000
MAX_LISTED_SECTIONS = 60


class SearchArgs(BaseModel):
    query: str = Field(..., description="What to look for, in plain words.")


class ReadSectionArgs(BaseModel):
    section: str = Field(
        ...,
        description="A passage number (e.g. 3) to read its whole section, or a section "
        "heading from list_sources (e.g. 'Fastify' or '1. TypeScript backends').",
    )


class ListSourcesArgs(BaseModel):
    pass


class CorpusTools:
    def __init__(self, corpus: Corpus, passages: Passages) -> None:
        self.corpus = corpus
        self.passages = passages
        self.tools: dict[str, BaseTool] = {
            t.name: t
            for t in (
                StructuredTool.from_function(
                    self.search, name="search", args_schema=SearchArgs,
                    description="Search the corpus (hybrid: meaning and keywords). Returns "
                    "numbered passages you can cite.",
                ),
                StructuredTool.from_function(
                    self.read_section, name="read_section", args_schema=ReadSectionArgs,
                    description="Read a whole section (with its subsections) as numbered "
                    "passages you can cite.",
                ),
                StructuredTool.from_function(
                    self.list_sources, name="list_sources", args_schema=ListSourcesArgs,
                    description="List the corpus' articles and their section headings.",
                ),
            )
        }  # fmt: skip

    def search(self, query: str) -> str:
        hits = self.corpus.search(query, SEARCH_K)
        found = self.passages.add_all(((h.chunk, h.score) for h in hits), via="search")
        if not found:
            return f"No passage matches {query!r}."
        return Passages.render(found, limit=MAX_RESULT_CHARS)

    def read_section(self, section: str) -> str:
        ref = re.fullmatch(r"\s*\[?(\d+)\]?\s*", section)
        if ref and int(ref.group(1)) in self.passages.by_n:
            chunk = self.passages.by_n[int(ref.group(1))].chunk
            chunks = self.corpus.section(chunk.section, chunk.source)
        else:
            chunks = self.corpus.section(section)
        found = self.passages.add_all(((c, 0.0) for c in chunks), via="read_section")
        if not found:
            return f"No section {section!r}: call list_sources for the headings."
        return Passages.render(found, limit=MAX_RESULT_CHARS)

    def list_sources(self) -> str:
        lines: list[str] = []
        for name, src in self.corpus.outline().items():
            lines.append(f"{src.title} ({name})")
            sections = list(src.sections)
            lines += [f"  - {s}" for s in sections[:MAX_LISTED_SECTIONS]]
            if len(sections) > MAX_LISTED_SECTIONS:
                lines.append(f"  … and {len(sections) - MAX_LISTED_SECTIONS} more")
        return _cap("\n".join(lines)) or "The corpus is empty."

    def call(self, name: str, args: object) -> tuple[str, bool]:
        """Run one tool call as the model wrote it: (result, ok). A bad call is answered
        with what went wrong, so the model can correct itself on its next step."""
        tool = self.tools.get(name)
        if tool is None:
            return f"Unknown tool {name!r}; the tools are {', '.join(self.tools)}.", False
        if not isinstance(args, dict):
            return f"The arguments of {name} must be a JSON object.", False
        try:
            return str(tool.invoke(args)), True
        except ValidationError as exc:
            problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors())
            return f"Bad arguments for {name}: {problems}", False
        except Exception as exc:  # a failing tool costs the model a step, not the answer
            log.exception("tool %s failed", name)
            return f"{name} failed: {type(exc).__name__}", False


def _where(loc: tuple) -> str:
    return ".".join(map(str, loc)) or "arguments"


def _cap(text: str) -> str:
    return text if len(text) <= MAX_RESULT_CHARS else text[: MAX_RESULT_CHARS - 1] + "…"
