"""/v1/documents and /v1/jobs: the corpus, read by any caller, changed with an admin key.
Translation only: `Assistant.documents` does the work, as jobs."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Request

from assistant.errors import InvalidQuestion, Unsupported
from assistant.server.deps import AssistantDep, answer_off_loop
from assistant.server.middleware import Guarded, is_admin, rate_limit, require_admin_key
from assistant.server.schemas import (
    AddDocumentRequest,
    DocumentDetailOut,
    DocumentsOut,
    ErrorOut,
    JobOut,
)

router = APIRouter(prefix="/v1", tags=["documents"])
Admin = [Depends(rate_limit), Depends(require_admin_key)]
ERRORS = {
    s: {"model": ErrorOut} for s in (401, 403, 404, 409, 413, 415, 422, 429, 503)
}  # fmt: skip


@router.get("/documents", response_model=DocumentsOut, dependencies=Guarded, responses=ERRORS)
async def list_documents(request: Request, assistant: AssistantDep) -> dict:
    """Every document in the index: its title, sections, chunks and where it came from."""
    docs = await answer_off_loop(request, assistant.documents.list)
    return {"documents": [d.to_dict() for d in docs], "can_write": is_admin(request)}


@router.get(
    "/documents/{doc_id}", response_model=DocumentDetailOut, dependencies=Guarded,
    responses=ERRORS,
)  # fmt: skip
async def get_document(doc_id: str, request: Request, assistant: AssistantDep) -> dict:
    """One document and its sections, in order (what a citation links to)."""
    doc, sections = await answer_off_loop(request, assistant.documents.get, doc_id)
    return {"document": doc.to_dict(), "sections": [vars(s) for s in sections]}


UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "format": "binary"}},
        }},
        "application/json": {"schema": AddDocumentRequest.model_json_schema()},
    },
}  # fmt: skip


@router.post(
    "/documents", status_code=202, response_model=JobOut, dependencies=Admin, responses=ERRORS,
    openapi_extra={"requestBody": UPLOAD_BODY},
)  # fmt: skip
async def add_document(request: Request, assistant: AssistantDep) -> dict:
    """Add a document: a multipart upload (field `file`: .md .markdown .txt .html .htm
    .pdf), or JSON `{"url": …}` (an article) or `{"feed": …}` (a feed or sitemap). The work
    runs as a job: poll `GET /v1/jobs/{id}`."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    documents = assistant.documents
    if ctype == "multipart/form-data":
        form = await request.form(max_files=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise InvalidQuestion("send the document as the multipart field `file`")
        data = await upload.read()
        job = await answer_off_loop(request, documents.add_file, upload.filename or "", data)
    elif ctype == "application/json":
        body = _json_body(await request.body())
        if bool(body.url) == bool(body.feed):
            raise InvalidQuestion('send one of {"url": …} or {"feed": …}')
        add = documents.add_url if body.url else documents.add_feed
        job = await answer_off_loop(request, add, body.url or body.feed)
    else:
        raise Unsupported("send a file as multipart/form-data, or a URL as application/json")
    return {"job": job.to_dict()}


@router.delete(
    "/documents/{doc_id}", status_code=202, response_model=JobOut, dependencies=Admin,
    responses=ERRORS,
)  # fmt: skip
async def delete_document(doc_id: str, request: Request, assistant: AssistantDep) -> dict:
    """Remove a document from the index (and the copy kept of an upload or article)."""
    job = await answer_off_loop(request, assistant.documents.remove, doc_id)
    return {"job": job.to_dict()}


@router.post(
    "/documents/{doc_id}/refresh", status_code=202, response_model=JobOut, dependencies=Admin,
    responses=ERRORS,
)  # fmt: skip
async def refresh_document(doc_id: str, request: Request, assistant: AssistantDep) -> dict:
    """Read the document again (an article is fetched only if it changed)."""
    job = await answer_off_loop(request, assistant.documents.refresh, doc_id)
    return {"job": job.to_dict()}


@router.get("/jobs/{job_id}", response_model=JobOut, dependencies=Guarded, responses=ERRORS)
async def get_job(job_id: str, request: Request, assistant: AssistantDep) -> dict:
    """A document job's progress: queued, running (done/total), done or failed (why)."""
    job = await answer_off_loop(request, assistant.documents.job, job_id)
    return {"job": job.to_dict()}


def _json_body(raw: bytes) -> AddDocumentRequest:
    try:
        return AddDocumentRequest.model_validate(json.loads(raw or b"{}"))
    except (ValueError, TypeError) as exc:
        raise InvalidQuestion(f"invalid body: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise InvalidQuestion("invalid body: nested too deeply") from None
