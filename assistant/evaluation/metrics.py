"""Deterministic checks of one answer against its case, and their aggregates.

Each check is a small function returning what it found; `score_case` gathers them.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass, field

from assistant.evaluation.cases import Case
from assistant.models import Answer
from assistant.text import SEP

_MARK = re.compile(r"\[(\d+)\]")


def normalise(text: str) -> str:
    text = text.replace("**", "").replace("`", "").replace("\u2011", "-")
    return " ".join(text.lower().split())


def section_matches(expected: str, section: str) -> bool:
    """`expected` names the section by the end of its heading path; a sub-section of it
    is in it ("Decorators › Usage" holds "Decorators › Usage › decorateRequest")."""
    want = [p.strip().lower() for p in expected.split(SEP)]
    have = [p.strip().lower() for p in section.split(SEP)]
    n = len(want)
    return any(have[i : i + n] == want for i in range(len(have) - n + 1))


def citation_validity(answer: Answer) -> bool:
    """Every [n] resolves to a citation, and every citation is used."""
    used = {int(n) for n in _MARK.findall(answer.answer)}
    listed = {c.n for c in answer.citations}
    return used == listed and len(listed) == len(answer.citations)


def fact_support(answer: Answer, phrase: str) -> bool | None:
    """Is a found fact backed by the passage cited on its own line/sentence?"""
    by_n = {c.n: normalise(f"{c.section} {c.snippet}") for c in answer.citations}
    phrase = normalise(phrase)
    for line in answer.answer.splitlines():
        if phrase in normalise(_MARK.sub("", line)):
            cited = [int(n) for n in _MARK.findall(line)]
            if cited:
                return any(phrase in by_n.get(n, "") for n in cited)
    return None  # found only across lines: no single citation to check


@dataclass
class CaseResult:
    case: Case
    answer: Answer | None
    error: str | None = None
    facts_found: int = 0
    facts_total: int = 0
    missing_facts: list[list[str]] = field(default_factory=list)
    sections_cited: bool = True
    missing_sections: list[str] = field(default_factory=list)
    forbidden_found: list[str] = field(default_factory=list)
    citations_valid: bool = True
    supported: int = 0
    support_checked: int = 0
    refusal_ok: bool = True
    unflagged: list[str] = field(default_factory=list)  # uncovered names answered as covered
    retrieved_sections: list[str] = field(default_factory=list)
    words: int = 0
    latency_ms: float = 0.0
    faithfulness: float | None = None  # LLM judge, when configured
    answer_relevancy: float | None = None
    judge_error: str | None = None
    lead_ok: bool | None = None  # the answer's first line holds an expected fact (answers only)
    markup: list[str] = field(default_factory=list)  # raw markup that reached the reader

    @property
    def passed(self) -> bool:
        return (
            self.error is None
            and self.refusal_ok
            and self.facts_found == self.facts_total
            and self.sections_cited
            and not self.forbidden_found
            and self.citations_valid
        )

    def rank_of_expected(self, k: int) -> list[int | None]:
        """1-based rank of each expected section in the first k retrieved, or None."""
        ranks: list[int | None] = []
        for want in self.case.sections:
            found = [
                i for i, s in enumerate(self.retrieved_sections[:k]) if section_matches(want, s)
            ]
            ranks.append(found[0] + 1 if found else None)
        return ranks


def score_case(case: Case, answer: Answer) -> CaseResult:
    r = CaseResult(case=case, answer=answer)
    text = normalise(_MARK.sub("", answer.answer))
    r.words = len(_MARK.sub("", answer.answer).split())
    r.latency_ms = float(answer.timings_ms.get("total", 0.0))
    r.markup = markup_leaks(answer)
    if case.refuse is None:  # either refused, or answered saying what is not covered
        r.unflagged = [] if answer.refused else [
            u for u in case.uncovered if not _flagged(u, answer.uncovered)
        ]  # fmt: skip
        r.refusal_ok = not r.unflagged
    else:
        r.refusal_ok = answer.refused == case.refuse
    r.retrieved_sections = [h["section"] for h in (answer.trace or {}).get("retrieved", [])]
    r.citations_valid = citation_validity(answer)
    if case.refuse is False or (case.refuse is None and not answer.refused):
        r.facts_total = len(case.facts)
        for group in case.facts:
            hit = next((p for p in group if normalise(p) in text), None)
            if hit is None:
                r.missing_facts.append(group)
                continue
            r.facts_found += 1
            support = fact_support(answer, hit)
            if support is not None:
                r.support_checked += 1
                r.supported += support
        cited = [c.section for c in answer.citations]
        r.missing_sections = [
            s for s in case.sections if not any(section_matches(s, c) for c in cited)
        ]
        r.sections_cited = not r.missing_sections
        if case.facts and not answer.refused:
            r.lead_ok = leads_with_a_fact(answer, case)
    r.forbidden_found = [f for f in case.forbidden if normalise(f) in text]
    return r


def _flagged(name: str, flagged: list[str]) -> bool:
    """ "Tortoise ORM" is flagged by "Tortoise", and "Azure" by "Azure Functions"."""
    want = name.lower()
    return any(want in f.lower() or f.lower() in want for f in flagged if f.strip())


def leads_with_a_fact(answer: Answer, case: Case) -> bool:
    """Does the first line of the answer (after a note on what it does not cover) hold
    one of the expected facts? An answer that buries its point is a weaker answer."""
    lines = [ln for ln in answer.answer.splitlines() if ln.strip()]
    if lines and (answer.uncovered or lines[0].startswith("The corpus ")):
        lines = lines[1:]  # the note says what the answer is not about
    first = normalise(_MARK.sub("", lines[0])) if lines else ""
    return any(normalise(p) in first for group in case.facts for p in group)


# Raw markup an answer, a snippet or a section label must never show: HTML tags, MkDocs
# blocks and attribute lists, snippet includes, Sphinx roles, directives and pilcrows.
_HTML_TAGS = (
    "a|abbr|b|blockquote|br|code|dd|del|details|div|dl|dt|em|figure|h[1-6]|hr|i|iframe|img"
    "|input|kbd|li|ol|p|picture|pre|source|span|strong|sub|summary|sup|table|tbody|td|th"
    "|thead|tr|u|ul|video"
)  # HTML's own elements: "Promise<string>" in a code answer is a type, not markup
_MARKUP = re.compile(
    r"</?(?:"
    + _HTML_TAGS
    + r""")(?:\s[^<>]*)?/?>
    | ^\s*///\s*\w | ^\s*!!!\s*\w | \{\s*\#[\w-]+\s*\} | \{\*.*?\*\}
    | :(?:ref|doc|class|func|meth|mod|attr):` | ^\s*\.\.\s+[\w-]+:: | ¶""",
    re.X | re.M,
)


def markup_leaks(answer: Answer) -> list[str]:
    found = []
    texts = [answer.answer, *(c.snippet for c in answer.citations),
             *(c.section for c in answer.citations), *answer.related_sections]  # fmt: skip
    for text in texts:
        found += [m.group(0).strip() for m in _MARKUP.finditer(text or "")]
    return list(dict.fromkeys(found))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def aggregate(results: list[CaseResult], k: int) -> dict[str, float | None]:
    ok = [r for r in results if r.answer is not None]
    inscope = [r for r in ok if not r.case.refuse and r.case.sections]
    ranks = [r.rank_of_expected(k) for r in inscope]
    refused_right = sum(1 for r in ok if r.case.refuse and r.answer.refused)
    # A refusal is right where the case allows one (refuse true, or either way).
    refused_allowed = sum(1 for r in ok if r.answer.refused and r.case.refuse is not False)
    refused = sum(1 for r in ok if r.answer.refused)
    should_refuse = sum(1 for r in ok if r.case.refuse)
    latencies = sorted(r.latency_ms for r in ok)
    with_forbidden = [r for r in ok if r.case.forbidden]
    answered = [r for r in ok if not r.answer.refused]
    led = [r for r in ok if r.lead_ok is not None]
    judged_f = [r.faithfulness for r in ok if r.faithfulness is not None]
    judged_r = [r.answer_relevancy for r in ok if r.answer_relevancy is not None]
    # Only for LLM runs: answers replaced by the extractive one (LLM failed or mis-cited).
    llm = any(r.answer.degraded or r.answer.backend == "openai" for r in ok)
    return {
        "cases": len(results),
        "errors": len(results) - len(ok),
        "pass_rate": _ratio(sum(r.passed for r in results), len(results)),
        "fact_recall": _ratio(sum(r.facts_found for r in ok), sum(r.facts_total for r in ok)),
        "forbidden_rate": _ratio(sum(bool(r.forbidden_found) for r in with_forbidden),
                                 len(with_forbidden)),
        "citation_validity": _ratio(sum(r.citations_valid for r in ok), len(ok)),
        "citation_support": _ratio(sum(r.supported for r in ok),
                                   sum(r.support_checked for r in ok)),
        "refusal_precision": _ratio(refused_allowed, refused),
        "refusal_recall": _ratio(refused_right, should_refuse),
        f"hit@{k}": _ratio(sum(any(x is not None for x in rk) for rk in ranks), len(ranks)),
        f"recall@{k}": _ratio(sum(sum(x is not None for x in rk) / len(rk) for rk in ranks),
                              len(ranks)),
        "mrr": _ratio(sum(1 / min((x for x in rk if x), default=float("inf")) for rk in ranks),
                      len(ranks)),
        "words_mean": _ratio(sum(r.words for r in answered), len(answered)),
        "latency_p50_ms": statistics.median(latencies) if latencies else None,
        "latency_p95_ms": latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
        if latencies else None,
        "lead": _ratio(sum(bool(r.lead_ok) for r in led), len(led)),
        "markup_leaks": sum(1 for r in ok if r.markup),
        "confident_wrong": sum(1 for r in ok if not r.answer.refused and (
            r.case.refuse or r.unflagged)),
        "judge_faithfulness": _ratio(sum(judged_f), len(judged_f)),
        "judge_relevancy": _ratio(sum(judged_r), len(judged_r)),
        "degraded_rate": _ratio(sum(r.answer.degraded for r in ok), len(ok)) if llm else None,
    }  # fmt: skip
