"""The web page's Sources panel and document view, driven end to end in a real headless Chromium.

The browser talks to the real app (uvicorn on 127.0.0.1, a data directory of its own with the
bundled corpus ingested, extractive backend, one read key and one admin key): the panel lists the
corpus for any reader, admin controls appear only for an admin key, an uploaded file is followed
to the end of its job and then answers cite it, a citation opens its document at the cited
section, a shared `#document=…&section=…` link does too, a delete asks first, and refusals are
shown in plain words. Screenshots go to evals/reports/screenshots/ for a person to look at.
"""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.server.app import create_app
from tests.conftest import make_settings
from tests.live_server import live_server
from tests.test_web_page import WAIT_S, _ask, _chrome, _ensure_chromium, _screenshot

os.environ.setdefault("SE_AVOID_STATS", "true")  # selenium: no usage statistics sent

READ_KEY = "sources-read-key-0123456789"
ADMIN_KEY = "sources-admin-key-0123456789"
JOB_WAIT_S = 90  # an upload is parsed, embedded and indexed on a shared 2-core machine
CORPUS_TITLE = "Modern Backend Frameworks 2025"
CORPUS_SOURCE = "corpus/modern-backend-frameworks-2025.md"
NOTE = """\
# Quokka Queue operations notes

## Overview

Quokka Queue is the background job runner of the billing team. It keeps its jobs in PostgreSQL.

## Retry policy

Quokka Queue retries a failed job exactly seventeen times, waiting 90 seconds between attempts,
before it parks the job in the graveyard table.

## Dashboards

The queue depth and the graveyard size are charted on the billing operations dashboard.
"""


# -- a server with a corpus of its own (this module changes it) and a browser --------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, model_cache: Path, embedder) -> Iterator[str]:
    _ensure_chromium()
    pytest.importorskip("selenium")
    from assistant.service import Assistant

    settings = make_settings(
        tmp_path_factory.mktemp("web-sources"), model_cache,
        api_keys=[READ_KEY], admin_keys=[ADMIN_KEY],
    )  # fmt: skip
    assistant = Assistant(settings, embedder=embedder)
    assert assistant.ingest().ok
    with live_server(create_app(settings, assistant)) as url:
        yield f"{url}/"


@pytest.fixture
def desktop(site: str, tmp_path: Path):
    driver = _chrome(tmp_path / "profile", 1280, 900)
    yield driver
    driver.quit()


def _get_json(url: str, key: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=WAIT_S) as response:
        return json.load(response)


# -- steps a person takes ---------------------------------------------------------------------


def _wait(driver, condition, timeout: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(condition)


def _find(driver, css: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, css)


def _shown(driver, css: str):
    """The first element matching `css` once it is displayed."""
    return _wait(driver, lambda d: next((e for e in _find(d, css) if e.is_displayed()), False))


def _is_open(driver, dialog_id: str) -> bool:
    return driver.execute_script("return document.getElementById(arguments[0]).open", dialog_id)


def _open_sources(driver) -> None:
    _shown(driver, "#open-sources").click()
    _wait(driver, lambda d: _is_open(d, "sources-dialog"))
    assert driver.execute_script(
        "return document.getElementById('sources-dialog').contains(document.activeElement)"
    ), "focus moves into the panel"


def _give_read_key(driver, slot: str) -> None:
    """The server answered 401: the panel asks for the API key, the chat's own."""
    box = _shown(driver, f"#{slot} input[type=password]")
    box.send_keys(READ_KEY + "\n")


def _rows(driver) -> dict[str, object]:
    """The listed documents by title."""
    return {e.find_element("css selector", ".doc-open").text: e for e in _find(driver, ".doc")}


def _give_admin_key(driver, key: str) -> None:
    _shown(driver, "#admin-key").send_keys(key + "\n")


def _press_escape(driver) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    ActionChains(driver).send_keys(Keys.ESCAPE).perform()


def _finished_job(driver, timeout: float = JOB_WAIT_S):
    """Wait for the job shown in the panel to end; the box that shows it."""
    _wait(
        driver,
        lambda d: _find(d, "#job")[0].get_attribute("data-status") in ("done", "failed"),
        timeout,
    )
    return _find(driver, "#job")[0]


def _upload(driver, path: Path):
    _shown(driver, "#upload-file").send_keys(str(path))
    _find(driver, "#upload-send")[0].click()
    return _finished_job(driver)


def _cited_section(driver):
    """The document view once it shows a highlighted section."""
    _wait(driver, lambda d: _is_open(d, "document-dialog"))
    return _shown(driver, "#document-sections .doc-section.cited")


def _in_view(driver, element) -> bool:
    return driver.execute_script(
        "const box = document.getElementById('document-body').getBoundingClientRect();"
        "const r = arguments[0].getBoundingClientRect();"
        "return r.top >= box.top - 1 && r.top < box.bottom - 20;",
        element,
    )


# -- the rules ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_reader_sees_the_corpus_but_no_admin_controls(desktop, site: str) -> None:
    d = desktop
    d.get(site)
    _open_sources(d)
    _give_read_key(d, "sources-key-slot")  # the API has a read key: nothing is listed without it
    rows = _wait(d, lambda d: _rows(d) or False)
    title = next(t for t in rows if t.startswith(CORPUS_TITLE))
    row = rows[title]
    assert row.get_attribute("data-document-id").startswith("d")
    assert CORPUS_SOURCE in row.text
    assert "sections" in row.find_element("css selector", ".doc-meta").text
    assert row.find_elements("css selector", "time[datetime]"), "the ingested date is shown"
    assert not _find(d, ".doc-delete, .doc-refresh")
    assert not _find(d, "#sources-admin")[0].is_displayed()

    # A read key given as the admin key changes nothing: it isn't kept as one.
    _give_admin_key(d, READ_KEY)
    _wait(d, lambda d: "isn't an admin key" in _find(d, "#admin-key-note")[0].text)
    assert not _find(d, "#sources-admin")[0].is_displayed()
    assert not _find(d, ".doc-delete, .doc-refresh")
    assert d.execute_script("return sessionStorage.getItem('stackguide.adminKey')") is None
    _screenshot(d, "web-sources-reader.png")

    _press_escape(d)
    _wait(d, lambda d: d.execute_script("return document.activeElement.id") == "open-sources")
    assert not _is_open(d, "sources-dialog")


@pytest.mark.slow
def test_an_admin_adds_a_file_answers_cite_it_and_a_delete_removes_it(
    desktop, site: str, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    note = tmp_path / "quokka-queue.md"
    note.write_text(NOTE, encoding="utf-8")
    d = desktop
    d.get(site)
    _open_sources(d)
    _give_read_key(d, "sources-key-slot")  # for the chat below
    _wait(d, lambda d: _rows(d) or False)
    _give_admin_key(d, ADMIN_KEY)
    _shown(d, "#sources-admin")
    assert _find(d, ".doc-delete") and _find(d, ".doc-refresh")

    job = _upload(d, note)
    assert job.get_attribute("data-status") == "done", job.text
    assert "Done" in job.text
    row = _wait(d, lambda d: _rows(d).get("Quokka Queue operations notes", False))
    document_id = row.get_attribute("data-document-id")
    assert "quokka-queue.md" in row.text
    _screenshot(d, "web-sources-panel.png")
    _press_escape(d)

    answer = _ask(d, "How many times does Quokka Queue retry a failed job?")
    assert "seventeen" in answer.find_element(By.CSS_SELECTOR, ".answer-body").text
    link = _wait(
        d,
        lambda d: answer.find_element(
            By.CSS_SELECTOR, f'ol.sources a.doc-link[data-document-id="{document_id}"]'
        ),
    )
    n = link.find_element(By.XPATH, "./ancestor::li").get_attribute("value")
    answer.find_element(By.CSS_SELECTOR, f'.answer-body .cite[data-n="{n}"]').click()
    detail = _wait(d, lambda d: answer.find_element(By.CSS_SELECTOR, ".source-detail"))
    detail.find_element(By.CSS_SELECTOR, f'a.doc-link[data-document-id="{document_id}"]').click()

    cited = _cited_section(d)
    assert cited.get_attribute("aria-current") == "true"
    assert "Retry policy" in cited.find_element(By.TAG_NAME, "h3").text
    assert "seventeen" in cited.text
    assert len(_find(d, "#document-sections .doc-section.cited")) == 1
    assert len(_find(d, "#document-sections .doc-section")) >= 3  # the whole document is shown
    assert _in_view(d, cited)
    hash_ = d.execute_script("return location.hash")
    assert hash_.startswith(f"#document={document_id}&section=")
    _screenshot(d, "web-document-view.png")
    _press_escape(d)
    _wait(d, lambda d: d.execute_script("return location.hash") == "")  # closed: link gone
    assert not _is_open(d, "document-dialog")
    assert d.execute_script("return document.activeElement.classList.contains('doc-link')")

    _open_sources(d)
    row = _wait(d, lambda d: _rows(d).get("Quokka Queue operations notes", False))
    row.find_element(By.CSS_SELECTOR, ".doc-delete").click()
    confirm = row.find_element(By.CSS_SELECTOR, ".doc-confirm")  # asked inside the page
    assert "Quokka Queue" in confirm.text
    confirm.find_element(By.CSS_SELECTOR, ".doc-cancel").click()  # backing out keeps it
    assert not row.find_elements(By.CSS_SELECTOR, ".doc-confirm")
    row.find_element(By.CSS_SELECTOR, ".doc-delete").click()
    row.find_element(By.CSS_SELECTOR, ".doc-confirm-delete").click()
    job = _finished_job(d)
    assert job.get_attribute("data-status") == "done", job.text
    _wait(d, lambda d: "Quokka Queue operations notes" not in _rows(d))
    assert any(t.startswith(CORPUS_TITLE) for t in _rows(d))


@pytest.mark.slow
def test_an_unsupported_upload_is_refused_in_plain_words(
    desktop, site: str, tmp_path: Path
) -> None:
    sheet = tmp_path / "budget.xlsx"
    sheet.write_bytes(b"PK\x03\x04 not a document StackGuide reads")
    d = desktop
    d.get(site)
    _open_sources(d)
    _give_admin_key(d, ADMIN_KEY)  # an admin key reads too: no read key needed
    _shown(d, "#sources-admin")
    before = set(_rows(d))
    assert before

    job = _upload(d, sheet)
    assert job.get_attribute("data-status") == "failed"
    assert "can't be added" in job.text, job.text
    assert set(_rows(d)) == before
    assert _find(d, "#upload-send")[0].is_enabled()  # the panel is usable again

    # The chat is untouched, and asks with the admin key: no second key is asked for.
    _press_escape(d)
    _wait(d, lambda d: not _is_open(d, "sources-dialog"))
    assert "Schema-first" in _ask(d, "What is Fastify's killer feature?").text
    assert not _find(d, "#api-key")[0].is_displayed()


@pytest.mark.slow
def test_a_shared_link_opens_the_document_at_its_section(desktop, site: str) -> None:
    from selenium.webdriver.common.by import By

    listing = _get_json(site + "v1/documents", READ_KEY)
    doc = next(x for x in listing["documents"] if x["source"] == CORPUS_SOURCE)
    assert listing["can_write"] is False
    sections = _get_json(site + f"v1/documents/{doc['id']}", READ_KEY)["sections"]
    assert len(sections) > 3
    section = sections[-2]["section"]  # far down: the view has to scroll to it
    fragment = f"#document={doc['id']}&section={urllib.parse.quote(section, safe='')}"

    d = desktop
    d.get(site + fragment)
    _give_read_key(d, "document-key-slot")  # opened with no key yet: asked in the view
    cited = _cited_section(d)
    assert cited.get_attribute("data-section") == section
    assert cited.get_attribute("aria-current") == "true"
    assert _in_view(d, cited)
    assert d.execute_script("return document.getElementById('document-body').scrollTop") > 0
    assert d.find_element(By.ID, "document-title").text.startswith(CORPUS_TITLE)

    # A document that isn't there is said so; the chat still works afterwards.
    d.execute_script("location.hash = '#document=d000000000000000'")
    problem = _shown(d, "#document-problem")
    assert "no longer in the corpus" in problem.text
    assert not _find(d, "#document-sections .doc-section")
    _press_escape(d)
    _wait(d, lambda d: not _is_open(d, "document-dialog"))
    assert "Schema-first" in _ask(d, "What is Fastify's killer feature?").text
