"""How English a word is comes from wordfreq; plain words are read from a table of
wordfreq's own answers, so a cold question need not load wordfreq at all."""

from __future__ import annotations

import random
import re

import pytest
from wordfreq import get_frequency_dict, zipf_frequency

from assistant.query import english


@pytest.fixture
def fresh_table(monkeypatch):
    """The module as a new process finds it; put back as it was afterwards."""
    monkeypatch.setattr(english, "_db", None)
    monkeypatch.setattr(english, "_opened", False)
    english.english_zipf.cache_clear()
    yield
    english.english_zipf.cache_clear()


def test_plain_words_read_from_the_table_are_wordfreqs_answers(fresh_table) -> None:
    plain = [w for w in get_frequency_dict("en") if re.fullmatch("[a-z]+", w)]
    sample = [*random.Random(7).sample(plain, 2000), "the", "lambda", "flaky", "qwerty"]
    assert [english.english_zipf(w) for w in sample] == [zipf_frequency(w, "en") for w in sample]
    assert english._db is not None, "the table was used"


def test_a_plain_word_wordfreq_does_not_list_scores_zero(fresh_table) -> None:
    for word in ("fastifyx", "zzqxv", "honojs"):
        assert english.english_zipf(word) == zipf_frequency(word, "en") == 0.0


def test_other_words_ask_wordfreq(fresh_table) -> None:
    for word in ("node.js", "2026", "café", "Fastify", "c#"):
        assert english.english_zipf(word) == zipf_frequency(word, "en")


def test_an_unwritable_cache_still_answers_through_wordfreq(fresh_table, tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert english.english_zipf("lambda") == zipf_frequency("lambda", "en")
    assert english._db is None
    assert not english.is_english("zzqxv") and english.is_english("cleanest")
