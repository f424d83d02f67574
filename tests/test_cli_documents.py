"""`stackguide sources`, `stackguide remove` and `stackguide ingest URL` / `--feed`: the
documents API's reads and writes from a shell, on an index of this test's own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from tests.helpers.documents import copy_index
from tests.helpers.pages import Site, article_page

BUNDLED = "corpus/modern-backend-frameworks-2025.md"
ARTICLE = {
    "Why Quillstream": "Quillstream is the message broker we chose for ordered event replay.",
    "Operating it": "Run three Quillstream nodes per region.",
}


@pytest.fixture
def run(corpus_assistant, model_cache, tmp_path):
    data = copy_index(corpus_assistant, tmp_path)

    def invoke(*args: str, **env: str):
        env = {"STACKGUIDE_MODEL_CACHE_DIR": str(model_cache),
               "STACKGUIDE_FETCH_ALLOW_PRIVATE": "true", **env}  # fmt: skip
        return CliRunner().invoke(cli, ["--data-dir", str(data), *args], env=env)

    invoke.data = data  # type: ignore[attr-defined]
    return invoke


def listed(run) -> list[dict]:
    result = run("sources", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["documents"]


def test_sources_lists_every_document_as_the_api_does(run) -> None:
    [doc] = listed(run)
    assert doc["source"] == BUNDLED and doc["origin"] == "file" and doc["sections"] > 10
    table = run("sources")
    assert table.exit_code == 0
    assert doc["id"] in table.stdout and "Modern Backend Frameworks 2025" in table.stdout


def test_an_article_url_is_ingested_listed_and_removed(run, site: Site) -> None:
    url = site.set("/posts/q", article_page("Picking Quillstream", ARTICLE))
    result = run("ingest", url)
    assert result.exit_code == 0, result.output
    assert "1 article" in result.stdout
    [doc] = [d for d in listed(run) if d["origin"] == "url"]
    assert doc["url"] == url and doc["title"] == "Picking Quillstream"

    again = run("ingest", url)  # unchanged: not downloaded again
    assert again.exit_code == 0 and "unchanged" in again.stdout
    assert site.downloads["/posts/q"] == 1

    gone = run("remove", url)
    assert gone.exit_code == 0, gone.output
    assert "removed" in gone.stdout
    assert [d["source"] for d in listed(run)] == [BUNDLED]


def test_a_feed_is_ingested_article_by_article(run, site: Site) -> None:
    one = site.set("/one", article_page("Part one", ARTICLE))
    two = site.set("/two", article_page("Part two", {"Scaling": "Quillstream scales out."}))
    atom = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Quillstream notes</title><id>x</id>
<updated>2026-11-02T00:00:00Z</updated>
<entry><title>one</title><link href="{one}"/><id>1</id><updated>2026-11-02T00:00:00Z</updated></entry>
<entry><title>two</title><link href="{two}"/><id>2</id><updated>2026-11-02T00:00:00Z</updated></entry>
</feed>"""
    feed = site.set("/atom.xml", atom, content_type="application/atom+xml")
    result = run("ingest", "--feed", feed)
    assert result.exit_code == 0, result.output
    assert {d["url"] for d in listed(run) if d["origin"] == "url"} == {one, two}


def test_a_refused_url_exits_1_and_changes_nothing(run) -> None:
    result = run("ingest", "http://169.254.169.254/latest/", STACKGUIDE_FETCH_ALLOW_PRIVATE="false")
    assert result.exit_code == 1
    assert "169.254.169.254" in result.output
    assert [d["source"] for d in listed(run)] == [BUNDLED]


def test_removing_an_unknown_document_says_so(run) -> None:
    result = run("remove", "no/such/file.md")
    assert result.exit_code == 1
    assert "no document" in result.output and "stackguide sources" in result.output


def test_a_rebuild_reads_the_added_documents_again(run, site: Site) -> None:
    url = site.set("/posts/q", article_page("Picking Quillstream", ARTICLE))
    assert run("ingest", url).exit_code == 0
    rebuilt = run("ingest", "--rebuild")
    assert rebuilt.exit_code == 0, rebuilt.output
    assert {d["source"] for d in listed(run)} == {BUNDLED, url}


def test_removing_a_corpus_file_keeps_it_on_disk(run) -> None:
    [doc] = listed(run)
    result = run("remove", doc["id"])
    assert result.exit_code == 0, result.output
    assert listed(run) == []
    assert (Path(__file__).parents[1] / BUNDLED).exists()
