"""Dependency aliases for routes (the FastAPI template's `deps.py` pattern)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from assistant.server.metrics import Metrics
from assistant.service import Assistant


def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


AssistantDep = Annotated[Assistant, Depends(get_assistant)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
