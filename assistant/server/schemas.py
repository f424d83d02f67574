"""Request and response bodies of the HTTP API (they make the OpenAPI at /docs)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from assistant.models import Citation
from assistant.settings import Backend


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(..., min_length=1, description="The question, in plain words.")
    conversation_id: str | None = Field(
        None, min_length=1, max_length=64,
        description="Continue this conversation (follow-ups in context).",
    )  # fmt: skip
    backend: Backend | None = Field(
        None,
        description="Answer backend for this request: `openai` (the configured LLM; 503 "
        "when none is), `extractive` (offline), `auto` (the LLM when one is configured).",
    )
    trace: bool = Field(
        False, description="Include retrieval, gate and agent steps (`trace`) in the answer."
    )


class AnswerOut(BaseModel):
    question: str
    answer: str = Field(..., description="Markdown with inline [n] citation markers.")
    citations: list[Citation]  # the service's own dataclass: one definition
    refused: bool
    backend: str
    timings_ms: dict[str, float]
    related_sections: list[str] = []
    standalone_question: str | None = None
    conversation_id: str | None = None
    conversation_token: str | None = Field(
        None,
        description="Without API keys: the secret that makes this new conversation yours; "
        "send it as `X-Conversation-Token` to continue, read or delete it.",
    )
    degraded: bool = Field(
        False,
        description="The LLM's answer could not be returned as written (the endpoint failed, "
        "or a citation did not check out): this is the extractive answer instead.",
    )
    degraded_reason: str | None = Field(None, description="Why the answer is degraded.")
    uncovered: list[str] = Field(
        [],
        description='What the question asks about that the corpus does not cover ("Crystal"): '
        "the answer covers the rest and says so first.",
    )
    citations_removed: list[int] = Field(
        [], description="[n] markers the LLM wrote that matched no retrieved passage (removed)."
    )
    trace: dict[str, Any] | None = Field(None, description="When asked for (`trace: true`).")


class TurnOut(BaseModel):
    role: str
    content: str
    standalone: str | None = None
    answer: dict[str, Any] | None = None
    created_at: str


class ConversationOut(BaseModel):
    id: str
    created_at: str
    turns: list[TurnOut]


class ErrorOut(BaseModel):
    error: dict[str, str]


# -- the OpenAI-compatible surface -----------------------------------------------------------


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # content parts: keep the text ones
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # clients send temperature, top_p…: ignored
    model: str = "stackguide"
    messages: list[ChatMessage] = Field(..., min_length=1)
    stream: bool = False


# -- the documents API ------------------------------------------------------------------------
class DocumentOut(BaseModel):
    id: str = Field(..., description="Stable id, from the document's path or URL.")
    source: str = Field(..., description="What citations name it by: a path or the URL.")
    title: str
    work: str = Field("", description="The multi-file guide it is a page of, if any.")
    sections: int
    chunks: int
    origin: Literal["file", "url"]
    url: str | None = None
    ingested_at: str | None = Field(None, description="When its newest chunk was stored.")
    digest: str = Field(..., description="SHA-256 of the file (or article copy) as ingested.")


class DocumentsOut(BaseModel):
    documents: list[DocumentOut]
    can_write: bool = Field(..., description="Whether this caller's key may change the corpus.")


class SectionOut(BaseModel):
    section: str = Field(..., description="The heading path, as citations carry it.")
    text: str


class DocumentDetailOut(BaseModel):
    document: DocumentOut
    sections: list[SectionOut]


class JobBody(BaseModel):
    id: str
    kind: str
    status: Literal["queued", "running", "done", "failed"]
    progress: dict[str, int]
    message: str
    documents: list[str]
    created_at: str
    finished_at: str | None = None


class JobOut(BaseModel):
    job: JobBody


class AddDocumentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, description="An article to fetch, extract and ingest.")
    feed: str | None = Field(
        None, description="An RSS/Atom feed or sitemap: every article it lists is ingested."
    )
