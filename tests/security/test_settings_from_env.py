"""List settings take the documented comma form from the environment and `.env` (and a
JSON list still works); a bad setting stops startup naming the field and the reason, never
the value, which may be an API key or a token."""

from __future__ import annotations

import subprocess
import sys

import pytest

from assistant.errors import ConfigError
from assistant.settings import load_settings
from tests.helpers.api import client_for

KEY_A, KEY_B = "keyA-aaaaaaaaaaaaaaaa", "keyB-bbbbbbbbbbbbbbbb"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("STACKGUIDE_API_KEYS", f"{KEY_A},{KEY_B}", [KEY_A, KEY_B]),
        ("STACKGUIDE_API_KEYS", f" {KEY_A} , {KEY_B} ,", [KEY_A, KEY_B]),
        ("STACKGUIDE_API_KEYS", f'["{KEY_A}"]', [KEY_A]),
        ("STACKGUIDE_CORS_ORIGINS", "https://a.example,https://b.example",
         ["https://a.example", "https://b.example"]),
        ("STACKGUIDE_TRUSTED_PROXIES", "10.0.0.1,10.0.0.2", ["10.0.0.1", "10.0.0.2"]),
        ("STACKGUIDE_CORS_ORIGINS", "", []),
    ],
)  # fmt: skip
def test_list_settings_from_the_environment(monkeypatch, name, value, expected) -> None:
    monkeypatch.setenv(name, value)
    field = name.removeprefix("STACKGUIDE_").lower()
    assert getattr(load_settings(), field) == expected


def test_list_settings_from_a_dotenv_file(monkeypatch, tmp_path) -> None:
    (tmp_path / ".env").write_text(
        f"STACKGUIDE_API_KEYS={KEY_A},{KEY_B}\nSTACKGUIDE_CORS_ORIGINS=https://a.example\n"
    )
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.api_keys == [KEY_A, KEY_B]
    assert settings.cors_origins == ["https://a.example"]


def test_both_comma_separated_keys_work_on_the_app(
    monkeypatch, corpus_assistant, model_cache, tmp_path
) -> None:
    from assistant.server.app import create_app
    from assistant.service import Assistant

    monkeypatch.setenv("STACKGUIDE_API_KEYS", f"{KEY_A},{KEY_B}")
    monkeypatch.setenv("STACKGUIDE_DATA_DIR", str(corpus_assistant.settings.data_dir))
    monkeypatch.setenv("STACKGUIDE_MODEL_CACHE_DIR", str(model_cache))
    monkeypatch.setenv("STACKGUIDE_DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    settings = load_settings()
    app = create_app(assistant=Assistant(settings, embedder=corpus_assistant.embedder))
    with client_for(app) as client:
        for key in (KEY_A, KEY_B):
            assert client.get("/v1/models", headers={"X-API-Key": key}).status_code == 200
        assert client.get("/v1/models").status_code == 401


SECRETS = {
    "STACKGUIDE_API_KEYS": "short-SECRETKEY,x",  # too short: invalid
    "SLACK_BOT_TOKEN": "xoxb-SECRETTOKEN-0000",
    "STACKGUIDE_LLM_API_KEY": "sk-SECRETLLM",
    "STACKGUIDE_RATE_LIMIT_PER_MINUTE": "-SECRETNUMBER",
}


def test_a_bad_setting_names_the_field_not_the_value(monkeypatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = str(caught.value)
    assert "STACKGUIDE_API_KEYS" in message and "16 characters" in message
    assert "STACKGUIDE_RATE_LIMIT_PER_MINUTE" in message
    assert "SECRET" not in message


def test_the_cli_and_the_server_factory_stop_without_printing_secrets(tmp_path) -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "HF_HUB_OFFLINE": "1", **SECRETS}
    cli = subprocess.run(
        [sys.executable, "-m", "assistant.cli", "ask", "What is Hono?"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cli.returncode == 1, cli.stderr
    assert "STACKGUIDE_API_KEYS" in cli.stderr and "Traceback" not in cli.stderr
    assert "SECRET" not in cli.stderr + cli.stdout

    factory = subprocess.run(
        [sys.executable, "-c", "from assistant.server.app import app_from_env; app_from_env()"],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert factory.returncode != 0
    assert "STACKGUIDE_API_KEYS" in factory.stderr
    assert "SECRET" not in factory.stderr + factory.stdout
