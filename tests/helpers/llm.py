"""An Assistant on the shared test index that answers with an LLM at a given URL."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from assistant.models import Answer
from assistant.service import Assistant
from tests.conftest import make_settings

MARK = re.compile(r"\[(\d+)\]")


def llm_assistant(corpus_assistant, model_cache, url: str, **extra: object) -> Assistant:
    """Same index and embedder as `corpus_assistant`; the `openai` backend at `url`."""
    settings = make_settings(
        corpus_assistant.settings.data_dir, model_cache,
        llm_base_url=url,
        **{"llm_model": "fake", "backend": "openai", "llm_max_retries": 0, "llm_timeout_s": 10,
           "agent_timeout_s": 20, **extra},
    )  # fmt: skip
    return Assistant(settings, store=corpus_assistant.store, embedder=corpus_assistant.embedder)


def assert_citations_resolve(answer: Answer) -> None:
    """Every [n] in the text is a listed citation and every citation is used; and when
    the LLM wrote it, every citation is a passage the model was shown."""
    used = {int(n) for n in MARK.findall(answer.answer)}
    listed = {c.n for c in answer.citations}
    assert used == listed, (answer.answer, listed)
    assert len(listed) == len(answer.citations)
    if answer.backend != "openai":
        return
    # what the model was shown is in the trace: without it this check could not fail
    shown = (answer.trace or {}).get("generation", {}).get("passages")
    assert shown is not None, "ask with trace=True: the check needs the passages shown"
    by_n = {p["n"]: p for p in shown}
    for c in answer.citations:
        assert c.n in by_n and by_n[c.n]["section"] == c.section, (c, by_n)


def wait_until(condition: Callable[[], object], timeout: float, what: str) -> float:
    """Poll `condition` until it holds; the seconds it took. Fails after `timeout`."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not within {timeout:g} s: {what}")
        time.sleep(0.02)
    return time.monotonic() - start
