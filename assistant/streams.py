"""Streams of answer text that end with a value (a generator's return)."""

from __future__ import annotations

from collections.abc import Generator
from typing import TypeVar

R = TypeVar("R")


def drain(stream: Generator[object, None, R]) -> R:
    """Run a stream to its end and return what it returns (the items are not wanted)."""
    while True:
        try:
            next(stream)
        except StopIteration as done:
            return done.value
