"""Build StackGuide's ingest-speed corpus: the Markdown docs of three npm packages (>= 1 MB).

Usage: python evals/speed_corpus/fetch.py [--dest DIR]

Downloads the tarballs of fastify 5.6.1, undici 8.13.1 and pino 10.4.0 from the npm
registry (no npm needed), each checked against the registry's `dist.integrity` (sha512),
extracts them safely (no absolute paths, no `..`, no links) and writes DEST (default
~/.cache/stackguide/corpora/speed-fastify-5.6.1-undici-8.13.1-pino-10.4.0/) holding each
package's `docs/` Markdown under a folder of its own (`fastify/`, `undici/`, `pino/`), plus
a copy of the repo's bundled article. Only `*.md` files are kept; a package whose docs/
has fewer than MIN_DOCS of them also gets its README.md. Idempotent: a marker file is
written last, and a DEST that already has it is left alone. The last stdout line is the
destination path. Exit 2 with a message if a download, the integrity check or the
extraction fails, or if the documents come to less than 1 MB. Stdlib only.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # evals/: shared builder, pins
from corpus_build import CORPORA, MARKER, FetchError, assemble, npm_tarball, safe_extract
from corpus_build import main as corpus_main
from second_corpus import fetch as fastify

# (package, version, the registry's dist.integrity for it), each pinned: `curl -s
# https://registry.npmjs.org/PACKAGE/VERSION` (undici 8.13.1: the latest 8.x when pinned).
PACKAGES = (
    (fastify.PACKAGE, fastify.VERSION, fastify.INTEGRITY),
    (
        "undici",
        "8.13.1",
        "sha512-Kt7EaPjh0s93lJH/PmW3d5rhkcpUa6fS3jqZ7+YGxNd9L7Xy/i827xe4C2uhhq+pJebM4tQOl5AgHmW11G5Skg==",
    ),
    (
        "pino",
        "10.4.0",
        "sha512-bk1ZMTwG/Vymx+zPoa28MhNzucFvXJWp3csrSuxuHPSMeUettaCoQ5Jvg07mtC4JGNpcfTwz41oVCnNgBK9+vA==",
    ),
)
MIN_BYTES = 1_000_000  # the documents, article included
MIN_DOCS = 5  # fewer Markdown files than this in docs/: the README is added
DEFAULT_DEST = CORPORA / ("speed-" + "-".join(f"{p}-{v}" for p, v, _ in PACKAGES))


def _package_docs(package: str, version: str, integrity: str, work: Path, into: Path) -> int:
    """Write `package`'s docs/ Markdown under `into`; return how many files."""
    tarball = npm_tarball(package, version, integrity, work)
    unpacked = work / f"{package}-{version}"
    unpacked.mkdir()
    safe_extract(tarball, unpacked)
    root = unpacked / "package"
    docs = root / "docs"
    if not docs.is_dir():
        raise FetchError(f"{tarball.name} has no package/docs/ folder")
    pages = {md: md.relative_to(docs) for md in sorted(docs.rglob("*.md")) if md.is_file()}
    if len(pages) < MIN_DOCS and (root / "README.md").is_file():
        pages[root / "README.md"] = Path("README.md")
    if not pages:
        raise FetchError(f"{tarball.name} has no Markdown in package/docs/")
    for src, rel in pages.items():
        target = into / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return len(pages)


def _fill(staging: Path) -> dict:
    packages = {}
    with tempfile.TemporaryDirectory(prefix="stackguide-speed-") as tmp:
        for package, version, integrity in PACKAGES:
            files = _package_docs(package, version, integrity, Path(tmp), staging / package)
            packages[package] = {"version": version, "integrity": integrity, "files": files}
    docs = [p for p in staging.rglob("*") if p.is_file()]
    size = sum(p.stat().st_size for p in docs)
    if size < MIN_BYTES:
        raise FetchError(f"the docs come to {size:,} bytes, less than {MIN_BYTES:,}")
    return {"packages": packages}


def build(dest: Path | None) -> Path:
    path = assemble(dest or DEFAULT_DEST, _fill)
    meta = json.loads((path / MARKER).read_text(encoding="utf-8"))
    print(f"{meta['files']} files, {meta['bytes']:,} bytes", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    return corpus_main(build, str(DEFAULT_DEST), argv)


if __name__ == "__main__":
    sys.exit(main())
