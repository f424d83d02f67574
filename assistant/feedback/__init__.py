"""Votes on answers (Slack's 👍 / 👎), kept to become eval cases (`stackguide feedback`)."""
