"""A database that cannot be opened is "database unavailable" to clients; the log says
which database (driver, host, name) with every credential masked, wherever it was given."""

from __future__ import annotations

import logging

import pytest

from assistant.conversations.store import ConversationStore
from assistant.conversations.tables import mask_credentials, masked_url
from assistant.errors import BackendUnavailable


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("postgresql+psycopg://alice:s3cret@db.internal:5432/guide", "db.internal:5432/guide"),
        ("postgresql+psycopg://db.internal/guide?user=alice&password=s3cret", "db.internal/guide"),
        ("postgresql://alice@db.internal/guide?sslpassword=s3cret&connect_timeout=3",
         "connect_timeout=3"),
    ],
)  # fmt: skip
def test_masked_urls_keep_where_and_drop_who(url: str, kept: str) -> None:
    masked = masked_url(url)
    assert "s3cret" not in masked and "alice" not in masked
    assert kept in masked


def test_driver_messages_are_masked_too() -> None:
    text = (
        'connection to "postgresql://alice:s3cret@db/guide" failed; '
        "dsn: host=db user=alice password=s3cret dbname=guide"
    )
    masked = mask_credentials(text)
    assert "s3cret" not in masked and "alice" not in masked
    assert "dbname=guide" in masked


def test_an_unopenable_database_says_only_that(tmp_path, caplog) -> None:
    url = f"sqlite:///{tmp_path}/missing-dir/x.db"
    with caplog.at_level(logging.ERROR), pytest.raises(BackendUnavailable) as caught:
        ConversationStore(url)
    assert str(caught.value) == "database unavailable"
    assert "missing-dir" in caplog.text  # the operator learns which one
