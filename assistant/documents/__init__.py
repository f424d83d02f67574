"""The corpus as a product surface: what is in the index, and adding, refreshing and
removing documents (files, uploads, article URLs, feeds) as background jobs."""
