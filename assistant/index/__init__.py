"""What was ingested, as the answering side reads it: the BM25 index and vector stores."""
