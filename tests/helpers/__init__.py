"""Small builders shared by the loader, ingest and Chroma-server tests."""
