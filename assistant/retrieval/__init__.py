"""Finding candidate passages: hybrid dense + BM25 retrieval and the steps that rerank it."""
