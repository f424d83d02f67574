"""The documents API over real HTTP (uvicorn on 127.0.0.1, embedded Chroma, the real model):
what the corpus holds, uploads, article URLs and feeds from a site on 127.0.0.1, refresh,
delete, admin keys, and bad input refused with nothing half-written."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from assistant.server.app import create_app
from assistant.service import Assistant
from tests.conftest import make_settings
from tests.helpers.documents import (
    AS_ADMIN,
    AS_READER,
    Api,
    copy_index,
    serving,
    upload,
    wait_job,
)
from tests.helpers.pages import article_page
from tests.live_server import live_server

ZORBLAX = b"""# Zorblax queues

## Choosing Zorblax

Zorblax is the job runner to pick when you need exactly-once delivery of webhooks on SQLite.
"""
ZORBLAX_QUESTION = "Which job runner gives exactly-once delivery of webhooks on SQLite?"


def ask(client: httpx.Client, question: str) -> dict:
    r = client.post("/v1/ask", json={"question": question})
    assert r.status_code == 200, r.text
    return r.json()


def documents(client: httpx.Client) -> list[dict]:
    r = client.get("/v1/documents")
    assert r.status_code == 200, r.text
    return r.json()["documents"]


# -- reading ------------------------------------------------------------------------------------


def test_the_list_names_every_document_with_its_shape(api: Api) -> None:
    with api.client(AS_READER) as c:
        r = c.get("/v1/documents")
    assert r.status_code == 200
    body = r.json()
    assert body["can_write"] is False  # a read key
    [doc] = body["documents"]
    assert doc["source"] == "corpus/modern-backend-frameworks-2025.md"
    assert doc["title"].startswith("Modern Backend Frameworks 2025")
    assert doc["origin"] == "file" and doc["url"] is None
    assert doc["sections"] > 10 and doc["chunks"] >= doc["sections"]
    assert doc["ingested_at"] and len(doc["digest"]) == 64
    with api.client(AS_ADMIN) as c:
        assert c.get("/v1/documents").json()["can_write"] is True


def test_a_document_reads_as_its_sections_in_order(api: Api) -> None:
    with api.client(AS_READER) as c:
        [doc] = documents(c)
        r = c.get(f"/v1/documents/{doc['id']}")
        assert r.status_code == 200
        sections = r.json()["sections"]
        assert len(sections) == doc["sections"]
        names = [s["section"] for s in sections]
        assert any("Fastify" in n for n in names)
        assert c.get("/v1/documents/dnosuchdocument0").status_code == 404


def test_reads_need_a_key_when_keys_are_set(api: Api) -> None:
    with api.client() as c:
        assert c.get("/v1/documents").status_code == 401
        assert c.get("/v1/jobs/jnothing").status_code == 401


# -- who may write ------------------------------------------------------------------------------


def test_writes_need_an_admin_key(api: Api) -> None:
    with api.client() as c:
        assert upload(c, "z.md", ZORBLAX).status_code == 401
    with api.client({"Authorization": "Bearer not-a-key-0123456789abc"}) as c:
        assert upload(c, "z.md", ZORBLAX).status_code == 401
    with api.client(AS_READER) as c:
        r = upload(c, "z.md", ZORBLAX)
        assert r.status_code == 403 and r.json()["error"]["type"] == "Forbidden"
        assert "admin key" in r.json()["error"]["message"]
        [doc] = documents(c)
        assert c.delete(f"/v1/documents/{doc['id']}").status_code == 403
        assert c.post(f"/v1/documents/{doc['id']}/refresh").status_code == 403
    assert not (api.data / "documents" / "files").exists()


def test_without_admin_keys_the_corpus_cannot_be_changed(corpus_assistant, model_cache,
                                                         tmp_path) -> None:  # fmt: skip
    data = copy_index(corpus_assistant, tmp_path)
    assistant = Assistant(make_settings(data, model_cache), embedder=corpus_assistant.embedder)
    with live_server(create_app(assistant=assistant)) as url, httpx.Client(base_url=url) as c:
        r = upload(c, "z.md", ZORBLAX)
        assert r.status_code == 403
        assert "STACKGUIDE_ADMIN_KEYS" in r.json()["error"]["message"]
        assert len(documents(c)) == 1  # reads stay open without read keys
    assistant.close()


# -- uploads ------------------------------------------------------------------------------------


def test_an_upload_is_answerable_cited_and_then_deleted(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        started = time.monotonic()
        job = wait_job(c, upload(c, "zorblax.md", ZORBLAX))
        assert job["status"] == "done", job
        assert job["kind"] == "upload" and job["progress"]["done"] == job["progress"]["total"]
        answer = ask(c, ZORBLAX_QUESTION)
        took = time.monotonic() - started
        assert not answer["refused"] and "exactly-once" in answer["answer"]
        [cited] = [x for x in answer["citations"] if x["source"] == "uploads/zorblax.md"]
        assert cited["document_id"] == job["documents"][0]
        assert took < 10, f"upload to answerable took {took:.1f} s"

        doc = c.get(f"/v1/documents/{cited['document_id']}").json()
        assert doc["document"]["title"] == "Zorblax queues"
        assert [s["section"] for s in doc["sections"]] == [cited["section"]]

        job = wait_job(c, c.delete(f"/v1/documents/{cited['document_id']}"))
        assert job["status"] == "done" and job["kind"] == "delete"
        assert all(d["source"] != "uploads/zorblax.md" for d in documents(c))
        again = ask(c, ZORBLAX_QUESTION)
        assert all(x["source"] != "uploads/zorblax.md" for x in again["citations"])
        assert not list((api.data / "documents" / "files").iterdir())  # the copy is gone


def test_uploading_a_file_again_replaces_it(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        wait_job(c, upload(c, "zorblax.md", ZORBLAX))
        newer = ZORBLAX.replace(b"on SQLite", b"on SQLite and DuckDB")
        job = wait_job(c, upload(c, "zorblax.md", newer))
        assert job["status"] == "done"
        [doc] = [d for d in documents(c) if d["source"] == "uploads/zorblax.md"]
        assert doc["chunks"] == 1
        text = c.get(f"/v1/documents/{doc['id']}").json()["sections"][0]["text"]
        assert "DuckDB" in text


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("tool.exe", b"MZ\x90\x00", 415),
        ("notes", b"# Notes\n\ntext", 415),
        ("notes.md", b"\x00\x01\x02binary" * 10, 422),
        ("empty.md", b"   \n", 422),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("latin-1"), 422),
    ],
)
def test_a_bad_upload_is_refused_and_leaves_nothing(api: Api, name, data, status) -> None:
    with api.client(AS_ADMIN) as c:
        before = documents(c)
        r = upload(c, name, data)
        assert r.status_code == status, r.text
        assert r.json()["error"]["message"]
        assert documents(c) == before
    kept = api.data / "documents"
    assert not [p for p in kept.rglob("*") if p.is_file()] if kept.exists() else True


def test_an_oversize_upload_gets_413(corpus_assistant, model_cache, tmp_path) -> None:
    with (
        serving(corpus_assistant, model_cache, tmp_path, max_upload_bytes=4096) as served,
        served.client(AS_ADMIN) as c,
    ):
        r = upload(c, "big.md", b"# Big\n\n" + b"word " * 2000)
        assert r.status_code == 413
        assert wait_job(c, upload(c, "small.md", ZORBLAX))["status"] == "done"


def test_a_path_in_the_upload_name_is_not_followed(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        job = wait_job(c, upload(c, "../../etc/zorblax.md", ZORBLAX))
        assert job["status"] == "done"
        sources = {d["source"] for d in documents(c)}
    assert "uploads/zorblax.md" in sources
    assert (api.data / "documents" / "files" / "zorblax.md").exists()


def test_a_failed_ingest_leaves_the_index_as_it_was(api: Api, monkeypatch) -> None:
    with api.client(AS_ADMIN) as c:
        wait_job(c, upload(c, "zorblax.md", ZORBLAX))
        before = documents(c)
        embedder = api.assistant.embedder

        def broken(texts):
            raise RuntimeError("the embedder fell over")

        monkeypatch.setattr(embedder, "embed", broken)
        job = wait_job(c, upload(c, "zorblax.md", ZORBLAX.replace(b"SQLite", b"Postgres")))
        assert job["status"] == "failed" and "fell over" in job["message"]
        monkeypatch.undo()
        assert documents(c) == before
        [doc] = [d for d in before if d["source"] == "uploads/zorblax.md"]
        text = c.get(f"/v1/documents/{doc['id']}").json()["sections"][0]["text"]
        assert "SQLite" in text and "Postgres" not in text
    kept = (api.data / "documents" / "files" / "zorblax.md").read_bytes()
    assert kept == ZORBLAX  # the earlier version, put back


def test_uploads_and_questions_at_once_all_succeed(api: Api) -> None:
    questions = ["What is Hono?", "Which ORM is the default for Python?", ZORBLAX_QUESTION]

    def asker(n: int) -> int:
        with api.client(AS_READER) as c:
            return c.post("/v1/ask", json={"question": questions[n % 3]}).status_code

    def uploader(n: int) -> str:
        with api.client(AS_ADMIN) as c:
            body = ZORBLAX.replace(b"Zorblax", f"Zorblax{n}".encode())
            return wait_job(c, upload(c, f"zorblax{n}.md", body))["status"]

    with ThreadPoolExecutor(8) as pool:
        asks = [pool.submit(asker, n) for n in range(12)]
        ups = [pool.submit(uploader, n) for n in range(4)]
        assert [f.result() for f in asks] == [200] * 12
        assert [f.result() for f in ups] == ["done"] * 4
    with api.client(AS_READER) as c:
        sources = {d["source"] for d in documents(c)}
    assert {f"uploads/zorblax{n}.md" for n in range(4)} <= sources


# -- article URLs and feeds ---------------------------------------------------------------------

ARTICLE = {
    "Why Quillstream": "Quillstream is the message broker we chose for ordered event replay "
    "across regions.",
    "Operating it": "Run three Quillstream nodes per region and snapshot the log hourly.",
}


def test_an_article_url_is_read_without_its_chrome_and_cited_by_url(api: Api, site) -> None:
    url = site.set("/posts/quillstream", article_page("Picking Quillstream", ARTICLE))
    with api.client(AS_ADMIN) as c:
        job = wait_job(c, c.post("/v1/documents", json={"url": url}))
        assert job["status"] == "done", job
        [doc] = [d for d in documents(c) if d["origin"] == "url"]
        assert doc["url"] == url and doc["source"] == url
        assert doc["title"] == "Picking Quillstream"
        text = " ".join(s["text"] for s in c.get(f"/v1/documents/{doc['id']}").json()["sections"])
        assert "ordered event replay" in text
        for chrome in ("cookies", "MegaCloud", "Great post", "All rights reserved", "About"):
            assert chrome not in text, chrome
        answer = ask(c, "Which message broker gives ordered event replay across regions?")
        assert any(x["source"] == url for x in answer["citations"]), answer


def test_refreshing_an_unchanged_article_does_no_embedding(api: Api, site, monkeypatch) -> None:
    url = site.set("/posts/quillstream", article_page("Picking Quillstream", ARTICLE))
    with api.client(AS_ADMIN) as c:
        wait_job(c, c.post("/v1/documents", json={"url": url}))
        [doc] = [d for d in documents(c) if d["origin"] == "url"]
        embedded: list[int] = []
        real = api.assistant.embedder.embed
        monkeypatch.setattr(api.assistant.embedder, "embed",
                            lambda texts: embedded.append(len(texts)) or real(texts))  # fmt: skip
        job = wait_job(c, c.post(f"/v1/documents/{doc['id']}/refresh"))
        assert job["status"] == "done" and "unchanged" in job["message"], job
        assert embedded == []
        assert site.downloads["/posts/quillstream"] == 1  # the 304 sent no body

        changed = dict(ARTICLE, **{"Operating it": "Run five Quillstream nodes per region."})
        site.set("/posts/quillstream", article_page("Picking Quillstream", changed))
        job = wait_job(c, c.post(f"/v1/documents/{doc['id']}/refresh"))
        assert job["status"] == "done" and embedded, job
        text = " ".join(s["text"] for s in c.get(f"/v1/documents/{doc['id']}").json()["sections"])
        assert "five Quillstream nodes" in text and "three" not in text


def test_an_article_gone_404_keeps_its_last_good_copy(api: Api, site) -> None:
    url = site.set("/posts/quillstream", article_page("Picking Quillstream", ARTICLE))
    with api.client(AS_ADMIN) as c:
        wait_job(c, c.post("/v1/documents", json={"url": url}))
        [doc] = [d for d in documents(c) if d["origin"] == "url"]
        del site.pages["/posts/quillstream"]
        job = wait_job(c, c.post(f"/v1/documents/{doc['id']}/refresh"))
        assert job["status"] == "done" and "404" in job["message"] and "kept" in job["message"]
        assert [d for d in documents(c) if d["origin"] == "url"] == [doc]


def test_a_feed_ingests_every_article_it_lists(api: Api, site) -> None:
    one = site.set("/posts/one", article_page("Part one: Quillstream", ARTICLE))
    two = site.set("/posts/two", article_page("Part two: Quillstream at scale", {
        "Scaling": "Quillstream partitions scale to forty thousand events per second.",
    }))  # fmt: skip
    rss = f"""<?xml version="1.0"?><rss version="2.0"><channel><title>Quillstream series</title>
<link>{site.base}</link><description>d</description>
<item><title>one</title><link>{one}</link></item>
<item><title>two</title><link>{two}</link></item></channel></rss>"""
    feed = site.set("/rss", rss, content_type="application/rss+xml")
    with api.client(AS_ADMIN) as c:
        job = wait_job(c, c.post("/v1/documents", json={"feed": feed}))
        assert job["status"] == "done" and job["kind"] == "feed", job
        articles = [d for d in documents(c) if d["origin"] == "url"]
        assert {d["url"] for d in articles} == {one, two}
        assert len(job["documents"]) == 2
        assert {d["work"] for d in articles} == {"Quillstream series"}  # the feed is one work

        # refreshing one article keeps it in its series
        [first] = [d for d in articles if d["url"] == one]
        site.set("/posts/one", article_page("Part one: Quillstream", {"Why": "Replay."}))
        assert wait_job(c, c.post(f"/v1/documents/{first['id']}/refresh"))["status"] == "done"
        assert {d["work"] for d in documents(c) if d["origin"] == "url"} == {"Quillstream series"}


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1/x",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:9/",
        "http://[::1]/",
        "http://2130706433/",
        "not a url",
    ],
)
def test_private_and_odd_urls_are_refused_unless_allowed(
    corpus_assistant, model_cache, tmp_path, url
) -> None:
    with (
        serving(corpus_assistant, model_cache, tmp_path, fetch_allow_private=False) as served,
        served.client(AS_ADMIN) as c,
    ):
        r = c.post("/v1/documents", json={"url": url})
        assert r.status_code == 422, r.text
        assert r.json()["error"]["message"]
        assert len(documents(c)) == 1


def test_a_bad_document_request_is_a_clear_error(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        assert c.post("/v1/documents", json={}).status_code == 422
        assert (
            c.post("/v1/documents", json={"url": "https://a.example", "feed": "x"}).status_code
            == 422
        )
        assert c.post("/v1/documents", json={"path": "/etc/passwd"}).status_code == 422
        assert c.post("/v1/documents", content=b"hello",
                      headers={"Content-Type": "text/plain"}).status_code == 415  # fmt: skip
        r = c.post("/v1/documents", files={"other": ("z.md", ZORBLAX)})
        assert r.status_code == 422 and "`file`" in r.json()["error"]["message"]
        assert c.get("/v1/jobs/jnosuchjob").status_code == 404
