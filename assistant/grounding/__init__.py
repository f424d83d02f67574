"""Deciding what the corpus supports: evidence scoring, the gate, the citation check."""
