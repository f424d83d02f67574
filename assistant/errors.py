"""The few errors StackGuide raises; the edges (CLI, HTTP, Slack) translate them."""

from __future__ import annotations


class StackGuideError(Exception):
    """Base class: a message fit to show a user as is."""


class InvalidQuestion(StackGuideError):
    """Empty, whitespace-only or over-long question (CLI exit 2, HTTP 422)."""


class ConfigError(StackGuideError):
    """A setting is wrong or an optional dependency is missing."""


class IndexNotReady(StackGuideError):
    """The index is missing or out of step with the vector store."""


class IngestError(StackGuideError):
    """One file could not be ingested; the others still were."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class BackendNotConfigured(StackGuideError):
    """A request asked for an answer backend this installation has not set up, e.g.
    `openai` without an LLM endpoint (HTTP 422, CLI exit 2)."""


class BackendUnavailable(StackGuideError):
    """A backend (LLM endpoint, Chroma server) could not be reached."""


class NotFound(StackGuideError):
    """An id (conversation) that does not exist (HTTP 404)."""


class LLMError(BackendUnavailable):
    """The LLM endpoint failed: unreachable, timed out, rate-limited or 5xx after the
    retries, or a reply that is not a usable completion. The service falls back to the
    extractive answer (or, with `llm_fallback=error`, lets it through: HTTP 503, exit 1)."""


class FetchError(IngestError):
    """A URL could not be fetched or was refused (not http(s), a private address, too
    large, timed out, an HTTP error). `status` is the HTTP status when there was one."""

    def __init__(self, url: str, reason: str, status: int | None = None) -> None:
        super().__init__(url, reason)
        self.status = status


class Forbidden(StackGuideError):
    """The caller may not do this (HTTP 403): document writes need an admin key."""


class Conflict(StackGuideError):
    """The index is being written by someone else (HTTP 409, CLI exit 1)."""


class Unsupported(StackGuideError):
    """A document of a type StackGuide does not read (HTTP 415)."""


class TooLarge(StackGuideError):
    """A document over the size limit (HTTP 413)."""
