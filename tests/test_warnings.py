"""What counts as a warning, for questions that ask about risks: a section whose heading
warns, a line led by what it warns of, and a documentation admonition's label."""

from __future__ import annotations

import pytest

from assistant.retrieval.warnings import warns


@pytest.mark.parametrize(
    "section, text",
    [
        ("Guide › 10 common anti-patterns", "Shared schemas copied from frontend types."),
        ("Rust › Axum", "**Axum** — Downsides: young ecosystem."),
        ("Validation", "**Validation** — ⚠ Warning: Treat schema definitions as code."),
        ("Server", "**Caution:** closing the server drops open sockets."),
        ("Hooks", "Danger: a hook that never calls done() hangs the request."),
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
    ],
)
def test_these_do_not(section: str, text: str) -> None:
    assert not warns(section, text)
