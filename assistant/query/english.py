"""How much English uses a word (wordfreq): what tells a tool's name from a word."""

from __future__ import annotations

from functools import lru_cache

ALONE_ZIPF = 2.0  # rarer than this, a word the corpus lacks is a name wherever it stands


@lru_cache(maxsize=50_000)
def english_zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


def is_english(word: str) -> bool:
    """A word English uses ("flaky", "cleanest"), so never a misspelt name."""
    return english_zipf(word.lower()) >= ALONE_ZIPF
