"""The baseline for `bench/ingest_speed.py`: the script a user writes from LangChain's RAG
quickstart, indexing a folder of Markdown into Chroma.

    .venv/bin/python bench/quickstart_peer.py CORPUS --persist DIR

Loads CORPUS/**/*.md as `DirectoryLoader(corpus, glob="**/*.md", loader_cls=TextLoader)`
would (langchain-community is not installed here: each file is read whole into a
`Document(page_content=text, metadata={"source": path})`, which is what TextLoader does),
splits with `RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`, embeds with
`HuggingFaceEmbeddings` on the bundled all-MiniLM-L6-v2 (by path, offline) and stores with
`Chroma.from_documents(..., persist_directory=DIR)`. Prints one JSON line: files, chunks,
seconds (wall, from before the imports to after from_documents) and peak RSS in MB.
"""

import time

START = time.perf_counter()  # before the imports: they are part of what a user waits for

import os  # noqa: E402

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langchain_chroma import Chroma  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_huggingface import HuggingFaceEmbeddings  # noqa: E402
from langchain_text_splitters import RecursiveCharacterTextSplitter  # noqa: E402

from assistant.settings import Settings  # noqa: E402


def load(corpus: Path) -> list[Document]:
    """DirectoryLoader(corpus, glob="**/*.md", loader_cls=TextLoader), without
    langchain-community: hidden files skipped, each file one Document."""
    docs = []
    for path in sorted(corpus.glob("**/*.md")):
        rel = path.relative_to(corpus)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        docs.append(Document(page_content=path.read_text(), metadata={"source": str(path)}))
    return docs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--persist", type=Path, required=True, help="Chroma persist_directory")
    args = parser.parse_args()

    docs = load(args.corpus)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(docs)
    embeddings = HuggingFaceEmbeddings(model_name=Settings().embedding_model)
    Chroma.from_documents(chunks, embeddings, persist_directory=str(args.persist))
    seconds = time.perf_counter() - START
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"files": len(docs), "chunks": len(chunks), "seconds": round(seconds, 2),
                      "peak_rss_mb": round(peak, 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
