"""Which units an extractive answer is made of, on hand-made scored units: the rules of
the composer without an index in the way."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from assistant.generators.base import Evidence
from assistant.generators.extractive import ExtractiveGenerator
from assistant.grounding.scoring import ScoredUnit
from assistant.models import ChunkRecord, Hit, Turn
from assistant.prompts import Prompts
from assistant.query.followup import told
from assistant.query.intent import Query
from assistant.settings import Settings
from tests.helpers.units import scored

_made = iter(range(10_000))


def unit(source: str, chunk: str, text: str, score: float, heading=(), subject=(), index=0):
    rec = ChunkRecord(id=chunk, text=text, source=source, title="", section=chunk)
    vec = np.zeros(64, dtype=np.float32)
    vec[next(_made) % 64] = 1.0  # orthogonal: no unit repeats another
    return scored(Hit(chunk=rec, score=score), text, score, index=index, vec=vec,
                  subject=set(subject) | set(heading), heading=set(heading))  # fmt: skip


def select(units: list[ScoredUnit], focus: list[str], question: str = "q") -> list[str]:
    query = Query(
        question, question, np.zeros(64), np.zeros(64), search_terms=focus, turn_terms=focus
    )
    lexical = SimpleNamespace(subjects={"rust", "node", "axum", "actix"})
    evidence = Evidence(query, [u.hit for u in units], units, lexical)  # type: ignore[arg-type]
    composer = ExtractiveGenerator(Prompts(Settings().prompts_dir), max_sentences=4)
    return [u.text for u in composer.select(evidence)]


def test_a_named_thing_is_covered_from_the_answers_own_document() -> None:
    units = [
        unit("article.md", "rust", "Axum is the default Rust framework.", 1.0, heading=["rust"]),
        unit("dom.html", "node-objects", "Node objects model the DOM.", 0.6, heading=["node"]),
        unit("article.md", "ts", "Node runs Fastify.", 0.55, subject=["node"]),
    ]
    chosen = select(units, ["rust", "node"])
    assert "Node runs Fastify." in chosen
    assert "Node objects model the DOM." not in chosen  # a shared word, another manual


def test_another_document_nearly_as_good_as_the_best_may_join() -> None:
    units = [
        unit("article.md", "rust", "Axum is the default Rust framework.", 1.0, heading=["rust"]),
        unit("guide.md", "node", "Node suits I/O-bound services.", 0.95, heading=["node"]),
    ]
    assert "Node suits I/O-bound services." in select(units, ["rust", "node"])


def test_the_last_place_goes_to_the_best_line_left_unless_comparing() -> None:
    units = [
        unit("a.md", "axum", "Axum is macro-light.", 1.0, heading=["axum"]),
        unit("a.md", "actix", "Actix-web is actor-based.", 0.9, heading=["actix"], index=1),
        unit("a.md", "anti", "Warnings: Rust learning curve.", 0.88),
        unit("a.md", "axum", "Axum has Tower.", 0.85, heading=["axum"], index=1),
        unit("a.md", "actix", "Actix-web is the fastest in raw benchmarks.", 0.6,
             heading=["actix"]),
    ]  # fmt: skip
    plain = select(units, ["axum", "actix"], "Tell me about Axum and Actix-web")
    assert "Warnings: Rust learning curve." in plain
    compared = select(units, ["axum", "actix"], "Axum vs Actix-web?")
    # A comparison: both sides twice, each represented by its section's opening line.
    assert "Actix-web is the fastest in raw benchmarks." in compared
    assert "Warnings: Rust learning curve." not in compared


def answer(units: list[ScoredUnit], question: str, terms: list[str], caution=False, told=()) -> str:
    query = Query(question, question, np.zeros(64), np.zeros(64), search_terms=terms, turn_terms=terms,
                  caution=caution, told=told)  # fmt: skip
    lexical = SimpleNamespace(subjects={"actix", "axum", "rust"}, df={t: 1 for t in terms},
                              idf=lambda t: 1.0)  # fmt: skip
    evidence = Evidence(query, [u.hit for u in units], units, lexical)  # type: ignore[arg-type]
    composer = ExtractiveGenerator(Prompts(Settings().prompts_dir), max_sentences=5)
    return composer.generate(evidence).text


def with_terms(u: ScoredUnit, *terms: str, kind: str = "") -> ScoredUnit:
    u.terms, u.kind = set(terms), kind
    return u


def test_the_answer_leads_with_the_unit_that_speaks_to_what_is_asked() -> None:
    units = [
        with_terms(unit("a.md", "axum", "Axum is the default.", 1.0), "axum", "rust"),
        with_terms(
            unit("a.md", "actix", "Actix-web is still the fastest in raw benchmarks.", 0.95),
            "actix",
            "rust",
            "fastest",
            "raw",
            "benchmark",
        ),
    ]
    text = answer(units, "Which Rust framework wins raw benchmarks?", ["rust", "raw", "benchmark"])
    assert text.splitlines()[0].startswith("Actix-web is still the fastest")


def test_code_is_never_the_lead_and_a_block_comes_after_the_lines() -> None:
    block = "```js\nfastify.decorate('db', pool)\nfastify.addHook('onClose', close)\n```"
    units = [
        with_terms(unit("a.md", "c", block, 1.0, index=1), "db", kind="code"),
        with_terms(unit("a.md", "c", "```sh\nnpm i pg\n```", 0.95, index=2), "pg", kind="code"),
        unit("a.md", "c", "Decorate the instance with the pool.", 0.9),
    ]
    text = answer(units, "how do I share a db pool?", ["db", "pool"])
    lines = text.splitlines()
    assert lines[0] == "Decorate the instance with the pool. [1]"
    assert "- `npm i pg` [1]" in lines  # one line of code reads as code, in the list
    assert text.endswith(f"{block}\n[1]")


def test_a_question_about_risks_hears_one_warning_not_the_whole_list() -> None:
    anti = "10 common anti-patterns"
    nearest = unit("a.md", anti, "No schema validation at the edge.", 1.0)
    nearest.warning = True
    units = [nearest, unit("a.md", anti, "Auth rolled from scratch.", 0.95, index=1),
             unit("a.md", "intro", "Validation happens at the edge.", 0.9)]  # fmt: skip
    text = answer(units, "Is it OK to skip validation?", ["validation"], caution=True)
    assert "No schema validation" in text.splitlines()[0] and "Auth rolled" not in text
    assert "Validation happens at the edge." in text  # what is not a warning still supports


def test_a_warning_leads_only_when_it_is_nearly_as_good_evidence_as_the_best_line() -> None:
    def units(warning_evidence: float) -> list[ScoredUnit]:
        downsides = unit("a.md", "spring", "Downsides: JVM memory.", warning_evidence + 0.15)
        downsides.warning, downsides.intent_bonus = True, 0.15  # lifted by the question's intent
        best = unit("a.md", "spring", "Virtual threads make reactive code unnecessary.", 0.7)
        return [best, downsides]

    question = "We have to rewrite it in reactive style, right?"
    far = answer(units(0.45), question, ["reactive"], caution=True)  # 0.25 below the best
    assert far.splitlines()[0].startswith("Virtual threads")
    near = answer(units(0.6), question, ["reactive"], caution=True)  # 0.1 below
    assert near.splitlines()[0].startswith("Downsides")


def test_a_follow_up_leads_with_what_the_last_answer_did_not_say() -> None:
    units = [
        unit("a.md", "p", "Set maxParamLength; the default value is 100 characters.", 1.0),
        unit(
            "a.md", "p", "If the limit is reached, the not found route is invoked.", 0.98, index=2
        ),
    ]
    question = "what happens when a request goes over the limit?"
    assert answer(units, question, ["limit"]).splitlines()[0].startswith("Set maxParamLength")
    history = [Turn("user", "How long can a route parameter be?"),
               Turn("assistant", "100 characters by default, set by maxParamLength [1].")]  # fmt: skip
    first = answer(units, question, ["limit"], told=told(history)).splitlines()[0]
    assert first.startswith("If the limit is reached")
    # What the last answer said still supports the new one.
    assert "Set maxParamLength" in answer(units, question, ["limit"], told=told(history))


def test_a_lead_that_introduces_what_follows_brings_it() -> None:
    command = "```sh\ncelery -A proj worker -n worker1@%h\ncelery -A proj worker -n worker2@%h\n```"
    units = [
        unit("a.md", "w", "Name each worker with the --hostname argument:", 1.0, index=3),
        unit("a.md", "w", "Workers can run in the background.", 0.98, index=1),
        unit("a.md", "w", "A daemon tool helps.", 0.97, index=2),
        with_terms(unit("a.md", "w", command, 0.5, index=4), kind="code"),
    ]
    text = answer(units, "how do I run two workers on one host?", ["worker", "host"])
    assert text.splitlines()[0].startswith("Name each worker")
    assert command in text  # far below the others, but the lead promised it


def test_a_list_is_read_into_the_line_that_introduces_it() -> None:
    units = [
        unit("a.md", "m", "They differ from group in that:", 1.0, index=0),
        with_terms(unit("a.md", "m", "only one message is sent.", 0.5, index=1), kind="bullet"),
        with_terms(unit("a.md", "m", "the operation is sequential.", 0.4, index=2), kind="bullet"),
        unit("a.md", "m", "Map calls the task for every element.", 0.95, index=3),
    ]
    for u in units[1:3]:
        u.raw = f"- {u.text}"
    text = answer(units, "map vs group?", ["map", "group"])
    assert text.splitlines()[0] == (
        "They differ from group in that: only one message is sent; the operation is sequential. [1]"
    )
    assert text.count("only one message") == 1


def test_a_sections_opening_line_leads_over_an_equally_good_later_one() -> None:
    units = [
        unit("a.md", "f", "Use when: REST APIs with schema validation.", 1.0, index=2),
        unit("a.md", "f", "Schema-first is the killer feature.", 0.97, index=0),
    ]
    text = answer(units, "fastify schema validation?", ["schema"])
    assert text.splitlines()[0].startswith("Schema-first is the killer feature.")


def test_a_long_list_read_into_its_lead_says_it_goes_on() -> None:
    units = [unit("a.md", "m", "Set these options:", 1.0, index=0)]
    for n in range(1, 21):
        item = with_terms(unit("a.md", "m", f"option {n}", 0.3, index=n), kind="bullet")
        item.raw = f"- option {n}:"
        units.append(item)
    first = answer(units, "which options?", ["option"]).splitlines()[0]
    assert first.startswith("Set these options: option 1; option 2;") and first.endswith("; … [1]")
    assert ":;" not in first


def _chunk_units(texts: list[str], scores: list[float], kinds=None) -> list[ScoredUnit]:
    units = [
        unit("guide.md", "plugins", t, s, index=n)
        for n, (t, s) in enumerate(zip(texts, scores, strict=True))
    ]
    for u, kind in zip(units, kinds or ["sentence"] * len(units), strict=True):
        u.kind = kind
    return units


def _read_together(chosen: list[ScoredUnit], units: list[ScoredUnit]) -> list[str]:
    composer = ExtractiveGenerator(Prompts(Settings().prompts_dir), max_sentences=4)
    return [u.text for u in composer.read_together(chosen, units)]


def test_a_sentence_pointing_back_is_quoted_with_the_one_it_leans_on() -> None:
    units = _chunk_units(
        ["In v4, plugins could mix the callback and promise API.",
         "This is no longer allowed in v5.",
         "Plugins are registered in the order they are declared in the file."],
        [0.4, 0.9, 0.5],
    )  # fmt: skip
    assert _read_together([units[1]], units) == [
        "In v4, plugins could mix the callback and promise API. This is no longer allowed in v5."
    ]


def test_a_sentence_naming_this_or_these_early_on_continues_the_one_before() -> None:
    units = _chunk_units(
        ["Revoked ids are kept in memory, so they vanish when every worker restarts.",
         "If you want to preserve this list between restarts, use the --statedb argument.",
         "If you want to cancel a running task, use terminate."],
        [0.9, 0.3, 0.5],
    )  # fmt: skip
    assert _read_together([units[0]], units) == [
        "Revoked ids are kept in memory, so they vanish when every worker restarts. If you "
        "want to preserve this list between restarts, use the --statedb argument."
    ]
    # The same opening without a word pointing back stands on its own.
    assert _read_together([units[2]], units) == [units[2].text]


def test_two_chosen_lines_one_leaning_on_the_other_are_one_line() -> None:
    units = _chunk_units(
        ["Answer: No.", "It used to be supported by Carrot but is not supported in Kombu."],
        [0.9, 0.8],
    )  # fmt: skip
    assert _read_together([units[0], units[1]], units) == [
        "Answer: No. It used to be supported by Carrot but is not supported in Kombu."
    ]


def test_a_condition_on_the_value_or_a_short_sentence_continues_the_one_before() -> None:
    units = _chunk_units(
        ["**`return503OnClosing`** — Returns 503 after calling close.",
         "**`return503OnClosing`** — If `false`, the server routes the request as usual.",
         "Fastify blocks this.", "Decorators are shared by every request of the instance."],
        [0.9, 0.3, 0.2, 0.8],
    )  # fmt: skip
    assert _read_together([units[0]], units) == [
        "**`return503OnClosing`** — Returns 503 after calling close. If `false`, the server "
        "routes the request as usual."
    ]
    # A sentence standing on its own is not glued to its neighbours.
    assert _read_together([units[3]], units) == [units[3].text]


def test_a_chosen_list_item_is_read_after_the_line_introducing_it() -> None:
    units = _chunk_units(
        ["`reply.hijack()` can be called to:", "- Prevent sending the response automatically",
         "- Write to the raw response yourself", "Hooks run in order."],
        [0.5, 0.9, 0.6, 0.4], kinds=["sentence", "bullet", "bullet", "sentence"],
    )  # fmt: skip
    together = _read_together([units[1], units[2], units[3]], units)
    assert together == [
        "`reply.hijack()` can be called to: Prevent sending the response automatically; "
        "Write to the raw response yourself.",
        "Hooks run in order.",
    ]


def test_a_warning_admonition_is_read_whole_while_it_is_short() -> None:
    units = _chunk_units(
        ["⚠ Warning: Treat schema definitions as application code.",
         "Validation uses `new Function()`, which is unsafe with user-provided schemas.",
         "Every schema is compiled once, when the server starts up."],
        [0.9, 0.6, 0.5],
    )  # fmt: skip
    units[0].in_warning = units[1].in_warning = True
    assert _read_together([units[0]], units) == [
        "⚠ Warning: Treat schema definitions as application code. Validation uses "
        "`new Function()`, which is unsafe with user-provided schemas."
    ]
    assert _read_together([units[2]], units) == [units[2].text]  # not part of the warning
    units[1].raw = units[1].text = "x" * 480  # a long warning: its lines stay apart
    assert _read_together([units[0]], units) == [units[0].text]


def test_the_code_right_after_the_lead_joins_an_answer_showing_none() -> None:
    units = _chunk_units(
        ["You need to add a custom Content-Type parser to read the body.",
         "```js\nfastify.addContentTypeParser('application/json', {}, parse)\n\nmore()\n```",
         "Functions parse the body before Fastify sees it."],
        [0.9, 0.3, 0.8], kinds=["sentence", "code", "sentence"],
    )  # fmt: skip
    composer = ExtractiveGenerator(Prompts(Settings().prompts_dir), max_sentences=2)
    shown = composer.with_its_code([units[0], units[2]], units[0], units)
    assert [u.index for u in shown] == [0, 1]  # the weakest place went to the code
    assert composer.with_its_code([units[2]], units[2], units) == [units[2]]  # no code after


def test_a_lead_read_with_the_sentence_before_it_still_brings_its_list() -> None:
    units = _chunk_units(
        ["Which framework? feels like an old question.", "It is back, for real reasons:",
         "Edge demands fast cold starts.", "TypeScript is everywhere."],
        [0.3, 1.0, 0.2, 0.1],
        ["sentence", "sentence", "bullet", "bullet"],
    )  # fmt: skip
    for u in units[2:]:
        u.raw = f"- {u.text}"
    best_first = sorted(units, key=lambda u: -u.score)
    first = answer(best_first, "why is the framework question back?", ["framework"]).splitlines()[0]
    assert first.startswith("Which framework? feels like an old question. It is back")
    assert "Edge demands fast cold starts; TypeScript is everywhere." in first


def test_the_sentence_explaining_the_code_before_it_ranks_with_that_code() -> None:
    bad = "```js\n// Bad example!\nfastify.addHook('preHandler', (req) => { req.user = u })\n```"
    units = [
        with_terms(unit("d.md", "deco", bad, 1.0, index=0), "prehandler", kind="code"),
        unit("d.md", "deco", "The above example mutates the request, deoptimizing access.", 0.3,
             index=1),
        unit("h.md", "hooks", "The preHandler hook runs before the handler.", 0.8),
        unit("h.md", "hooks", "Hooks can be async.", 0.75, index=1),
    ]  # fmt: skip
    for u in units[1:]:
        u.kind = "sentence"
    text = answer(units, "is it fine to set req.user in a preHandler?", ["prehandler"])
    assert text.splitlines()[0].startswith("The above example mutates the request")
    # Prose that does not point back at the code keeps its own rank.
    units[1].text = units[1].raw = "Decorators extend the request."
    assert not answer(units, "is it fine?", ["prehandler"]).startswith("Decorators extend")


def test_a_sentence_asking_a_question_does_not_lead_the_one_answering_it_does() -> None:
    units = _chunk_units(
        ["Soft, or hard?", "The soft limit raises an exception the task can catch to clean up."],
        [1.0, 0.9],
    )
    text = answer(units, "soft_time_limit vs time_limit?", ["soft", "limit"])
    assert text.splitlines()[0].startswith("The soft limit raises an exception")


def test_a_question_the_text_asks_itself_gives_its_place_to_the_answer_after_it() -> None:
    """The question matches best and says nothing; what follows answers it, past the
    lines the answer already holds."""
    units = _chunk_units(
        ["Soft, or hard?", "The time limit is set in two values, soft and hard.",
         "The soft limit lets the task clean up; the hard one kills it.", "Limits are per task."],
        [1.0, 0.95, 0.5, 0.1],
    )  # fmt: skip
    chosen = select(units, ["soft", "limit"], "soft or hard time limit?")
    assert "Soft, or hard?" not in chosen
    assert chosen[:2] == [units[2].text, units[1].text]


def test_the_next_line_is_the_one_that_adds_most_beside_those_chosen() -> None:
    # Three lines of one option's list echo its label (near each other: cosine 0.8); the
    # sentence that explains the option scores a little lower but says something new.
    label = np.zeros(64, dtype=np.float32)
    label[0] = 1.0

    def echoing(text: str, score: float, index: int) -> ScoredUnit:
        u = unit("ref.md", "trust", text, score, index=index)
        u.vec[:] = 0.8 * label + 0.6 * u.vec / np.linalg.norm(u.vec)
        return u

    units = [
        echoing("trustProxy — Default: false.", 1.0, 0),
        echoing("trustProxy — true/false: trust all proxies or none.", 0.98, 1),
        echoing("trustProxy — number: trust the nth hop.", 0.97, 2),
        unit("ref.md", "trust", "Enabling it trusts X-Forwarded-* headers.", 0.93, index=3),
        echoing("trustProxy — Function: a custom trust function.", 0.96, 4),
    ]
    chosen = select(units, ["trustproxy"])  # four places
    assert "Enabling it trusts X-Forwarded-* headers." in chosen
    assert "trustProxy — Function: a custom trust function." not in chosen
    assert chosen[0] == "trustProxy — Default: false."  # the best line still comes first


def test_lines_that_repeat_none_of_the_others_keep_their_order_of_merit() -> None:
    units = [unit("a.md", "s", f"Line {n}.", 1.0 - n / 100, index=n) for n in range(6)]
    assert select(units, []) == ["Line 0.", "Line 1.", "Line 2.", "Line 3."]


def test_a_question_that_asks_two_things_has_room_for_one_more_line() -> None:
    lines = [unit("a.md", "sqs", f"Line {n} about the SQS transport.", 1.0 - n / 100, index=n)
             for n in range(8)]  # fmt: skip
    one = answer(lines, "Which region does the SQS transport use by default?", ["sqs"])
    two = answer(lines, "Which region does SQS use by default, and where do I set it?", ["sqs"])
    assert one.count("Line ") == 5  # the composer's five
    assert two.count("Line ") == 6
