"""Follow-ups ("and for Bun?") rewritten into standalone questions, without an LLM.

A turn that leans on the previous one (starts with a follow-up cue, asks for a
counterpart, or refers back with a pronoun and names little itself) is appended to the
previous question. When it points at something the assistant said ("the second one"),
the previous answer joins the retrieval query too. The turn's own words stay the focus
of the answer (see `grounding.evidence.W_FOCUS`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.models import Turn
from assistant.text import MARKER, content_terms

_CUE = re.compile(
    r"^\s*(and|or|but|also|what\s+about|how\s+about|what\s+if|same\s+(for|with)|"
    r"then|in\s+that\s+case|for|with|instead|ok(ay)?|why|why\s+not)\b",
    re.I,
)
# "the Python counterpart": another thing of the same kind (the old subject is replaced)
_RELATIONAL = re.compile(r"\b(equivalent|counterpart|alternative|analogue)\b", re.I)
# "its drawbacks", "the same choice", "the second one": the old subject is still meant
_BACK_REFERENCE = re.compile(
    r"\b(it|its|that|those|them|this|these|they|which\s+one|the\s+(same|first|second|third|"
    r"former|latter|other|last)(\s+one)?|one|ones)\b",
    re.I,
)
_MARK = re.compile(r"\[\d+\]|\*\*")
CONTEXT_CHARS = 400


@dataclass
class Rewrite:
    standalone: str  # what the user meant, in words a reader can check
    retrieval: str  # what to search with (may add the previous answer)
    refers_back: bool = False  # the turn still means the previous subject ("its", "same")


def is_follow_up(question: str) -> bool:
    if _CUE.match(question) or _RELATIONAL.search(question):
        return True
    return bool(_BACK_REFERENCE.search(question)) and len(content_terms(question)) <= 3


def rewrite(question: str, history: Sequence[Turn]) -> Rewrite:
    users = [t.content for t in history if t.role == "user" and t.content.strip()]
    if not users or not is_follow_up(question):
        return Rewrite(question, question)
    # Chain through earlier follow-ups so "and for Bun?" → "what about Deno?" keeps the topic.
    base = users[-1]
    for earlier in reversed(users[:-1]):
        if not is_follow_up(base):
            break
        base = f"{earlier} {base}"
    standalone = f"{base} {question}"
    answers = [t.content for t in history if t.role == "assistant" and t.content.strip()]
    if not _BACK_REFERENCE.search(question):
        return Rewrite(standalone, standalone)
    if answers:
        said = " ".join(_MARK.sub("", _from_the_corpus(answers[-1])).split())[:CONTEXT_CHARS]
        return Rewrite(standalone, f"{standalone} {said}", refers_back=True)
    return Rewrite(standalone, standalone, refers_back=True)


def _from_the_corpus(answer: str) -> str:
    """An answer without the uncited paragraphs that open it (a note that the corpus does
    not mention a name): they say what the corpus lacks, not what the turn refers to."""
    paragraphs = answer.split("\n\n")
    while len(paragraphs) > 1 and not MARKER.search(paragraphs[0]):
        paragraphs.pop(0)
    return "\n\n".join(paragraphs) if MARKER.search(paragraphs[0]) else answer
