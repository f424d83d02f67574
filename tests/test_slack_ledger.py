"""Retry de-duplication (the event ledger), the Slack settings, and the app manifests."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

import yaml
from sqlalchemy import create_engine, func, select, text

from assistant.errors import BackendUnavailable
from assistant.settings import REPO_ROOT, Settings
from assistant.slack.app import ROUTES
from assistant.slack.ledger import EventLedger, SlackEventRow

MANIFESTS = REPO_ROOT / "assistant" / "slack"


def test_an_event_is_taken_once_across_processes_and_threads(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    # two ledgers on their own engines: two workers of one service
    ledgers = [EventLedger(create_engine(url)), EventLedger(create_engine(url))]
    results: list[bool] = []
    lock = threading.Lock()

    def take(ledger: EventLedger) -> None:
        got = ledger.take("Ev0SAME")
        with lock:
            results.append(got)

    threads = [threading.Thread(target=take, args=(ledgers[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [False] * 7 + [True]

    # a separate process sees the id as taken, and takes a new one
    code = (
        "import sys; from sqlalchemy import create_engine; "
        "from assistant.slack.ledger import EventLedger; "
        "l = EventLedger(create_engine(sys.argv[1])); "
        "print(l.take('Ev0SAME'), l.take('Ev0OTHER'))"
    )
    done = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]
    assert ledgers[0].take("Ev0OTHER") is False


def test_old_ids_are_pruned(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    ledger = EventLedger(engine)
    assert ledger.take("Ev0OLD") and ledger.take("Ev0NEW")
    with engine.begin() as conn:
        conn.execute(
            SlackEventRow.__table__.update()
            .where(SlackEventRow.event_id == "Ev0OLD")
            .values(taken_at=datetime.now(UTC) - timedelta(days=3))
        )
    ledger.prune(datetime.now(UTC) - timedelta(days=2))
    with engine.connect() as conn:
        ids = conn.execute(select(SlackEventRow.event_id)).scalars().all()
    assert ids == ["Ev0NEW"]


def test_a_database_failure_is_reported_and_this_process_still_dedupes(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'events.db'}")
    ledger = EventLedger(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE slack_events"))
    try:
        ledger.take("Ev0DOWN")
    except BackendUnavailable as exc:
        assert "database error" in str(exc)
    else:
        raise AssertionError("a failed insert must not pass for a first delivery")
    assert ledger.take("Ev0DOWN") is False  # the retry, in the same process
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sqlite_master WHERE name='slack_events'")
                            ).scalar() == 0  # fmt: skip


def test_ledger_table_lives_beside_the_conversations(corpus_assistant) -> None:
    corpus_assistant.feedback.all()  # its table is made on first use, like the ledger's
    engine = corpus_assistant.conversations.engine
    EventLedger.open(corpus_assistant.settings.database).take("Ev0BESIDE")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(SlackEventRow)).scalar() >= 1
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
    assert {"conversations", "turns", "feedback", "slack_events"} <= tables


def test_settings_take_slacks_own_variable_names(monkeypatch) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-plain")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "secret-plain")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-plain")
    s = Settings()
    assert (s.slack_bot_token, s.slack_signing_secret, s.slack_app_token) == (
        "xoxb-plain", "secret-plain", "xapp-plain")  # fmt: skip
    assert s.slack_http
    monkeypatch.setenv("STACKGUIDE_SLACK_BOT_TOKEN", "xoxb-prefixed")  # the prefixed name wins
    monkeypatch.setenv("STACKGUIDE_SLACK_API_URL", "http://127.0.0.1:9/api")
    s = Settings()
    assert s.slack_bot_token == "xoxb-prefixed"
    assert s.slack_api_url == "http://127.0.0.1:9/api/"  # slack_sdk appends method names
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "")
    assert Settings().slack_signing_secret is None and not Settings().slack_http


def test_slack_settings_are_described_and_default_to_slack() -> None:
    fields = Settings.model_fields
    for name in ("slack_bot_token", "slack_signing_secret", "slack_app_token", "slack_api_url",
                 "slack_command"):  # fmt: skip
        assert fields[name].description, name
    s = Settings()
    assert s.slack_api_url == "https://slack.com/api/" and s.slack_command == "/stackguide"
    assert not s.slack_http


def test_manifests_match_the_routes_and_the_command() -> None:
    http = yaml.safe_load((MANIFESTS / "manifest.yaml").read_text(encoding="utf-8"))
    socket = yaml.safe_load((MANIFESTS / "manifest-socket-mode.yaml").read_text(encoding="utf-8"))
    scopes = {"app_mentions:read", "chat:write", "commands", "im:history"}
    for manifest in (http, socket):
        assert set(manifest["oauth_config"]["scopes"]["bot"]) == scopes
        assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == {
            "app_mention", "message.im"}  # fmt: skip
        assert manifest["settings"]["interactivity"]["is_enabled"] is True
        [command] = manifest["features"]["slash_commands"]
        assert command["command"] == Settings().slack_command
        assert manifest["features"]["app_home"]["messages_tab_enabled"] is True

    def path(url: str) -> str:
        return "/" + url.split("://", 1)[1].split("/", 1)[1]

    assert http["settings"]["socket_mode_enabled"] is False
    urls = [http["settings"]["event_subscriptions"]["request_url"],
            http["settings"]["interactivity"]["request_url"],
            http["features"]["slash_commands"][0]["url"]]  # fmt: skip
    assert [path(u) for u in urls] == list(ROUTES)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]
