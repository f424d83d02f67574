"""Turn the files of a corpus into cited, embedded chunks in the vector store and BM25."""
