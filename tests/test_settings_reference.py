"""The configuration reference is the settings' own: generated, and kept current."""

from __future__ import annotations

from assistant.settings import REPO_ROOT, Settings
from assistant.settings_reference import reference


def test_every_setting_says_what_it_does() -> None:
    assert [n for n, f in Settings.model_fields.items() if not (f.description or "").strip()] == []


def test_docs_configuration_is_the_generated_reference() -> None:
    written = (REPO_ROOT / "docs" / "configuration.md").read_text()
    assert written == reference(), (
        "docs/configuration.md is stale: python -m assistant.settings_reference > "
        "docs/configuration.md"
    )


def test_the_reference_names_each_variable_once() -> None:
    text = reference()
    for name in Settings.model_fields:
        if name.startswith("slack_") and name != "slack_api_url" and name != "slack_command":
            continue  # read under their Slack names too
        assert text.count(f"`STACKGUIDE_{name.upper()}`") == 1, name
