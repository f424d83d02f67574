"""A red-team pass over the corpus as a product surface: the documents API, guarded URL and
feed fetching, and every place a document's own words are shown (web Sources panel and
document view, Slack `/stackguide sources`, `stackguide sources`).

The rules: only an admin key changes the corpus, keys are compared in constant time; an
upload's name never leads out of the uploads folder; hostile files (YAML bombs, PDF bombs,
odd multipart) are refused plainly and quickly, never as a 500; a fetch never reaches a
private address, however it is led there (a redirect on refresh, a host that now resolves to
loopback, a feed that lists such URLs); a feed or sitemap costs a bounded number of fetches;
a document's title and text are shown as text, never as markup or terminal control codes;
a removed document stays removed.

Every weakness this pass found is fixed and its test passes. Real servers only, all on
127.0.0.1: the app under uvicorn, sites from tests/helpers/pages.py or a routed one
here. A fake public name (blog.example) resolves to a public address whose sockets are
carried to 127.0.0.1, so the fetch guard runs as it would on the internet.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from assistant.documents.jobs import Outcome
from assistant.errors import FetchError
from assistant.server import middleware
from assistant.server.app import create_app
from assistant.service import Assistant
from ingest.fetch import FetchPolicy, fetch
from tests.conftest import make_settings
from tests.helpers.documents import (
    ADMIN,
    AS_ADMIN,
    AS_READER,
    READER,
    Api,
    copy_index,
    serving,
    upload,
    wait_job,
)
from tests.helpers.network import PUBLIC_IP, Network, public_names
from tests.helpers.pages import Site, article_page
from tests.live_server import live_server

PUBLIC_NAME = "blog.example"
METADATA = "http://169.254.169.254/latest/meta-data/"
REAL_PAGE = Path(__file__).parents[1] / "pages" / "blog-choosing-a-message-queue.html"

NOTE = b"""# Zorblax queues

## Choosing Zorblax

Zorblax is the job runner to pick when you need exactly-once delivery of webhooks on SQLite.
"""
ARTICLE = {
    "Why Quillstream": "Quillstream is the message broker we chose for ordered event replay "
    "across regions, after a year of running two others side by side.",
}
# Markup and control codes a document may carry into every place that shows it.
HOSTILE = (
    b'---\ntitle: "<img src=x onerror=window.__xss=1> <!channel> <https://evil.example|win>'
    b' \\e]52;c;ZXZpbA==\\a\\e[2J"\n---\n'
    b"# <script>window.__xss=2</script> Zorblax\n\n"
    b"## <img src=x onerror=window.__xss=3> Choosing Zorblax\n\n"
    b"Zorblax gives exactly-once webhooks. [Read more](javascript:window.__xss=4) and "
    b'<a href="javascript:window.__xss=5">this</a> <img src=x onerror=window.__xss=6>.\n'
)


# -- the app over real HTTP, on a copy of the corpus index --------------------------------------


def documents(client: httpx.Client) -> list[dict]:
    r = client.get("/v1/documents")
    assert r.status_code == 200, r.text
    return r.json()["documents"]


def kept_files(data: Path) -> list[Path]:
    root = data / "documents"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


# -- the same service without HTTP (jobs run in the test's thread with wait=True) ----------------


@pytest.fixture
def service(corpus_assistant, model_cache, tmp_path) -> Callable[..., Assistant]:
    made: list[Assistant] = []

    def make(**extra) -> Assistant:
        data = copy_index(corpus_assistant, tmp_path / f"s{len(made)}")
        options = {"admin_keys": [ADMIN], "index_check_s": 0, **extra}
        made.append(Assistant(make_settings(data, model_cache, **options),
                              embedder=corpus_assistant.embedder))  # fmt: skip
        return made[-1]

    yield make
    for assistant in made:
        assistant.close()


def finished(assistant: Assistant, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while not (job := assistant.documents.job(job_id)).finished:
        assert time.monotonic() < deadline, job
        time.sleep(0.02)
    return job.to_dict()


# -- a public web site, as the fetch guard sees it ----------------------------------------------


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    """blog.example resolves to a public address whose sockets reach 127.0.0.1 (same port);
    every connect is recorded; other names resolve as usual (loopback only, by conftest)."""
    return public_names(monkeypatch, {PUBLIC_NAME: PUBLIC_IP})


def public(site_url: str) -> str:
    """The same local site, named as a public web site."""
    return site_url.replace("127.0.0.1", PUBLIC_NAME)


Route = Callable[[str], tuple[int, dict[str, str], bytes]]


@contextmanager
def routed_site(route: Route) -> Iterator[tuple[str, list[str]]]:
    """A site on 127.0.0.1 whose every answer `route(path)` makes; the paths asked, in order."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            asked.append(self.path)
            status, headers, body = route(self.path)
            self.send_response(status)
            for name, value in {"Content-Length": str(len(body)), **headers}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", asked
    finally:
        server.shutdown()
        server.server_close()


# == who may change the corpus ==================================================================


def test_a_read_key_is_refused_on_every_write_route(api: Api, site: Site) -> None:
    url = site.set("/posts/q", article_page("Picking Quillstream", ARTICLE))
    with api.client(AS_READER) as c:
        [doc] = documents(c)
    writes = [
        ("POST", "/v1/documents", {"files": {"file": ("z.md", NOTE)}}),
        ("POST", "/v1/documents", {"json": {"url": url}}),
        ("POST", "/v1/documents", {"json": {"feed": url}}),
        ("DELETE", f"/v1/documents/{doc['id']}", {}),
        ("POST", f"/v1/documents/{doc['id']}/refresh", {}),
    ]
    as_reader = [AS_READER, {"X-API-Key": READER},
                 {"Authorization": f"Bearer {READER}", "X-API-Key": ADMIN}]  # fmt: skip
    for headers in as_reader:
        with api.client(headers) as c:
            for method, path, body in writes:
                r = c.request(method, path, **body)
                assert r.status_code == 403, (headers, method, path, r.text)
    not_keys = [{}, {"Authorization": f"Bearer {ADMIN[:-1]}"}, {"Authorization": ADMIN},
                {"X-API-Key": f"{ADMIN} "[:-2]}]  # fmt: skip
    for headers in not_keys:
        with api.client(headers) as c:
            r = c.post("/v1/documents", params={"api_key": ADMIN}, files={"file": ("z.md", NOTE)})
            assert r.status_code == 401, (headers, r.text)
    assert not kept_files(api.data) and site.downloads == {}
    with api.client(AS_READER) as c:
        assert documents(c) == [doc]


def test_every_key_is_compared_in_constant_time(monkeypatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = middleware.secrets.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(middleware.secrets, "compare_digest", counting)
    keys = [ADMIN, "second-admin-key-0123456789", "third-admin-key-0123456789"]
    assert middleware._matching(ADMIN, keys)  # the first one matches …
    assert len(compared) == 3  # … and every other one is still compared: no early exit
    compared.clear()
    assert not middleware._matching("x" * len(ADMIN), keys)
    assert [b for _, b in compared] == [k.encode() for k in keys]


# == uploads ====================================================================================


def raw_upload(client: httpx.Client, filename: bytes, data: bytes) -> httpx.Response:
    """A multipart upload whose file name is sent byte for byte as given."""
    body = (b'--B0undary\r\nContent-Disposition: form-data; name="file"; filename="' + filename
            + b'"\r\nContent-Type: text/markdown\r\n\r\n' + data + b"\r\n--B0undary--\r\n")  # fmt: skip
    return client.post("/v1/documents", content=body,
                       headers={"Content-Type": "multipart/form-data; boundary=B0undary"})  # fmt: skip


def test_an_upload_name_never_leads_out_of_the_uploads_folder(api: Api, tmp_path) -> None:
    escape = tmp_path / "escaped.md"
    # what is kept: the last path part; a name that had to be changed to be safe gets a
    # tag of the name given, so two names never become one copy
    tagged = r"-[0-9a-f]{8}\.md"
    names = {
        f"../../../../../..{escape}".encode(): re.escape("escaped.md"),
        str(escape).encode(): re.escape("escaped.md"),
        b"C:\\Windows\\System32\\evil.md": re.escape("evil.md"),
        b".hidden.md": "hidden" + tagged,
        "\u202egpj.md".encode(): "_gpj" + tagged,  # a right-to-left override hiding the type
        b"nul\x00byte.md": "nul_byte" + tagged,
        b"x" * 600 + b".md": "x" * 108 + tagged,
    }
    with api.client(AS_ADMIN) as c:
        for raw, kept in names.items():
            job = wait_job(
                c, raw_upload(c, raw, NOTE.replace(b"Zorblax", raw.hex()[-20:].encode()))
            )
            assert job["status"] == "done", (raw, job)
            [doc] = [d for d in documents(c) if d["id"] == job["documents"][0]]
            assert re.fullmatch(f"uploads/{kept}", doc["source"]), (raw, doc["source"])
        for raw in (b"index.lock", b"..", b".md", b"serving.lock", b"y" * 5000 + b".md"):
            r = raw_upload(c, raw, NOTE)
            assert r.status_code in (400, 415, 422) and r.json()["error"]["message"], (raw, r.text)
    files = api.data / "documents" / "files"
    assert {p.parent for p in kept_files(api.data)} == {files}  # nothing staged is left
    assert len(list(files.iterdir())) == len(set(names.values()))
    assert not escape.exists()


def test_distinct_upload_names_never_share_one_copy(api: Api) -> None:
    long = "quarterly-report-of-the-platform-team-" * 4
    pairs = [("what?.md", "what*.md"), (f"{long}january.md", f"{long}february.md")]
    with api.client(AS_ADMIN) as c:
        for first, second in pairs:
            body = NOTE.replace(b"Zorblax", b"Zorblax" + first.encode()[-12:])
            assert wait_job(c, upload(c, first, body))["status"] == "done"
            r = upload(c, second, NOTE)
            refused = r.status_code == 409
            assert refused or wait_job(c, r)["status"] == "done", r.text
            kept = " ".join(
                s["text"] for d in documents(c) if d["source"].startswith("uploads/")
                for s in c.get(f"/v1/documents/{d['id']}").json()["sections"]
            )  # fmt: skip
            # the first upload is still in the corpus, whatever became of the second
            assert first.encode()[-12:].decode() in kept, (first, second)


def test_odd_multipart_is_a_plain_4xx_and_keeps_nothing(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        two = c.post("/v1/documents", files=[("file", ("a.md", NOTE)), ("file", ("b.md", NOTE))])
        nameless = c.post("/v1/documents", files={"file": (None, NOTE)})
        lying = c.post("/v1/documents", files={"file": ("z.pdf", NOTE, "application/pdf")})
        png_as_md = c.post("/v1/documents", files={"file": ("z.md", b"\x89PNG\r\n\x1a\n" * 99)})
        before = len(documents(c))
    for r in (two, nameless, lying, png_as_md):
        assert 400 <= r.status_code < 500 and r.json()["error"]["message"], r.text
    assert before == 1 and not kept_files(api.data)


@pytest.mark.parametrize(
    "front",
    [
        # a billion laughs: aliases of aliases
        "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\ntitle: [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
        "title: !!python/object/apply:os.system ['touch /tmp/stackguide-pwned']",
        "title: [unclosed",
    ],
    ids=["aliases", "python-tag", "broken"],
)
def test_a_front_matter_bomb_is_refused_plainly(api: Api, front: str) -> None:
    with api.client(AS_ADMIN) as c:
        r = upload(c, "bomb.md", f"---\n{front}\n---\n".encode() + NOTE)
    assert r.status_code == 422, r.text
    assert "front matter" in r.json()["error"]["message"]
    assert not kept_files(api.data) and not Path("/tmp/stackguide-pwned").exists()


def test_deeply_nested_front_matter_is_refused_plainly(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        r = upload(c, "deep.md", b"---\ntitle: " + b"[" * 5000 + b"]" * 5000 + b"\n---\n" + NOTE)
    assert r.status_code == 422, r.text
    assert not kept_files(api.data)


def pdf_with_pages(content: bytes, pages: int = 1) -> bytes:
    """A PDF of `pages` pages that all draw one content stream, `content` deflated."""
    stream = zlib.compress(content, 9)
    contents, font = pages + 3, pages + 4
    kids = b" ".join(b"%d 0 R" % (3 + n) for n in range(pages))
    page = (b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
            b" /Resources << /Font << /F1 %d 0 R >> >> >>" % (contents, font))  # fmt: skip
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%b] /Count %d >>" % (kids, pages),
        *[page] * pages,
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n%b\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%b\nendobj\n" % (n, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_a_pdf_that_inflates_past_the_limit_is_refused_at_once(api: Api) -> None:
    page = b"BT /F1 12 Tf 72 720 Td (Zorblax) Tj ET\n" + b" " * 90_000_000
    bomb = pdf_with_pages(page)
    assert len(bomb) < 200_000  # 90 MB once inflated
    with api.client(AS_ADMIN) as c:
        started = time.monotonic()
        r = upload(c, "bomb.pdf", bomb)
        took = time.monotonic() - started
    assert r.status_code == 422 and "PDF" in r.json()["error"]["message"], r.text
    assert took < 5, f"{took:.1f} s to refuse a PDF bomb"
    assert not kept_files(api.data)


_READ_PDF = """
import sys
from pathlib import Path
from ingest.loaders import load
try:
    load(Path(sys.argv[1]), "uploads/slow.pdf")
except Exception as exc:
    print(type(exc).__name__)
"""


def test_a_small_pdf_is_read_or_refused_in_bounded_time(tmp_path) -> None:
    slow = tmp_path / "slow.pdf"
    ops = b"BT /F1 12 Tf 72 720 Td " + b"(x) Tj " * 900_000 + b"ET"
    slow.write_bytes(pdf_with_pages(ops, pages=30))
    assert slow.stat().st_size < 30_000
    # in a process of its own, so a hang is killed, not left running beside other tests
    try:
        subprocess.run([sys.executable, "-c", _READ_PDF, str(slow)], timeout=8, check=True,
                       cwd=Path(__file__).parents[2], capture_output=True)  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail("reading a 20 KB PDF took more than 8 s")


# == JSON bodies ================================================================================


def test_a_deeply_nested_json_body_is_a_plain_422(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        r = c.post("/v1/documents", content=b'{"url": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                   headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 422, r.text


def test_a_json_body_gets_the_json_limit_not_the_upload_limit(api: Api) -> None:
    limit = api.assistant.settings.max_body_bytes
    url = "http://127.0.0.1:9/" + "a" * (limit * 4)
    with api.client(AS_ADMIN) as c:
        r = c.post("/v1/documents", json={"url": url})
    assert r.status_code == 413, r.status_code


# == reading: ids ===============================================================================


def test_job_ids_are_unguessable_and_probes_are_plain_404s(api: Api) -> None:
    with api.client(AS_ADMIN) as c:
        jobs = [wait_job(c, upload(c, f"z{n}.md", NOTE)) for n in range(2)]
    ids = [j["id"] for j in jobs]
    for job_id in ids:
        assert re.fullmatch(r"j[0-9a-f]{20}", job_id), job_id  # 80 random bits
    assert ids[0][1:9] != ids[1][1:9]  # random, not a counter or a clock
    for job in jobs:  # what a read key may see of a job holds no server path
        assert str(api.data) not in json.dumps(job) and "/tmp" not in json.dumps(job)
    probes = ["j" + "0" * 20, ids[0][:-1], ids[0] + "0", "..%2F..%2Fetc%2Fpasswd", "%00",
              "' OR '1'='1", "j" * 5000, "☃"]  # fmt: skip
    with api.client(AS_READER) as c:
        for probe in probes:
            for path in (f"/v1/jobs/{probe}", f"/v1/documents/{probe}"):
                r = c.get(path)
                assert r.status_code == 404 and r.json()["error"]["message"], (path, r.text)
    with api.client(AS_ADMIN) as c:
        for probe in probes:
            assert c.delete(f"/v1/documents/{probe}").status_code == 404, probe
            assert c.post(f"/v1/documents/{probe}/refresh").status_code == 404, probe


# == what a document's words may do where they are shown ========================================


def test_slack_sources_shows_titles_as_text(service) -> None:
    from assistant.slack.handlers import SlackBot

    assistant = service()
    assert assistant.documents.add_file("hostile.md", HOSTILE, wait=True).status == "done"
    shown: list[dict] = []
    SlackBot(assistant).on_command(lambda **m: shown.append(m), {"text": "sources"}, None)
    [message] = shown
    text = json.dumps(message)
    assert "&lt;!channel&gt;" in message["text"] and "&lt;img" in message["text"]
    for markup in ("<!channel>", "<https://evil", "<img", "<script"):
        assert markup not in text, markup


def test_cli_sources_prints_no_terminal_control_codes(corpus_assistant, model_cache,
                                                      tmp_path) -> None:  # fmt: skip
    data = copy_index(corpus_assistant, tmp_path)
    folder = tmp_path / "hostile"
    folder.mkdir()
    (folder / "hostile.md").write_bytes(HOSTILE)
    env = {"STACKGUIDE_MODEL_CACHE_DIR": str(model_cache)}
    runner = CliRunner()
    base = ["--data-dir", str(data)]
    assert runner.invoke(cli_group(), [*base, "ingest", str(folder)], env=env).exit_code == 0
    listed = runner.invoke(cli_group(), [*base, "sources"], env=env, color=True)  # a terminal
    assert listed.exit_code == 0, listed.output
    assert "Zorblax" in listed.output or "img" in listed.output
    controls = [c for c in listed.output if ord(c) < 32 and c not in "\n\t"]
    assert not controls, repr(listed.output)


def cli_group():
    from assistant.cli import cli

    return cli


@pytest.mark.slow
def test_the_web_page_shows_a_hostile_document_as_text(api: Api, tmp_path) -> None:
    from tests.test_web_page import _chrome, _ensure_chromium

    _ensure_chromium()
    pytest.importorskip("selenium")
    with api.client(AS_ADMIN) as c:
        job = wait_job(c, upload(c, "hostile.md", HOSTILE))
    assert job["status"] == "done", job
    driver = _chrome(tmp_path / "profile", 1280, 900)
    try:
        driver.get(f"{api.url}/")
        driver.execute_script(  # the reader's key, as the page keeps it once typed
            "sessionStorage.setItem('stackguide.apiKey', arguments[0]);"
            "sessionStorage.setItem('stackguide.adminKey', arguments[0]);", ADMIN)  # fmt: skip
        driver.get(f"{api.url}/#document={job['documents'][0]}")
        shown = _until(driver, "return document.querySelectorAll('#document-sections h3').length")
        assert shown, "the document view never showed the sections"
        driver.execute_script("document.getElementById('document-dialog').close()")
        driver.find_element("css selector", "#open-sources").click()
        _until(driver, "return document.querySelectorAll('#sources-dialog .doc').length > 1")
        state = driver.execute_script("""
            const dialogs = [...document.querySelectorAll('dialog')];
            return {
              xss: window.__xss === undefined ? null : window.__xss,
              injected: dialogs.flatMap((d) => [...d.querySelectorAll('img, script, iframe')])
                .length,
              hrefs: dialogs.flatMap((d) => [...d.querySelectorAll('a[href]')])
                .map((a) => a.getAttribute('href')),
              titles: [...document.querySelectorAll('#sources-dialog .doc-open')]
                .map((a) => a.textContent),
            };""")
    finally:
        driver.quit()
    assert state["xss"] is None and state["injected"] == 0, state
    assert all(re.match(r"^(#|https?://)", h) for h in state["hrefs"]), state["hrefs"]
    assert any("<img src=x onerror" in t for t in state["titles"]), state["titles"]


def _until(driver, script: str, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while not (value := driver.execute_script(script)):
        if time.monotonic() > deadline:
            return value
        time.sleep(0.1)
    return value


# == removing stays removed =====================================================================


def _held_worker(assistant: Assistant) -> threading.Event:
    """Occupy the one job thread until the event is set: jobs queue behind it, in order."""
    gate = threading.Event()
    assistant.documents.jobs.submit("upload", lambda progress: (gate.wait(30), Outcome("held"))[1])
    return gate


@pytest.mark.parametrize(
    "origin",
    [
        "url",
        "upload",
    ],
)  # fmt: skip
def test_a_delete_is_not_undone_by_a_refresh_queued_behind_it(service, site: Site,
                                                              origin: str) -> None:  # fmt: skip
    assistant = service(fetch_allow_private=True)
    docs = assistant.documents
    if origin == "url":
        url = site.set("/posts/q", article_page("Picking Quillstream", ARTICLE))
        job = docs.add_url(url, wait=True)
    else:
        job = docs.add_file("zorblax.md", NOTE, wait=True)
    assert job.status == "done", job
    [doc_id] = job.documents
    gate = _held_worker(assistant)
    delete, refresh = docs.remove(doc_id), docs.refresh(doc_id)
    gate.set()
    assert finished(assistant, delete.id)["status"] == "done"
    finished(assistant, refresh.id)
    assert doc_id not in {d.id for d in docs.list()}, "the removed document is back"
    assert not kept_files(assistant.settings.data_dir)


def test_an_api_delete_keeps_corpus_files_and_a_rebuild_keeps_deleted_uploads_out(
    embedder, model_cache, tmp_path
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "handbook.md").write_bytes(NOTE.replace(b"Zorblax", b"Handbook"))
    data = tmp_path / "data"
    settings = make_settings(data, model_cache, corpus_dir=corpus, admin_keys=[ADMIN],
                             index_check_s=0)  # fmt: skip
    assistant = Assistant(settings, embedder=embedder)
    assert assistant.ingest().ok
    with (
        live_server(create_app(assistant=assistant)) as url,
        httpx.Client(base_url=url, headers=AS_ADMIN, timeout=60) as c,
    ):
        for name in ("kept.md", "gone.md"):
            assert wait_job(c, upload(c, name, NOTE))["status"] == "done"
        for doc in documents(c):
            if doc["source"] != "uploads/kept.md":
                assert wait_job(c, c.delete(f"/v1/documents/{doc['id']}"))["status"] == "done"
        assert [d["source"] for d in documents(c)] == ["uploads/kept.md"]
    assistant.close()
    assert (corpus / "handbook.md").exists()  # the API never deletes a file it did not keep
    env = {"STACKGUIDE_MODEL_CACHE_DIR": str(model_cache), "STACKGUIDE_CORPUS_DIR": str(corpus)}
    rebuilt = CliRunner().invoke(cli_group(), ["--data-dir", str(data), "ingest", "--rebuild"],
                                 env=env)  # fmt: skip
    assert rebuilt.exit_code == 0, rebuilt.output
    listed = CliRunner().invoke(cli_group(), ["--data-dir", str(data), "sources", "--json"],
                                env=env)  # fmt: skip
    sources = {d["source"] for d in json.loads(listed.stdout)["documents"]}
    assert "uploads/kept.md" in sources and "uploads/gone.md" not in sources
    assert any(s.endswith("handbook.md") for s in sources)  # a corpus file comes back


# == fetching: never a private address ==========================================================


@pytest.mark.parametrize("move", ["redirect-to-metadata", "name-now-loopback"])
def test_a_refresh_led_to_a_private_address_is_refused_and_keeps_the_copy(
    service, site: Site, network: Network, move: str
) -> None:
    assistant = service(fetch_allow_private=False)
    url = public(site.set("/posts/q", article_page("Picking Quillstream", ARTICLE)))
    job = assistant.documents.add_url(url, wait=True)
    assert job.status == "done", job
    [doc_id] = job.documents
    if move == "redirect-to-metadata":
        site.set("/posts/q", b"", status=302, location=METADATA)
    else:  # DNS rebinding: the same name now points inside
        network.names[PUBLIC_NAME] = "127.0.0.1"
    network.connects.clear()
    refreshed = assistant.documents.refresh(doc_id, wait=True)
    assert refreshed.status == "failed", refreshed
    assert "STACKGUIDE_FETCH_ALLOW_PRIVATE" in refreshed.message, refreshed.message
    assert network.addresses <= {PUBLIC_IP}  # nothing inside was ever connected to
    _, sections = assistant.documents.get(doc_id)
    assert "ordered event replay" in " ".join(s.text for s in sections)  # the last good copy


def test_urls_with_credentials_odd_hosts_or_private_addresses_are_refused_at_once(
    corpus_assistant, model_cache, tmp_path, network: Network
) -> None:
    refused = [
        f"http://user:secret@{PUBLIC_NAME}/post",
        f"http://{PUBLIC_NAME}@127.0.0.1/",
        "http://ⓛocalhost/",  # an IDN that folds to localhost
        "http://１２７.０.０.１/",  # full-width digits
        "http://0x7f.1/",
        "http://[::ffff:169.254.169.254]/",
        "http://[64:ff9b::a9fe:a9fe]/",  # NAT64 of 169.254.169.254
        "javascript:alert(1)",
        "gopher://127.0.0.1:6379/_FLUSHALL",
    ]
    with (
        serving(corpus_assistant, model_cache, tmp_path, fetch_allow_private=False) as served,
        served.client(AS_ADMIN) as c,
    ):
        for url in refused:
            for kind in ("url", "feed"):
                r = c.post("/v1/documents", json={kind: url})
                assert r.status_code == 422, (url, r.text)
                assert r.json()["error"]["message"], url
        assert len(documents(c)) == 1
    assert network.addresses <= {PUBLIC_IP, "127.0.0.1"}
    assert not kept_files(served.data)


# == feeds and sitemaps: bounded ================================================================


def test_a_feed_listing_private_urls_fetches_none_of_them(service, network: Network) -> None:
    def route(path: str):
        if path == "/rss":
            return 200, {"Content-Type": "application/rss+xml"}, rss
        if path == "/hop":
            return 302, {"Location": f"{local}/secret"}, b""
        return 200, {"Content-Type": "text/html"}, b"<p>secret</p>"

    with routed_site(route) as (local, asked):
        port = local.rsplit(":", 1)[1]
        inside = [f"{local}/secret", f"http://localhost:{port}/secret", METADATA,
                  f"http://[::1]:{port}/secret", "http://10.0.0.1/", f"http://2130706433:{port}/",
                  f"{public(local)}/hop"]  # fmt: skip
        items = "".join(f"<item><title>t</title><link>{u}</link></item>" for u in inside)
        rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Inside</title>'
               f"<link>{public(local)}</link><description>d</description>{items}"
               "</channel></rss>").encode()  # fmt: skip
        assistant = service(fetch_allow_private=False)
        job = assistant.documents.add_feed(f"{public(local)}/rss", wait=True)
    assert job.status == "failed", job
    assert "/secret" not in asked, asked  # only the feed and the public hop were asked
    assert network.addresses <= {PUBLIC_IP}
    assert job.message.count("STACKGUIDE_FETCH_ALLOW_PRIVATE") >= len(inside) - 1, job.message


def test_a_feed_of_ten_thousand_links_reads_only_the_cap(service) -> None:
    def route(path: str):
        if path == "/rss":
            return 200, {"Content-Type": "application/rss+xml"}, rss
        n = path.rsplit("/", 1)[1]
        page = article_page(f"Part {n}: Quillstream", {f"Part {n}": ARTICLE["Why Quillstream"]})
        return 200, {"Content-Type": "text/html"}, page.encode()

    with routed_site(route) as (local, asked):
        items = "".join(f"<item><title>{n}</title><link>{local}/posts/{n}</link></item>"
                        for n in range(10_000))  # fmt: skip
        rss = (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Many</title>'
               f"<link>{local}</link><description>d</description>{items}</channel></rss>"
               ).encode()  # fmt: skip
        assistant = service(fetch_allow_private=True, feed_max_articles=3)
        started = time.monotonic()
        job = assistant.documents.add_feed(f"{local}/rss", wait=True)
        took = time.monotonic() - started
    assert job.status == "done", job
    assert asked == ["/rss", "/posts/0", "/posts/1", "/posts/2"]
    assert len(job.documents) == 3 and took < 10


def _sitemap_index(*locations: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locations)
    return (b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
            b'sitemap/0.9">' + entries.encode() + b"</sitemapindex>")  # fmt: skip


def _urlset(*locations: str) -> bytes:
    entries = "".join(f"<url><loc>{loc}</loc></url>" for loc in locations)
    return (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + entries.encode() + b"</urlset>")  # fmt: skip


def test_a_sitemap_index_loop_reads_each_sitemap_once(service) -> None:
    real = REAL_PAGE.read_bytes()

    def route(path: str):
        xml = {"Content-Type": "application/xml"}
        if path == "/a.xml":
            return 200, xml, _sitemap_index(f"{local}/b.xml", f"{local}/a.xml")
        if path == "/b.xml":
            return 200, xml, _sitemap_index(f"{local}/a.xml", f"{local}/pages.xml")
        if path == "/pages.xml":
            return 200, xml, _urlset(f"{local}/post", f"{local}/a.xml#again")
        return 200, {"Content-Type": "text/html"}, real

    with routed_site(route) as (local, asked):
        assistant = service(fetch_allow_private=True)
        job = assistant.documents.add_feed(f"{local}/a.xml", wait=True)
    assert sorted(asked) == sorted(["/a.xml", "/b.xml", "/pages.xml", "/post", "/a.xml"]), asked
    assert job.status == "done" and len(job.documents) == 1, job


def test_a_sitemap_index_that_never_ends_costs_a_bounded_number_of_fetches(service) -> None:
    served_up_to = 150

    def route(path: str):
        n = int(path.rsplit("/", 1)[1])
        if n >= served_up_to:
            return 404, {}, b""
        return 200, {"Content-Type": "application/xml"}, _sitemap_index(f"{local}/s/{n + 1}")

    with routed_site(route) as (local, asked):
        assistant = service(fetch_allow_private=True, feed_max_articles=5)
        job = assistant.documents.add_feed(f"{local}/s/0", wait=True)
    assert job.finished
    assert len(asked) < 50, f"{len(asked)} sitemaps fetched for a feed of at most 5 articles"


# == fetching: bounded bodies ===================================================================


def test_a_gzip_bomb_page_is_cut_at_the_byte_cap() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = b"\0" * 1_000_000
    bomb = b"".join(packer.compress(zeros) for _ in range(200)) + packer.flush()  # 200 MB
    gz = {"Content-Type": "text/html", "Content-Encoding": "gzip"}
    with routed_site(lambda path: (200, gz, bomb)) as (local, asked):
        started = time.monotonic()
        with pytest.raises(FetchError, match="larger than"):
            fetch(f"{local}/bomb", FetchPolicy(allow_private=True, max_bytes=1_000_000))
    assert time.monotonic() - started < 5 and asked == ["/bomb"]


def test_a_page_of_deeply_nested_divs_is_read_or_refused_quickly(service, site: Site) -> None:
    text = "<p>" + ARTICLE["Why Quillstream"] * 3 + "</p>"
    deep = "<html><body>" + "<div>" * 400_000 + text + "</div>" * 400_000 + "</body></html>"
    url = site.set("/deep", deep)
    assistant = service(fetch_allow_private=True, fetch_max_bytes=6_000_000)
    started = time.monotonic()
    job = assistant.documents.add_url(url, wait=True)
    assert time.monotonic() - started < 10
    assert job.status == "done" or "no article text" in job.message, job
