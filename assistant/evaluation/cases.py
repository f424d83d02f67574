"""Eval cases: load `evals/cases/*.yaml`, reject malformed ones with file and line."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml

from assistant.errors import StackGuideError
from assistant.models import Turn

CATEGORIES = (
    "factual", "recommendation", "comparison", "anti_patterns", "decision_tree_checklist",
    "multi_turn", "paraphrase_typos", "false_premise", "out_of_scope", "prompt_injection",
    "uncovered_subject",
)  # fmt: skip


class CaseError(StackGuideError):
    """A malformed case: the message names the file and line."""


@dataclass
class Case:
    id: str
    category: str
    question: str
    refuse: bool | None  # None: refused, or answered with `uncovered` flagged, both pass
    facts: list[list[str]] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    forbidden: list[str] = field(default_factory=list)
    history: list[Turn] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)  # names the corpus never covers
    where: str = ""


class _LineLoader(yaml.SafeLoader):
    """Records the line of every mapping so errors can point at it."""

    def construct_mapping(self, node, deep=False):
        mapping = super().construct_mapping(node, deep=deep)
        mapping["__line__"] = node.start_mark.line + 1
        return mapping


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) and v.strip() for v in value)


def _case(raw: object, category: str, where: str) -> Case:
    if not isinstance(raw, dict):
        raise CaseError(f"{where}: a case must be a mapping")
    unknown = set(raw) - {"id", "question", "history", "expect", "__line__"}
    if unknown:
        raise CaseError(f"{where}: unknown keys {sorted(unknown)}")
    cid, question, expect = raw.get("id"), raw.get("question"), raw.get("expect")
    if not isinstance(cid, str) or not cid.strip():
        raise CaseError(f"{where}: `id` must be a non-empty string")
    if not isinstance(question, str) or not question.strip():
        raise CaseError(f"{where}: case {cid}: `question` must be a non-empty string")
    if not isinstance(expect, dict):
        raise CaseError(f"{where}: case {cid}: `expect` must be a mapping")
    unknown = set(expect) - {"refuse", "facts", "sections", "forbidden", "uncovered", "__line__"}
    if unknown:
        raise CaseError(f"{where}: case {cid}: unknown expect keys {sorted(unknown)}")
    refuse, uncovered = expect.get("refuse"), expect.get("uncovered")
    if uncovered is not None and not (_strings(uncovered) and uncovered):
        raise CaseError(f"{where}: case {cid}: `expect.uncovered` must be a list of names")
    if not isinstance(refuse, bool) and not (refuse is None and uncovered):
        raise CaseError(f"{where}: case {cid}: `expect.refuse` must be true or false")
    facts = expect.get("facts") or []
    if not isinstance(facts, list) or not all(_strings(g) and g for g in facts):
        raise CaseError(f"{where}: case {cid}: `expect.facts` must be a list of phrase lists")
    for key in ("sections", "forbidden", "uncovered"):
        if expect.get(key) is not None and not _strings(expect[key]):
            raise CaseError(f"{where}: case {cid}: `expect.{key}` must be a list of strings")
    if refuse is False and not facts:
        raise CaseError(f"{where}: case {cid}: an answerable case needs `expect.facts`")
    if refuse and (facts or expect.get("sections")):
        raise CaseError(f"{where}: case {cid}: a refusal case has no facts or sections")
    history = []
    for turn in raw.get("history") or []:
        if (
            not isinstance(turn, dict)
            or turn.get("role") not in ("user", "assistant")
            or not isinstance(turn.get("content"), str)
        ):
            raise CaseError(
                f"{where}: case {cid}: history turns need role user|assistant and content"
            )
        history.append(Turn(turn["role"], turn["content"]))
    return Case(
        id=cid, category=category, question=question, refuse=refuse,
        facts=[[p for p in g] for g in facts], sections=list(expect.get("sections") or []),
        forbidden=list(expect.get("forbidden") or []), history=history, where=where,
        uncovered=list(uncovered or []),
    )  # fmt: skip


def load_file(path: Path) -> list[Case]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise CaseError(f"{path}{line}: not valid YAML: {exc}") from exc
    except OSError as exc:
        raise CaseError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("cases"), list):
        raise CaseError(f"{path}:1: expected a mapping with `category` and a `cases` list")
    category = doc.get("category")
    if category not in CATEGORIES:
        raise CaseError(f"{path}:1: unknown category {category!r} (one of {', '.join(CATEGORIES)})")
    return [
        _case(raw, category, f"{path}:{raw.get('__line__', '?') if isinstance(raw, dict) else '?'}")
        for raw in doc["cases"]
    ]


def load_dataset(path: Path) -> list[Case]:
    files = sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    if not files:
        raise CaseError(f"{path}: no *.yaml case files")
    cases = [c for f in files for c in load_file(f)]
    seen: dict[str, str] = {}
    for c in cases:
        if c.id in seen:
            raise CaseError(f"{c.where}: duplicate id {c.id} (first at {seen[c.id]})")
        seen[c.id] = c.where
    return cases


def apply_overrides(path: Path, cases: list[Case]) -> tuple[list[Case], dict[str, str]]:
    """Re-score named cases for a corpus that differs from the article alone.

    The scale check adds manuals that legitimately cover some topics the article lacks
    (PostgreSQL's shared_buffers): a case whose expectation rests on that absence gets a
    new `expect` there, and must say why. Returns the cases and each override's reason.
    """
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_LineLoader)
    except (yaml.YAMLError, OSError) as exc:
        raise CaseError(f"{path}: cannot read overrides: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("overrides"), list):
        raise CaseError(f"{path}:1: expected a mapping with an `overrides` list")
    by_id = {c.id: c for c in cases}
    reasons: dict[str, str] = {}
    for raw in doc["overrides"]:
        line = raw.get("__line__", "?") if isinstance(raw, dict) else "?"
        where = f"{path}:{line}"
        if not isinstance(raw, dict) or set(raw) - {"id", "reason", "expect", "__line__"}:
            raise CaseError(f"{where}: an override has only `id`, `reason` and `expect`")
        cid, reason = raw.get("id"), raw.get("reason")
        if cid not in by_id:
            raise CaseError(f"{where}: no case {cid!r} to override")
        if not isinstance(reason, str) or not reason.strip():
            raise CaseError(f"{where}: override of {cid}: say why in `reason`")
        old = by_id[cid]
        new = _case({"id": cid, "question": old.question, "expect": raw.get("expect")},
                    old.category, where)  # fmt: skip
        by_id[cid] = replace(new, history=old.history, where=f"{old.where} (override {where})")
        reasons[cid] = " ".join(reason.split())
    return [by_id[c.id] for c in cases], reasons
