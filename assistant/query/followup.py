"""Follow-ups ("and for Go?") condensed into standalone questions, without an LLM.

The previous question (itself condensed, so chains hold) keeps its subject and intent;
the turn changes what it says:
- a name replaces the earlier name in the same place ("for Python" → "for Rust"), else the
  earlier question's grammatical subject, else its last name: "Which ORM is the default for
  Rust?"; a choice replaces a choice ("Hono or Elysia" for "Fastify or NestJS");
- a superlative replaces the earlier one ("fastest" → "slowest"); an aspect with no name
  of its own is asked of the earlier subject ("What about the downsides of Spring Boot?");
- a reference becomes what it stands for: "it", "its" the earlier question's grammatical
  subject, else the thing the previous answer leads with; "that one", "the same choice"
  that thing first; "the second one" the second thing the answer's cited lines name;
  "there" the place the earlier question named;
- a condition that only names another thing or place puts it where the earlier one stood
  ("if I only want it on a single route" for "on every request"); any other condition is
  added to the earlier question.
A turn none of these fit is put after the earlier question, which it leans on. Names are
read with `question_subjects` (the corpus' own vocabulary when an index is given), how a
word is written and its frequency in English; the question's shape comes from English
function words only, never from a list of tools.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from assistant.index.lexical import VERSION, LexicalIndex
from assistant.models import Turn
from assistant.query.subjects import english_zipf, question_subjects
from assistant.text import LABEL, MARKER, QUESTION_WORDS, STOPWORDS, content_terms, tokenize

_CUE = re.compile(
    r"^\s*(and|or|but|also|what\s+about|how\s+about|what\s+if|same\s+(for|with)|"
    r"then|in\s+that\s+case|for|with|instead|ok(ay)?|why|why\s+not)\b",
    re.I,
)
# "the Python counterpart": another thing of the same kind (the old subject is replaced)
_RELATIONAL = re.compile(r"\b(equivalent|counterpart|alternative|analogue)s?\b", re.I)
# "its drawbacks", "the same choice", "the second one": the old subject is still meant
_BACK_REFERENCE = re.compile(
    r"\b(it|its|that|those|them|this|these|they|which\s+one|the\s+(same|first|second|third|"
    r"former|latter|other|last)(\s+one)?|one|ones)\b",
    re.I,
)
# References no standalone question makes: they always lean on the turn before.
_EXPLICIT = re.compile(r"\b(its|the\s+same|(that|this|which)\s+one)\b", re.I)
# Words that only say the conversation goes on ("ok, so", "Nice."): not what is asked.
_DISCOURSE = re.compile(
    r"^(?:\s*(?:and|but|also|so|then|ok(?:ay)?|well|right|in\s+that\s+case)\b[\s,;:-]*)+", re.I
)
_EXCLAMATION = re.compile(r"^\s*([A-Za-z]+)\s*[.!]+\s+(?=\S)")
_ABOUT = re.compile(r"^\s*(?:what|how)\s+about\s+", re.I)
_SAME_FOR = re.compile(r"^\s*same\s+(?=(?:for|with|in|on)\b)", re.I)
_CONDITION = re.compile(r"^\s*(?:what\s+)?if\s+", re.I)
_WH = frozenset("what which how why when where who whom whose".split())
_AUX = frozenset(
    """is are was were be do does did can could should would will shall may might must has
    have had isn't aren't doesn't don't can't won't shouldn't wouldn't what's which's""".split()
)
_SUBJECT_PRONOUNS = frozenset("i we you they he she it there this that these those".split())
_PREPOSITIONS = frozenset(
    "for in on with to from at by of into onto under over via using behind beside".split()
)
_ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "former": 0,
             "latter": -1, "last": -1}  # fmt: skip
_ORDINAL = re.compile(
    rf"\bthe\s+(?P<n>{'|'.join(_ORDINALS)})(?:\s+(?:one|option|choice|pick))?\b", re.I
)
_SAME = re.compile(r"\bthe\s+same(?:\s+(?!as\b|for\b|with\b)[a-z]+)?\b", re.I)
_DEMONSTRATIVE = re.compile(r"\b(?:that|this)\s+one\b", re.I)
# "that"/"this" standing for a thing: closing the question ("Would you use that?"), or
# right after the auxiliary that opens it ("Is that production-ready?").
_BARE_DEMONSTRATIVE = re.compile(r"\b(?:that|this)(?=\s*[?.!]?\s*$)", re.I)
_LEADING_DEMONSTRATIVE = re.compile(rf"^(?:{'|'.join(sorted(_AUX))})\s+(that|this)\b", re.I)
_PRONOUN = re.compile(r"\b(it|its|they|them|their)\b", re.I)
# "it" that stands for nothing: "is it ok to …", "is it worth …", "does it matter whether".
_DUMMY_IT = re.compile(
    r"it(?:\s+\S+){0,3}?\s+(?:to\s+(?!the\b|a\b|an\b|my\b|our\b|your\b|its\b|their\b|this\b"
    r"|that\b|me\b|us\b|them\b)[a-z]|if\b|whether\b|which\b)|it\s+(?:'s\s+|is\s+)?worth\b"
    r"|it\s+depends\b|it\s+matters?\b",
    re.I,
)
_SUPERLATIVE = re.compile(r"\b(?:(?:most|least)\s+[a-z]+|[a-z]{4,}est|best|worst)\b", re.I)
_ITEM_SPLIT = re.compile(r"\s*(?:,|/|\+|&|\bor\b|\band\b|\bvs\.?)\s*", re.I)
_HEAD_END = re.compile(r"\s+[—–-]\s+|[:;(\[]|[.!?](?:\s|$)|\s+(?:which|that|who)\b")
_VERSION_AFTER = re.compile(rf"\s+{VERSION}")
_SHORT_NAME = re.compile(r"(?<![\w.#+/-])[A-Z][A-Za-z0-9](?![\w#+])")
_OPENER = re.compile(r"(?:^|[.!?:;]\s+|[\"'(—-]\s*)$")
# A phrase of place or scope: "on every request", "for a public API" (up to the next
# preposition, conjunction or punctuation).
_SCOPE = "on|in|for|at|with|under|inside|within|across|behind"
_WORD = rf"(?!(?:{_SCOPE}|to|from|of|if|and|or|but|when|so)\b)[\w'./+#-]+"
_PHRASE = re.compile(rf"\b(?P<p>{_SCOPE})\s+{_WORD}(?:\s+{_WORD}){{0,4}}", re.I)
_PLACES = frozenset("on in at inside within".split())
# "there" for a place ("it breaks there"), not "is there …", "there are …", "out there".
_THERE = re.compile(
    r"(?<!\bis\s)(?<!\bare\s)(?<!\bwas\s)(?<!\bout\s)(?<!\bover\s)\bthere\b"
    r"(?!\s+(?:is|are|was|were|will|be|must|should|might|may|could|would|seems?|exists?)\b|'s)",
    re.I,
)
# A turn opening with a short phrase of place or scope asked on its own ("in TypeScript?",
# "on Windows?"): the question before, asked there.
_WH_WORD = "|".join(sorted(_WH))
_SCOPED_FRAGMENT = re.compile(
    rf"^\s*(?:{_SCOPE})\s+(?!(?:{_WH_WORD})\b)[^\s?.!]+(?:\s+[^\s?.!]+){{0,2}}\s*\?", re.I
)
_SENTENCES = re.compile(r"(?<=[.!?])\s+|\s+[—–]\s+")  # a turn's sentences and dashed asides
_MARK = re.compile(r"\[\d+(?:\s*[,;]\s*\d+)*\]|\*\*|`")
CONTEXT_CHARS = 400
FRAGMENT_WORDS = 6
MODIFIERS = 2  # words between a preposition and the name its phrase ends with
OPENER_ZIPF = 4.0  # a capitalised first word rarer than this in English is read as a name
COMMON_ZIPF = 3.0  # a lowercase word rarer than this is jargon or a name ("sqlc")


@dataclass
class Rewrite:
    standalone: str  # what the user meant, in words a reader can check
    retrieval: str  # what to search with (may add the previous answer)
    refers_back: bool = False  # the turn still means the previous subject ("its", "same")
    # A turn no rule reads as a follow-up may still go on from the conversation ("what's
    # the default out of the box?"): searched with it as well, the answer that fits the
    # turn better is kept. Empty when the turn names a subject of its own.
    in_context: str = ""


@dataclass(frozen=True)
class _Found:
    """A condensed turn: whether it still means the earlier subject, and whether the
    answer it points into is searched with it."""

    text: str
    refers_back: bool = False
    quote: bool = False


@dataclass(frozen=True)
class _Name:
    written: str
    start: int
    end: int


@dataclass
class _Before:
    """The exchange a turn follows: the question (standalone) and the answer to it."""

    question: str
    answer: str
    lexical: LexicalIndex

    @cached_property
    def names(self) -> list[_Name]:
        return _candidates(self.question, self.lexical)

    @cached_property
    def things(self) -> list[str]:
        return _answer_things(self.answer, self.lexical)


def is_follow_up(question: str) -> bool:
    if _CUE.match(question) or _RELATIONAL.search(question) or _EXPLICIT.search(question):
        return True
    if _SCOPED_FRAGMENT.match(question):  # "in TypeScript? I'd rather not …": the same, there
        return True
    if _DISCOURSE.match(question):  # "right, but …", "ok so …": it goes on from before
        return True
    if _ordinal(question) or _THERE.search(question):
        return True
    return _points_back(question) and len(content_terms(question)) <= 3


def _points_back(question: str) -> bool:
    """A reference that stands for something before it ("Is it OK to …" refers to nothing)."""
    return any(not _dummy(question, m) for m in _BACK_REFERENCE.finditer(question))


def _leans_on_before(question: str, lexical: LexicalIndex) -> bool:
    """A turn in a conversation whose pronoun stands for something ("what key does it get
    logged under?") and that names nothing the corpus has for it to stand for: however
    long, it goes on about the subject before it."""
    return _points_back(question) and not _names_a_subject(question, lexical)


def _names_a_subject(question: str, lexical: LexicalIndex) -> bool:
    return any(s.known for s in question_subjects(question, lexical))


def _refers_in_a_sentence(question: str, lexical: LexicalIndex) -> bool:
    """A sentence of the turn that points back before it names anything ("will that
    work?", "can that queue be a quorum queue?", "how fast does it start compared with
    Fastify?"): the turn goes on from before, whatever else it names. A reference after a
    name in its sentence ("Does Fastify log requests, and can I turn it off?") is to it."""
    for sentence in _SENTENCES.split(question):
        at = _reference_at(sentence)
        if at is not None and not _names(sentence[:at], lexical):
            return True
    return False


def _reference_at(text: str) -> int | None:
    """Where the first reference to something said before starts, if any."""
    found = [m.start(1) if m.re is _LEADING_DEMONSTRATIVE else m.start()
             for rx in (_SAME, _DEMONSTRATIVE, _BARE_DEMONSTRATIVE, _LEADING_DEMONSTRATIVE,
                        _THERE)
             if (m := rx.search(text))]  # fmt: skip
    if (pronoun := _pronoun_at(text)) is not None:
        found.append(pronoun)
    if m := _ordinal(text):
        found.append(m.start())
    return min(found, default=None)


def _dummy(text: str, m: re.Match) -> bool:
    return m.group(1).lower() == "it" and bool(_DUMMY_IT.match(text, m.start()))


def _ordinal(text: str) -> re.Match | None:
    """ "the second one", "the latter"; not "the first step"."""
    for m in _ORDINAL.finditer(text):
        after = re.match(r"\s*([A-Za-z]+)", text[m.end() :])
        if m.group(0).lower().endswith(("one", "option", "choice", "pick")) or not (
            after and after.group(1).lower() not in STOPWORDS
        ):
            return m
    return None


def rewrite(question: str, history: Sequence[Turn], lexical: LexicalIndex | None = None) -> Rewrite:
    """`question` made standalone with the conversation before it. `lexical` (the corpus'
    index) tells names typed in lowercase ("and for rust?"); without it, only how a word
    is written and how common it is in English do."""
    lexical = lexical if lexical is not None else _no_corpus()
    exchanges = _exchanges(history)
    if not exchanges:
        return Rewrite(question, question)
    # Chain through earlier follow-ups so "and for Bun?" → "what about Deno?" keeps the topic.
    before = _Before(exchanges[0][0], exchanges[0][1], lexical)
    for asked, answer in exchanges[1:]:
        before = _Before(condense(asked, before, in_context=False).standalone, answer, lexical)
    return condense(question, before)


_LIST_ITEM = re.compile(r"^\s*(?:[-*]\s+)?")  # an answer's supporting lines are a list
TOLD_TERMS = 2  # a line of fewer terms ("Sources:") says nothing a unit could repeat


def told(history: Sequence[Turn]) -> tuple[frozenset[str], ...]:
    """The terms of each line of the conversation's last answer, without its bullets,
    heading labels and citation markers: what the user has read already."""
    answer = next((t.content for t in reversed(history) if t.role == "assistant"), "")
    lines = (frozenset(tokenize(MARKER.sub("", LABEL.sub("", _LIST_ITEM.sub("", ln)))))
             for ln in answer.splitlines())  # fmt: skip
    return tuple(ln for ln in lines if len(ln) >= TOLD_TERMS)


def condense(question: str, before: _Before, in_context: bool = True) -> Rewrite:
    """`question` read after `before`; `in_context` False when only its standalone form is
    wanted (an earlier turn of a chain), not the search with the conversation."""
    if not (
        is_follow_up(question)
        or _leans_on_before(question, before.lexical)
        or _refers_in_a_sentence(question, before.lexical)
    ):
        if not in_context or _names_a_subject(question, before.lexical):
            return Rewrite(question, question)
        said = _with_answer(f"{before.question} {question}", before)
        return Rewrite(question, question, in_context=said)
    turn = _plain(question)
    if condition := _CONDITION.match(turn):
        found = _conditioned(question, turn[condition.end() :], before)
    elif (fragment := _fragment(turn)) and not _has_reference(turn):
        found = _substituted(question, fragment, before) or _aspect(fragment, turn, before)
    else:
        found = _resolved(question, turn, before)
    if found is None:
        return _glued(question, turn, before)
    if found.text == question:
        return Rewrite(question, question)
    standalone = _sentence(found.text, question)
    # A reference ("its", "the second one") is read with the answer it points into; a new
    # aspect of the same subject is not, or the earlier answer comes back.
    quoted = _with_answer(standalone, before) if found.quote else standalone
    return Rewrite(standalone, quoted, refers_back=found.refers_back)


def _has_reference(text: str) -> bool:
    return _reference_at(text) is not None


def _refers(text: str) -> bool:
    """Whether `text` holds a pronoun that stands for something ("is it ok to" does not)."""
    return _pronoun_at(text) is not None


def _pronoun_at(text: str) -> int | None:
    """Where the first pronoun that stands for something starts, if any."""
    return next((m.start() for m in _PRONOUN.finditer(text) if not _dummy(text, m)), None)


# -- the turn's shape ---------------------------------------------------------------------
def _plain(question: str) -> str:
    """The turn without what only says the conversation goes on ("Nice.", "ok, so")."""
    text = question.strip()
    if (m := _EXCLAMATION.match(text)) and english_zipf(m.group(1).lower()) >= 4.5:
        text = text[m.end() :]
    return _DISCOURSE.sub("", text).strip()


def _fragment(turn: str) -> str | None:
    """What a turn that is no question of its own asks about ("what about Go?" → "Go",
    "for Rust?" → "for Rust", "the Python counterpart?"); None for a question."""
    if m := _ABOUT.match(turn):
        return turn[m.end() :]
    if m := _SAME_FOR.match(turn):
        return turn[m.end() :]
    first = re.match(r"\s*([A-Za-z']+)", turn)
    if first is None or _CONDITION.match(turn):
        return None
    word = first.group(1).lower()
    if word in _WH or word in _AUX or word in _SUBJECT_PRONOUNS or "'" in word:
        return None
    # A bare fragment is a short phrase ("the Python counterpart?"), not sentences.
    if len(turn.split()) > FRAGMENT_WORDS or re.search(r"[.!?]\s+\S", turn):
        return None
    return turn


def _names(text: str, lexical: LexicalIndex) -> list[_Name]:
    """Names in `text` with their place, a version written after one kept with it
    ("Lucia v3"); two-letter names ("Go", "TS") count when capitalised mid-sentence."""
    spans: list[_Name] = [
        _Name(s.written, s.start, s.start + len(s.written))
        for s in question_subjects(text, lexical)
    ]
    for m in _SHORT_NAME.finditer(text):
        word = m.group(0)
        common_caps = word.isupper() and english_zipf(word.lower()) >= 5.0  # "OK"
        if (
            word.lower() in STOPWORDS
            or common_caps
            or _OPENER.search(text[: m.start()])
            or any(n.start <= m.start() < n.end for n in spans)
        ):
            continue
        spans.append(_Name(word, m.start(), m.end()))
    out = []
    for n in sorted(spans, key=lambda n: n.start):
        if v := _VERSION_AFTER.match(text, n.end):
            n = _Name(text[n.start : v.end()], n.start, v.end())
        out.append(n)
    return out


def _candidates(question: str, lexical: LexicalIndex) -> list[_Name]:
    """Names in a question a follow-up may replace: not the kind of thing it asks for
    ("Which ORM is …"), nor a kind it mentions ("an API")."""
    out = []
    for n in _names(question, lexical):
        before = question[: n.start].split()
        after = question[n.end :].split()
        asked_kind = (
            bool(before)
            and before[-1].lower() in {"which", "what"}
            and (not after or after[0].lower().strip("?.,!") in STOPWORDS)
        )
        if asked_kind or (before and before[-1].lower() in {"a", "an"}):
            continue
        out.append(n)
    return out


def _subject(question: str, names: list[_Name]) -> _Name | None:
    """The name a question is about when it is its grammatical subject: "Is Spring Boot
    …?", "What does FastAPI use …?" (the last sentence of a longer one)."""
    ends = list(re.finditer(r"[.!?]\s+(?=\S)", question))
    start = ends[-1].end() if ends else 0
    tokens = list(re.finditer(r"[\w'.+#/-]+", question[start:]))
    i = 1 if tokens and tokens[0].group(0).lower() in _WH else 0
    if len(tokens) <= i + 1 or tokens[i].group(0).lower() not in _AUX:
        return None
    at = start + tokens[i + 1].start()
    return next((n for n in names if n.start == at), None)


def _preposition(text: str, at: int) -> str | None:
    """The preposition of the phrase a name ends: "for" in "for enterprise Java"."""
    for n, word in enumerate(reversed(text[:at].lower().split())):
        if word in _PREPOSITIONS:
            return word
        if n >= MODIFIERS or (word in STOPWORDS and word not in {"the", "a", "an"}):
            return None
    return None


# -- a name or aspect put in place of the earlier one ---------------------------------------
def _substituted(question: str, fragment: str, before: _Before) -> _Found | None:
    """The earlier question with the fragment's name in place of the earlier one."""
    offset = question.find(fragment)
    names = [n for n in _names(question, before.lexical) if n.start >= offset]
    if not names:
        return None
    if _owns_its_aspect(question, fragment, names):
        return _Found(question)  # "what about Go's error handling?" asks its own question
    phrase = question[names[0].start : names[-1].end]
    if not _only_connectives(question[names[0].end : names[-1].start], names):
        phrase = names[0].written
    target = _target(before, _preposition(question, names[0].start), phrase)
    if target is None:
        return None
    return _Found(_replace(before.question, target, phrase))


def _owns_its_aspect(question: str, fragment: str, names: list[_Name]) -> bool:
    """A fragment that names what it asks of the name: "Go's error handling"."""
    if any(question[n.end : n.end + 2] == "'s" for n in names):
        return True
    named = {t for n in names for t in content_terms(n.written)}
    # "Ruby shops", "the TS side": the noun a name qualifies goes with it.
    heads = {t for n in names for t in content_terms(" ".join(question[n.end :].split()[:1]))}
    rest = [t for t in content_terms(fragment) if t not in named | heads]
    return len([t for t in rest if not _RELATIONAL.fullmatch(t)]) >= 2


def _only_connectives(between: str, names: list[_Name]) -> bool:
    return len(names) > 1 and not _ITEM_SPLIT.sub(" ", between).strip()


def _target(before: _Before, preposition: str | None, phrase: str) -> _Name | None:
    """Which earlier name the new one replaces: the one in the same place ("for Python"
    for "for Rust"), else the earlier question's subject, else its last name."""
    names = [n for n in before.names if n.written.lower() != phrase.lower()]
    if not names:
        return None
    same = [
        n for n in names if preposition and _preposition(before.question, n.start) == preposition
    ]
    target = same[-1] if same else _subject(before.question, names) or names[-1]
    if len(_ITEM_SPLIT.split(phrase)) < 2:
        return target
    # "what about Hono or Elysia?" after "Fastify or NestJS …?": the choice for the choice.
    return _choice_around(before.question, before.names, target)


def _choice_around(text: str, names: list[_Name], target: _Name) -> _Name:
    """The names offered together with `target` ("Fastify or NestJS"), as one span."""
    start, end = target.start, target.end
    for n in sorted(names, key=lambda n: n.start):
        if n.end <= start and _only_connectives(text[n.end : start], [n, target]):
            start = n.start
        elif n.start >= end and _only_connectives(text[end : n.start], [target, n]):
            end = n.end
    return _Name(text[start:end], start, end)


def _replace(text: str, target: _Name, phrase: str) -> str:
    head = text[: target.start]
    # "on the JVM" → "on Go": a name written without an article loses the earlier one's.
    if head.lower().endswith("the ") and not phrase.isupper():
        head = head[:-4]
    return f"{head}{phrase}{text[target.end :]}"


def _aspect(fragment: str, turn: str, before: _Before) -> _Found | None:
    """A fragment without a name asks something else of the earlier subject: the opposite
    superlative ("and the slowest?"), or another aspect ("what about the downsides?")."""
    if swapped := _superlative_swapped(fragment, before.question):
        return _Found(swapped)
    constraint = fragment.split()[0].lower() in _PREPOSITIONS  # "for rust"
    if _superlatives(fragment) or constraint or not content_terms(fragment):
        return None  # a superlative with none to replace; a name read as a word
    thing = _referent(before, answer_first=False)
    if thing is None:
        return None
    about = "What about " if _ABOUT.match(turn) else ""
    body = fragment.rstrip(" ?.!")
    return _Found(f"{about}{body} of {thing}?", refers_back=True)


def _superlatives(text: str) -> list[re.Match]:
    out = []
    for m in _SUPERLATIVE.finditer(text):
        word = m.group(0).lower()
        if word.startswith(("most ", "least ")) or word in {"best", "worst"}:
            out.append(m)
            continue
        bases = {word[:-3], word[:-2], word[:-4] + "y" if word.endswith("iest") else ""}
        if len(word) > 5 and word[-4] == word[-5]:
            bases.add(word[:-4])  # "biggest"
        # A superlative is rarer than the word it grades ("slowest" < "slow"); "interest"
        # or "request" are words of their own.
        if any(
            len(b) >= 3 and b not in STOPWORDS and english_zipf(b) >= max(3.5, english_zipf(word))
            for b in bases
        ):
            out.append(m)
    return out


def _superlative_swapped(fragment: str, question: str) -> str | None:
    new, old = _superlatives(fragment), _superlatives(question)
    if len(new) != 1 or len(old) != 1 or new[0].group(0).lower() == old[0].group(0).lower():
        return None
    return f"{question[: old[0].start()]}{new[0].group(0)}{question[old[0].end() :]}"


def _conditioned(question: str, clause: str, before: _Before) -> _Found | None:
    """A condition that only names another thing or place puts it where the earlier one
    stood: "and if we're on Rust?" as "and for Rust?", "if I only want it on a single
    route" for "on every request". Any other condition is added to the earlier question."""
    names = _names(question, before.lexical)
    named = {t for n in names for t in content_terms(n.written)}
    if names and not [t for t in content_terms(clause) if t not in named]:
        return _substituted(question, question[names[0].start :], before)
    # "it" in the clause ("if I only want it on …") is what the answer said to do.
    refers = _refers(clause)
    if placed := _phrase_swapped(clause, before.question):
        return _Found(placed, refers_back=refers, quote=refers)
    joined = f"{before.question.rstrip(' ?.!')} if {clause.rstrip(' ?.!')}?"
    return _Found(joined, refers_back=refers, quote=refers)


def _phrases(text: str) -> list[re.Match]:
    return list(_PHRASE.finditer(text))


def _phrase_swapped(clause: str, question: str) -> str | None:
    """The earlier question with the clause's phrase ("on a single route") in place of
    its phrase of the same preposition, when the rest of the clause says nothing more."""
    mine = _phrases(clause)
    rest = clause
    for m in mine:
        rest = rest.replace(m.group(0), " ")
    if not mine or content_terms(rest):
        return None
    out = question
    for m in mine:
        same = [o for o in _phrases(out) if o.group("p").lower() == m.group("p").lower()]
        if len(same) != 1:
            return None
        out = f"{out[: same[0].start()]}{m.group(0).strip()}{out[same[0].end() :]}"
    return out


# -- a reference resolved ---------------------------------------------------------------
def _resolved(question: str, turn: str, before: _Before) -> _Found | None:
    """A question of its own that points back: its reference replaced by what it means."""
    if not _names(turn, before.lexical) and (
        swapped := _superlative_swapped(turn, before.question)
    ):
        return _Found(swapped)  # "and which is the slowest?"
    text = turn
    # One thing referred to ("the second one", "it"), and the place it was asked about.
    for found in (_first_reference, _by_place):
        result = found(text, before)
        if result == "":
            return None  # a reference nothing in the conversation resolves
        text = result if result is not None else text
    if text != turn:
        return _Found(text, refers_back=True, quote=True)
    if _RELATIONAL.search(turn):
        names = _names(turn, before.lexical)
        if names and (swapped := _substituted(turn, turn[names[0].start :], before)):
            # "What's the default equivalent on the TS side?": the earlier question asked of TS
            return swapped
        m = _RELATIONAL.search(turn)
        thing = _referent(before, answer_first=True)
        if thing and m and not turn[m.end() :].lstrip().lower().startswith(("of ", "to ")):
            return _Found(f"{turn[: m.end()]} of {thing}{turn[m.end() :]}", True, True)
    return None


def _first_reference(turn: str, before: _Before) -> str | None:
    for found in (_by_ordinal, _by_same, _by_pronoun):
        result = found(turn, before)
        if result is not None:
            return result
    return None


def _by_place(turn: str, before: _Before) -> str | None:
    """ "POST bodies arrive mangled there": the place the earlier question named ("on
    Google Cloud Functions")."""
    m = _THERE.search(turn)
    if m is None:
        return None
    names = _names(before.question, before.lexical)
    places = [
        p
        for p in _phrases(before.question)
        if p.group("p").lower() in _PLACES and any(p.start() < n.start < p.end() for n in names)
    ]
    return f"{turn[: m.start()]}{places[-1].group(0)}{turn[m.end() :]}" if places else ""


def _by_ordinal(turn: str, before: _Before) -> str | None:
    m = _ordinal(turn)
    if m is None:
        return None
    index = _ORDINALS[m.group("n").lower()]
    for things in (before.things, [n.written for n in before.names]):
        if len(things) >= 2 and index < len(things):
            return f"{turn[: m.start()]}{things[index]}{turn[m.end() :]}"
    return ""


def _by_same(turn: str, before: _Before) -> str | None:
    m = _SAME.search(turn) or _DEMONSTRATIVE.search(turn) or _LEADING_DEMONSTRATIVE.search(turn)
    if m is None:
        m = _BARE_DEMONSTRATIVE.search(turn)
    if m is None:
        return None
    start, end = (m.start(1), m.end(1)) if m.re is _LEADING_DEMONSTRATIVE else m.span()
    thing = _referent(before, answer_first=True)
    return f"{turn[:start]}{thing}{turn[end:]}" if thing else ""


def _by_pronoun(turn: str, before: _Before) -> str | None:
    for m in _PRONOUN.finditer(turn):
        word = m.group(1).lower()
        if _dummy(turn, m):
            continue
        if word in {"it", "its"}:
            thing = _referent(before, answer_first=False)
            if not thing:
                return ""
            said = f"{thing}'s" if word == "its" else thing
            return f"{turn[: m.start()]}{said}{turn[m.end() :]}"
        things = _several(before)
        if not things:
            return ""
        joined = _and(things)
        if word == "their":
            noun = re.match(r"\s+([\w-]+)", turn[m.end() :])
            if noun is None:
                return ""
            rest = turn[m.end() + noun.end() :]
            return f"{turn[: m.start()]}the {noun.group(1)} of {joined}{rest}"
        return f"{turn[: m.start()]}{joined}{turn[m.end() :]}"
    return None


def _referent(before: _Before, answer_first: bool) -> str | None:
    """What "it" means: the earlier question's subject, else the thing its answer leads
    with (when it leads with one). "The same choice" and "that one" mean the answer's
    thing first. Another name in the question is a constraint ("on Cloudflare Workers"),
    not what "it" means."""
    subject = _subject(before.question, before.names)
    things = before.things
    lead = things[0] if things else None
    said = subject.written if subject else None
    return (lead or said) if answer_first else (said or lead)


def _several(before: _Before) -> list[str]:
    things = before.things
    if len(things) >= 2:
        return things
    names = [n.written for n in before.names]
    return names if len(names) >= 2 else things


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


# -- what the previous answer named -------------------------------------------------------
def _answer_things(answer: str, lexical: LexicalIndex) -> list[str]:
    """The things the answer's cited lines lead with, in order ("BetterAuth and Lucia v3",
    "- **Hono** — …"); none when the first cited line leads with no thing ("Fastify
    replies with a 400 …": a fact, not a pick)."""
    out: list[str] = []
    lines = [ln for ln in _from_the_corpus(answer).splitlines() if MARKER.search(ln)]
    for i, line in enumerate(lines):
        heads = _heads(line, lexical)
        if i == 0 and not heads:
            return []
        out += [h for h in heads if h not in out]
    return out


def _heads(line: str, lexical: LexicalIndex) -> list[str]:
    """The names a line opens with: "Chi, Echo, Fiber or Gin, or plain …" → four."""
    text = _MARK.sub("", line).strip()
    text = re.sub(r"^(?:[-*•]|\d+[.)])\s+", "", text).strip()
    text = _HEAD_END.split(text, maxsplit=1)[0]
    items = [i.strip() for i in _ITEM_SPLIT.split(text)]
    out: list[str] = []
    for n, item in enumerate(items):
        if not item:
            continue
        listed = n == 0 and any(_name_like(i, False, lexical, False) for i in items[1:2])
        if not _name_like(item, n == 0, lexical, listed):
            break
        out.append(item)
    return out


def _name_like(item: str, opens: bool, lexical: LexicalIndex, listed: bool) -> bool:
    tokens = item.split()
    if not 1 <= len(tokens) <= 4:
        return False
    for k, token in enumerate(tokens):
        word = token.strip(".,")
        low = word.lower()
        if not word or low in STOPWORDS or low in QUESTION_WORDS:
            return False
        marked = any(ch.isdigit() for ch in word) or any(ch.isupper() for ch in word[1:])
        if k == 0 and opens and word[0].isupper() and not marked:
            # A line's first word is capitalised anyway: a name if English rarely uses it,
            # the corpus writes it so, or other names follow it.
            # ("Spring Data JPA", "New Relic": a name capitalised throughout).
            then = tokens[1] if len(tokens) > 1 else ""
            if not (
                english_zipf(low) < OPENER_ZIPF
                or low in lexical.proper
                or listed
                or then[:1].isupper()
                or any(ch.isdigit() for ch in then)
            ):
                return False
            continue
        if not (marked or word[0].isupper() or english_zipf(low) < COMMON_ZIPF):
            return False
    return True


def _from_the_corpus(answer: str) -> str:
    """An answer without the uncited paragraphs that open it (a note that the corpus does
    not mention a name): they say what the corpus lacks, not what the turn refers to."""
    paragraphs = answer.split("\n\n")
    while len(paragraphs) > 1 and not MARKER.search(paragraphs[0]):
        paragraphs.pop(0)
    return "\n\n".join(paragraphs) if MARKER.search(paragraphs[0]) else answer


# -- writing it out -----------------------------------------------------------------------
def _glued(question: str, turn: str, before: _Before) -> Rewrite:
    """A turn no rule condenses: read after the earlier question, which it leans on."""
    said = turn.strip(" ?.!,")
    standalone = f"{before.question} {_sentence(said, question)}" if said else before.question
    if _BACK_REFERENCE.search(question):
        return Rewrite(standalone, _with_answer(standalone, before), refers_back=True)
    return Rewrite(standalone, standalone)


def _with_answer(standalone: str, before: _Before) -> str:
    if not before.answer.strip():
        return standalone
    said = " ".join(_MARK.sub("", _from_the_corpus(before.answer)).split())[:CONTEXT_CHARS]
    return f"{standalone} {said}"


def _sentence(text: str, question: str) -> str:
    text = " ".join(text.split()).strip()
    text = re.sub(r"\s+([?,.!])", r"\1", text)
    if text and text[0].islower():
        text = text[0].upper() + text[1:]
    if question.rstrip().endswith("?") and not text.endswith("?"):
        text = text.rstrip(".!") + "?"
    return text


def _exchanges(history: Sequence[Turn]) -> list[tuple[str, str]]:
    """(question, answer) pairs, oldest first; a question's answer may be missing."""
    out: list[tuple[str, str]] = []
    for t in history:
        if not t.content.strip():
            continue
        if t.role == "user":
            out.append((t.content, ""))
        elif t.role == "assistant" and out and not out[-1][1]:
            out[-1] = (out[-1][0], t.content)
    return out


@lru_cache(maxsize=1)
def _no_corpus() -> LexicalIndex:
    return LexicalIndex([], None, {}, set())
