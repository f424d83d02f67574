"""What counts as a warning, for questions that ask about risks: a section whose heading
warns, a line led by what it warns of, and a documentation admonition's label."""

from __future__ import annotations

import pytest

from assistant.retrieval.warnings import advises_against, warns


@pytest.mark.parametrize(
    "section, text",
    [
        ("Guide › 10 common anti-patterns", "Shared schemas copied from frontend types."),
        ("Rust › Axum", "**Axum** — Downsides: young ecosystem."),
        ("Validation", "**Validation** — ⚠ Warning: Treat schema definitions as code."),
        ("Server", "**Caution:** closing the server drops open sockets."),
        ("Hooks", "Danger: a hook that never calls done() hangs the request."),
        ("Style › When to avoid the second person", "Write for the reader."),
        ("Queries › Avoiding N+1 queries", "Load relations up front."),
    ],
)
def test_these_warn(section: str, text: str) -> None:
    assert warns(section, text)


@pytest.mark.parametrize(
    "section, text",
    [
        ("Logging", "Warnings are logged at the warn level."),  # about warnings, not one
        ("Routes", "**Routes** — Note: the prefix applies to every route."),
        ("Validation", "Fastify compiles the schema into a fast function."),
        # A feature that "avoids" something is news, not a pitfall.
        ("What's new › apply_async(ignore_result=True) now avoids persisting the result", ""),
    ],
)
def test_these_do_not(section: str, text: str) -> None:
    assert not warns(section, text)


def _flagged(markdown: str) -> dict[str, bool]:
    """Each unit of `markdown` (by its raw text): does it warn?"""
    from ingest.units import split_units

    return {u.raw: u.warns for u in split_units(markdown)}


def test_every_line_of_a_warning_admonition_warns_not_only_its_label() -> None:
    body = (
        "Schemas compile to functions.\n\n"
        "> ⚠ Warning:\n> Treat schema definitions as application code. They use\n"
        "> `new Function()`, which is unsafe with user-provided schemas.\n>\n"
        "> * Never compile a schema a tenant uploaded.\n\n"
        "> [!CAUTION]\n> Closing drops open sockets.\n\n"
        "> A quote that only cites someone. It warns of nothing.\n\n"
        "After the quotes."
    )
    assert _flagged(body) == {
        "Schemas compile to functions.": False,
        "⚠ Warning: Treat schema definitions as application code.": True,
        "They use `new Function()`, which is unsafe with user-provided schemas.": True,
        "- Never compile a schema a tenant uploaded.": True,
        "[!CAUTION] Closing drops open sockets.": True,
        "A quote that only cites someone.": False,
        "It warns of nothing.": False,
        "After the quotes.": False,
    }


def test_a_sphinx_warning_admonition_is_one_quote_that_warns_and_a_note_is_not() -> None:
    from ingest.html import html_to_markdown

    page = (
        "<html><body><div class='admonition warning'><p class='admonition-title'>Warning</p>"
        "<p>Never share a connection. It leaks.</p><p>Use a pool.</p></div>"
        "<div class='admonition note'><p class='admonition-title'>Note</p>"
        "<p>Pools are lazy.</p></div></body></html>"
    )
    markdown, _ = html_to_markdown(page)
    assert _flagged(markdown) == {
        "Warning: Never share a connection.": True,
        "It leaks.": True,
        "Use a pool.": True,
        "Note: Pools are lazy.": False,
    }


def test_mkdocs_warning_admonitions_warn_in_every_line_and_a_tip_does_not() -> None:
    body = (
        "Intro.\n\n!!! warning\n    Do not share the pool. It leaks.\n\n    ```py\n    pool = None\n"
        '    ```\n\nAfter the warning.\n\n!!! tip "Nice"\n    A tip.\n\n'
        '/// danger | Hot\nBad thing.\n///\n\n!!! caution "Careful"\n    - item one\n\nEnd.'
    )
    assert _flagged(body) == {
        "Intro.": False,
        "**Warning:** Do not share the pool.": True,
        "It leaks.": True,
        "```py\npool = None\n```": True,
        "After the warning.": False,
        "**Nice:** A tip.": False,
        "**⚠ Hot:** Bad thing.": True,  # a title that does not say so is marked a warning's
        "**⚠ Careful:**": True,
        "- item one": True,
        "End.": False,
    }


def test_the_warning_a_risk_question_hears_shares_its_terms() -> None:
    import numpy as np

    from assistant.grounding.scoring import score_units
    from assistant.index.lexical import LexicalIndex
    from assistant.models import ChunkRecord, Hit
    from assistant.query.intent import make_query

    def record(key: str, section: str, text: str, vec: list[float]) -> ChunkRecord:
        return ChunkRecord(
            id=key, text=text, source=f"{key}.md", title="", section=section,
            units=[{"text": text, "raw": text}], unit_vecs=np.array([vec], dtype=np.float32),
        )  # fmt: skip

    style = record("style", "Style › When to avoid the passive voice", "Write actively.", [1, 0])
    schema = record("schema", "Validation › Pitfalls", "Async schemas querying a database "
                    "invite denial of service.", [0.6, 0.8])  # fmt: skip
    lexical = LexicalIndex.build([style, schema])
    question = "Can I query the database from an async schema?"
    query = make_query(question, question, np.array([1.0, 0.0]), np.array([1.0, 0.0]), lexical)
    assert query.caution
    units = score_units(query, [Hit(style, 1.0), Hit(schema, 0.9, rank=1)], lexical)
    flagged = [u.text for u in units if u.warning]
    # The style guide's "avoid" is closer in meaning but about none of the question's terms.
    assert flagged == [schema.text]


@pytest.mark.parametrize(
    "text",
    [
        "**Warnings** — Warnings can also be disabled, though it is not recommended.",
        "**printRoutes** — **Do not use it for debugging.**",
        "Disabling warnings may cause issues when upgrading.",
        "Handlers attached to this signal mustn’t be blocking for more than 4 seconds.",
        "You should never pass a model instance; it could lead to race conditions.",
        "Never compile a schema a tenant uploaded.",
    ],
)
def test_a_sentence_advising_against_what_it_describes_is_a_warning(text: str) -> None:
    assert advises_against(text)


@pytest.mark.parametrize(
    "text",
    [
        "Fastify compiles the schema into a fast function.",
        "The recommended way is to register the plugin.",
        "It does not matter which order you register them in.",  # "not" without advice
        "Routes that never match return 404.",  # "never" inside a statement of fact
    ],
)
def test_a_plain_statement_does_not_advise_against_anything(text: str) -> None:
    assert not advises_against(text)


def test_a_risk_question_hears_the_sentence_that_advises_against_the_plan() -> None:
    import numpy as np

    from assistant.grounding.scoring import score_units
    from assistant.index.lexical import LexicalIndex
    from assistant.models import ChunkRecord, Hit
    from assistant.query.intent import make_query

    lines = ["Warnings can be turned off with NODE_NO_WARNINGS.",
             "Turning warnings off is not recommended."]  # fmt: skip
    rec = ChunkRecord(
        id="w", text=" ".join(lines), source="w.md", title="", section="Warnings",
        units=[{"text": t, "raw": t} for t in lines],
        unit_vecs=np.array([[1.0, 0.0], [0.8, 0.6]], dtype=np.float32),
    )  # fmt: skip
    lexical = LexicalIndex.build([rec])
    question = "Can we just turn the warnings off?"
    query = make_query(question, question, np.array([1.0, 0.0]), np.array([1.0, 0.0]), lexical)
    flagged = [u.text for u in score_units(query, [Hit(rec, 1.0)], lexical) if u.warning]
    assert flagged == [lines[1]]
