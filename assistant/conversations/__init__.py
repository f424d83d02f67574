"""Stored conversations, their owners and feedback (SQLite or PostgreSQL)."""
