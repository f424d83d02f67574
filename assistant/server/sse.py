"""Server-Sent Events framing."""

from __future__ import annotations

import json


def event(kind: str, data: object) -> str:
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def data_only(data: object) -> str:
    """OpenAI-style SSE: no event names, `data: …` lines, `[DONE]` to finish."""
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"data: {payload}\n\n"
