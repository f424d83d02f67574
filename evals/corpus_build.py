"""What every eval corpus builder shares (stdlib only, imported by `evals/*/fetch.py`).

A corpus is assembled in a staging folder next to its destination, with the bundled
article beside the documents, and swapped in whole with a marker written last: a folder
that has the marker is complete, one that does not was never finished.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

MARKER = ".stackguide-corpus-complete"
REPO_ROOT = Path(__file__).resolve().parent.parent
ARTICLE = REPO_ROOT / "corpus" / "modern-backend-frameworks-2025.md"
CORPORA = Path.home() / ".cache" / "stackguide" / "corpora"


class FetchError(Exception):
    pass


def assemble(dest: Path, fill: Callable[[Path], dict]) -> Path:
    """Build `dest` with `fill(staging)`, which writes the documents and returns what the
    marker records about them; the article is added beside them."""
    dest = dest.expanduser().resolve()
    if (dest / MARKER).is_file():
        return dest
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FetchError(
            f"{dest} exists but is not a complete corpus (no {MARKER}); "
            "remove it or choose another --dest"
        )
    if not ARTICLE.is_file():
        raise FetchError(f"bundled article not found: {ARTICLE}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        meta = fill(staging)
        shutil.copyfile(ARTICLE, staging / ARTICLE.name)
        files = [p for p in staging.rglob("*") if p.is_file()]
        meta |= {"files": len(files), "bytes": sum(p.stat().st_size for p in files)}
        (staging / MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def main(build: Callable[[Path | None], Path], default: str, argv: list[str] | None) -> int:
    """The builders' command line: `--dest DIR`; the last stdout line is the corpus path."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__)
    parser.add_argument("--dest", type=Path, default=None,
                        help=f"corpus folder to build (default: {default})")  # fmt: skip
    args = parser.parse_args(argv)
    try:
        dest = build(args.dest)
    except (FetchError, OSError) as exc:
        print(f"fetch.py: error: {exc}", file=sys.stderr)
        return 2
    print(dest)
    return 0
