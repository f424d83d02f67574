"""Wording that tries to instruct the assistant rather than ask or inform: cut out of
questions (the gate) and, with a reference to an assistant, kept out of documents' evidence
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
