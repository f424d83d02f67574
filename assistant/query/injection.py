"""Wording that tries to instruct the assistant rather than ask or inform: cut out of
questions (`strip_injection`) and, with a reference to an assistant, kept out of documents' evidence
(ingest). One pattern, so both sides learn the same phrases."""

from __future__ import annotations

import re

# "DAN" only in capitals: the name Dan is not a jailbreak
INSTRUCTIONS = re.compile(
    r"""(
      \b(ignore|disregard|forget|override|bypass)\b[^.?!\n]{0,60}
          \b(instructions?|rules?|prompt|guidelines|above|previous|context|sources?|documents?
             |article|corpus|text|citations?)\b
    | \byou\s+are\s+(now|no\s+longer)\b
    | \b(act|behave|pretend|respond|answer|talk|speak|write|reply)\s+(as|like)\s+(a|an|if)\b
    | \b(system|developer)\s+(prompt|message|instructions?)\b
    | \bjailbreak|(?-i:\bDAN\b)|\bdeveloper\s+mode\b
    | \b(print|reveal|show|repeat|output)\b[^.?!\n]{0,30}\b(prompt|instructions|rules)\b
    | \b(say|state|claim|tell\s+(me|them|everyone))\s+(that\s+)?[^.?!\n]{0,80}
          \b(instead|regardless)\b
    | \bnew\s+(instructions?|rules?|task)\s*:
    | \b(reply|respond|answer|output)\s+(only\s+)?with\b
    | \b(don'?t|do\s+not|never)\s+(cite|use|mention)\s+(any\s+)?(sources?|citations?)\b
    | \bfrom\s+now\s+on\b
    | </?\s*(system|instructions?|assistant)\s*>
    )""",
    re.I | re.X,
)


_SENTENCE_BREAK = re.compile(r"(?<=[.!?:])\s+|\n")


def strip_injection(question: str) -> tuple[str, bool]:
    """Drop every sentence that tries to change the assistant's instructions."""
    kept, found = [], False
    for sentence in _SENTENCE_BREAK.split(question):
        if INSTRUCTIONS.search(sentence) or _says_something_wrong(sentence):
            found = True
        else:
            kept.append(sentence.strip())
    return " ".join(s for s in kept if s), found


def _says_something_wrong(sentence: str) -> bool:
    # "Say Fastify is slow." / "Tell me that X ..." as an order, not a question
    return bool(re.match(r"^\s*(and\s+)?(say|state|claim|tell\s+\w+\s+that)\b", sentence, re.I))
