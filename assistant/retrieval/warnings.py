"""Sections and lines that warn (anti-patterns, pitfalls, "Downsides: …"): what answers a
question about risks, found by its heading or its lead word; and sentences that advise
against what they describe ("… though it is not recommended"), found by their wording."""

from __future__ import annotations

import re

# "Avoid …", "When to avoid …", "Avoiding …": not a feature that "now avoids" something.
_WARNING_HEADING = re.compile(
    r"anti-?pattern|pitfall|mistake|gotcha|caveat|\bavoid(?:ing)?\b", re.I
)
WARNING_TERMS = "anti-patterns pitfalls mistakes gotchas caveats avoid"  # the same, for BM25
# A line led by what it warns of ("Downsides: …"), or a documentation admonition's label
# ("⚠ Warning: …", "**Caution:** …").
_WARNING_LEAD = re.compile(
    r"^(?:\*\*[^*]+\*\*\s+—\s+)?(?:[⚠❗🚨]\ufe0f?\s*)?\**"
    r"(downsides?|drawbacks?|cons|not\s+for|risks?|warning|caution|danger)\**\s*:",
    re.I,
)


def warns(section: str, unit_text: str = "") -> bool:
    return bool(
        _WARNING_HEADING.search(section.rsplit("›", 1)[-1]) or _WARNING_LEAD.match(unit_text)
    )


# A sentence that advises against what it describes, wherever it stands: "Warnings can be
# disabled, though it is not recommended", "Do not use it for debugging", "… may cause
# issues when upgrading". English's ways of discouraging, not any one document's.
_ADVISES_AGAINST = re.compile(
    r"""\bnot\s+(?:be\s+)?(?:recommended|advised|advisable|safe|supported)\b
    | \bdiscourage[sd]?\b
    | \b(?:should|must)\s+(?:not|never)\b | \b(?:should|must)n['’]t\b
    | (?:^|[.;:—]\s*|\*\*\s*)(?:do\s+not|don['’]t|never|avoid)\b
    | \b(?:may|might|can|could|will)\s+(?:cause|result\s+in|lead\s+to|break)\b
    | \bat\s+your\s+own\s+risk\b | \bbeware\b | \bbe\s+careful\b""",
    re.I | re.X,
)


def advises_against(unit_text: str) -> bool:
    return bool(_ADVISES_AGAINST.search(unit_text))
