"""Real servers for tests (PostgreSQL, `stackguide serve`), on 127.0.0.1 only, started and
stopped by the tests themselves."""
