"""Feedback votes exported as eval cases, in the format of `evals/cases/*.yaml`.

An up-vote becomes a case whose expectations are drafted from the answer it approved
(a refusal: `refuse: true`; an answer: a few of its phrases as facts, its cited sections).
A down-vote becomes a case to review: its one fact is a REVIEW marker that no answer
contains, so it fails until a person writes what a right answer must say (or sets
`refuse: true`). What was asked, answered and cited is written above each case as
comments, for that review.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from assistant.conversations.base import Conversations
from assistant.errors import NotFound
from assistant.feedback.base import FeedbackStore

REVIEW_FACT = "REVIEW: the phrases a right answer must contain"
MOST_FACTS = 3
MOST_SECTIONS = 3
_MARK = re.compile(r"\[\d+\]")
_LABEL = re.compile(r"^[a-z][a-z ]{0,20}:\s*")  # "use when: …" introduces the content
_CLAUSE_END = re.compile(r"[.;:,()!?]")
_ENUMERATION = re.compile(r"^\d+[.)]\s+")


def export_cases(
    feedback: FeedbackStore, store: Conversations, vote: str = "all", category: str = "factual"
) -> str:
    """The YAML text of one case file holding the chosen votes, oldest first (their
    conversations give each its earlier turns)."""
    rows = [r for r in feedback.all() if vote == "all" or r["vote"] == vote]
    out = [
        f"# StackGuide feedback as eval cases: {len(rows)} vote(s) ({vote}), exported "
        f"{datetime.now(UTC).isoformat(timespec='seconds')} by `stackguide feedback export`.",
        "# Review each case, then move it into the evals/cases/ file of its category.",
        "# Up-votes: facts and sections are drafted from the approved answer; check them.",
        f'# Down-votes: replace "{REVIEW_FACT}" with what a right answer',
        "# must say, or set `refuse: true` (and drop facts) if StackGuide should refuse.",
        f"category: {category}",
        "cases:" if rows else "cases: []",
    ]
    for row in rows:
        out += ["", *_case_lines(row, _history(store, row))]
    return "\n".join(out) + "\n"


def case_for(row: dict[str, Any], history: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """One vote as a case mapping (id, question, history, expect)."""
    answer = row["answer"] or {}
    case: dict[str, Any] = {"id": f"feedback-{row['id']}-{_slug(row['question'])}",
                            "question": row["question"]}  # fmt: skip
    if history:
        case["history"] = history
    if row["vote"] == "down":
        case["expect"] = {"refuse": False, "facts": [[REVIEW_FACT]]}
    elif answer.get("refused"):
        case["expect"] = {"refuse": True}
    else:
        facts = draft_facts(answer.get("answer") or "") or [[REVIEW_FACT]]
        expect: dict[str, Any] = {"refuse": False, "facts": facts}
        sections = list(dict.fromkeys(c["section"] for c in answer.get("citations") or []))
        if sections:
            expect["sections"] = sections[:MOST_SECTIONS]
        case["expect"] = expect
    return case


def draft_facts(answer: str) -> list[list[str]]:
    """A short phrase from each of the answer's first lines, as the eval matches them
    (lower case, no `**`, backticks or `[n]`): each is in the answer by construction."""
    facts: list[list[str]] = []
    for line in answer.splitlines():
        text = " ".join(_MARK.sub("", line).replace("**", "").replace("`", "").lower().split())
        text = _ENUMERATION.sub("", text.lstrip("-•*+ ").strip())
        subject, _, content = text.partition(" — ")
        text = _LABEL.sub("", content or subject)
        phrase = " ".join(_CLAUSE_END.split(text, 1)[0].split()[:6])
        if len(phrase) >= 4 and [phrase] not in facts:
            facts.append([phrase])
        if len(facts) == MOST_FACTS:
            break
    return facts


def _history(store: Conversations, row: dict[str, Any]) -> list[dict[str, str]]:
    """The turns before the voted answer, from its conversation (if it is still stored)."""
    answer = row["answer"] or {}
    cid = answer.get("conversation_id")
    if not cid:
        return []
    try:
        turns = store.get(cid, None).turns  # an operator's export: any owner
    except NotFound:
        return []
    for i in range(len(turns) - 1, 0, -1):
        if (
            turns[i]["content"] == answer.get("answer")
            and turns[i - 1]["content"] == row["question"]
        ):
            return [{"role": t["role"], "content": t["content"]} for t in turns[: i - 1]]
    return []


def _case_lines(row: dict[str, Any], history: list[dict[str, str]]) -> list[str]:
    case = case_for(row, history)
    answer = row["answer"] or {}
    thumb = "👍 up" if row["vote"] == "up" else "👎 down"
    lines = [f"  # {thumb}-vote by {row['user']} via {row['source']}, {row['created_at']}"]
    lines += _comment("answer given", answer.get("answer") or "")
    for c in answer.get("citations") or []:
        lines += _comment(f"[{c.get('n')}]", f"{c.get('title', '')} › {c.get('section', '')}")
    lines += [f"  - id: {case['id']}", f"    question: {_q(case['question'])}"]
    if case.get("history"):
        lines.append("    history:")
        lines += [f"      - {{role: {t['role']}, content: {_q(t['content'])}}}"
                  for t in case["history"]]  # fmt: skip
    expect = case["expect"]
    lines += ["    expect:", f"      refuse: {'true' if expect['refuse'] else 'false'}"]
    if expect.get("facts"):
        lines.append("      facts:")
        lines += [f"        - {_flow(group)}" for group in expect["facts"]]
    if expect.get("sections"):
        lines.append(f"      sections: {_flow(expect['sections'])}")
    return lines


def _comment(label: str, text: str) -> list[str]:
    body = [line for line in text.splitlines() if line.strip()] or [""]
    return [f"  # {label}: {body[0]}"] + [f"  #   {line}" for line in body[1:]]


def _q(text: str) -> str:
    """A double-quoted YAML scalar (JSON's string syntax is valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


def _flow(items: Iterable[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())[:6]
    return "-".join(words) or "question"
