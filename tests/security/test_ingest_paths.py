"""What ingest reads from a folder: only what is in it.

A symbolic link inside a corpus folder that leads out of it (`leak.md -> /etc/hostname`)
is not followed, and the report says so with the reason, unless asked
(`run_ingest(..., follow_symlinks=True)`, `stackguide ingest --follow-symlinks`). A link
that stays inside the folder is read. A file whose name is not valid UTF-8 gets a clear
per-file reason, and every other file is still ingested.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import cli
from assistant.index.vectors import open_store
from assistant.settings import Settings
from ingest.pipeline import run_ingest

GOOD = "# Guide\n\n## Queues\n\n- Zephyrqueue keeps messages for seven days.\n"
SECRET = "# Private\n\n## Vault\n\n- Orblatt is the vault passphrase of the host.\n"


@pytest.fixture
def fake_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", embedder="fake")


@pytest.fixture
def linked(tmp_path: Path) -> Path:
    """docs/ with a good file, a link inside it, and links out of it (a file, a folder)."""
    outside = tmp_path / "private"
    outside.mkdir()
    (outside / "secret.md").write_text(SECRET, encoding="utf-8")
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "sub" / "guide.md").write_text(GOOD, encoding="utf-8")
    (docs / "inside.md").symlink_to(docs / "sub" / "guide.md")
    (docs / "leak.md").symlink_to(outside / "secret.md")
    (docs / "vault").symlink_to(outside, target_is_directory=True)
    return docs


def _stored_text(settings: Settings) -> str:
    return "\n".join(r.text for r in open_store(settings).iter_records())


def test_links_out_of_the_folder_are_not_followed_and_reported(linked, fake_settings) -> None:
    report = run_ingest([linked], fake_settings)

    assert report.ok, report.failed
    not_followed = dict(report.not_followed)
    assert set(not_followed) == {"docs/leak.md", "docs/vault"}, report.not_followed
    assert all("symbolic link out of docs/" in why for why in not_followed.values())
    assert "2 skipped" in report.summary()
    assert set(open_store(fake_settings).ids_by_source()) == {
        "docs/sub/guide.md",
        "docs/inside.md",  # a link that stays inside the folder is read
    }
    assert "Orblatt" not in _stored_text(fake_settings)


def test_links_out_of_the_folder_are_followed_when_asked(linked, fake_settings) -> None:
    report = run_ingest([linked], fake_settings, follow_symlinks=True)

    assert report.ok and report.not_followed == [], report.not_followed
    assert {"docs/leak.md", "docs/vault/secret.md"} <= set(
        open_store(fake_settings).ids_by_source()
    )

    # Asked once is not asked for ever: the next plain ingest takes them out again.
    report = run_ingest([linked], fake_settings)
    assert report.removed == 2
    assert "Orblatt" not in _stored_text(fake_settings)


def test_a_followed_folder_linking_back_to_itself_is_walked_once(linked, fake_settings) -> None:
    private = linked.parent / "private"
    (private / "again").symlink_to(private, target_is_directory=True)

    report = run_ingest([linked], fake_settings, follow_symlinks=True)

    assert report.ok
    sources = set(open_store(fake_settings).ids_by_source())
    assert "docs/vault/secret.md" in sources
    assert not any("again" in s for s in sources), sources


def test_cli_ingest_reports_links_and_follows_them_only_when_asked(linked, tmp_path) -> None:
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path / "cli-data"), "ingest"]
    env = {"STACKGUIDE_EMBEDDER": "fake"}

    result = runner.invoke(cli, [*args, str(linked)], env=env)

    assert result.exit_code == 0, (result.output, result.exception)
    assert "skipped (symbolic link out of docs/, not followed): docs/leak.md" in result.stderr
    assert "skipped (symbolic link out of docs/, not followed): docs/vault" in result.stderr

    result = runner.invoke(cli, [*args, "--follow-symlinks", str(linked)], env=env)

    assert result.exit_code == 0, (result.output, result.exception)
    assert "docs/leak.md" not in result.stderr
    assert "2 chunks added" in result.stdout, result.stdout


def _bad_name(folder: Path) -> Path:
    path = Path(os.fsdecode(os.fsencode(folder) + b"/bad\xff.md"))
    try:
        path.write_text(GOOD, encoding="utf-8")
    except (OSError, UnicodeEncodeError):
        pytest.skip("this file system refuses file names that are not UTF-8")
    return path


def test_a_file_name_that_is_not_utf8_is_a_reported_failure(tmp_path, fake_settings) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD, encoding="utf-8")
    _bad_name(folder)

    report = run_ingest([folder], fake_settings)

    assert report.failed == [("docs/bad\\xff.md", "the file name is not valid UTF-8: rename it")]
    assert set(open_store(fake_settings).ids_by_source()) == {"docs/good.md"}


def test_cli_names_the_file_whose_name_is_not_utf8_and_ingests_the_rest(tmp_path) -> None:
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "good.md").write_text(GOOD, encoding="utf-8")
    _bad_name(folder)
    data = str(tmp_path / "cli-data")
    env = {"STACKGUIDE_EMBEDDER": "fake"}

    result = CliRunner().invoke(cli, ["--data-dir", data, "ingest", str(folder)], env=env)

    assert result.exit_code == 1, (result.output, result.exception)
    assert "failed: docs/bad\\xff.md: the file name is not valid UTF-8" in result.stderr
    assert "unexpected error" not in result.stderr
    assert "1 chunks added" in result.stdout and "1 failed" in result.stdout, result.stdout
