"""Build StackGuide's second eval corpus: the Markdown docs shipped in the fastify npm package.

Usage: python evals/second_corpus/fetch.py [--dest DIR]

Runs `npm pack fastify@VERSION` in a temp dir (without npm: downloads the same tarball
from the npm registry, checking its integrity), extracts the tarball safely, and writes DEST
(default ~/.cache/stackguide/corpora/fastify-VERSION/) holding the package's `docs/` folder
(its Markdown files) plus a copy of the repo's bundled article. Idempotent: a marker file
is written last, and a DEST that already has it is left alone. The last stdout line is
the destination path. Exit 2 with a message if npm is missing or the pack/extraction
fails. Stdlib only.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # evals/: the shared builder
from corpus_build import CORPORA, FetchError, assemble, npm_tarball, safe_extract
from corpus_build import main as corpus_main

PACKAGE = "fastify"
VERSION = "5.6.1"  # pinned; checked with `npm view fastify versions --json`
DEFAULT_DEST = CORPORA / f"{PACKAGE}-{VERSION}"


# The registry's own integrity value for the pinned version (`npm view fastify@5.6.1
# dist.integrity`): a tarball fetched without npm is checked against it.
INTEGRITY = "sha512-" + (  # one value, cut to fit the line length
    "WjjlOciBF0K8pDUPZoGPhqhKrQJ02I8DKaDIfO51EL0kbSMwQFl85cRwhOvmSDWoukNOdTo27gLN549pLCcH7Q=="
)


def _npm_pack(workdir: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        return npm_tarball(PACKAGE, VERSION, INTEGRITY, workdir)
    spec = f"{PACKAGE}@{VERSION}"
    try:
        proc = subprocess.run(
            [npm, "pack", spec, "--json", "--pack-destination", str(workdir)],
            cwd=workdir, capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"`npm pack {spec}` could not run: {exc}") from exc
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise FetchError(f"`npm pack {spec}` failed (exit {proc.returncode}):\n" + "\n".join(tail))
    name = None
    try:
        info = json.loads(proc.stdout)
        name = info[0]["filename"]
    except (ValueError, LookupError, TypeError):
        pass
    tarballs = [workdir / name] if name else sorted(workdir.glob("*.tgz"))
    tarballs = [t for t in tarballs if t.is_file()]
    if not tarballs:
        raise FetchError(f"`npm pack {spec}` produced no tarball in {workdir}")
    return tarballs[0]


def _fill(staging: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="stackguide-fastify-") as tmp:
        work = Path(tmp)
        tarball = _npm_pack(work)
        unpacked = work / "unpacked"
        unpacked.mkdir()
        safe_extract(tarball, unpacked)
        docs = unpacked / "package" / "docs"
        if not docs.is_dir():
            raise FetchError(f"{tarball.name} has no package/docs/ folder")
        for md in sorted(docs.rglob("*.md")):  # Markdown only: no svg/drawio images
            target = staging / "docs" / md.relative_to(docs)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(md, target)
    return {"package": PACKAGE, "version": VERSION}


def build(dest: Path | None) -> Path:
    return assemble(dest or DEFAULT_DEST, _fill)


def main(argv: list[str] | None = None) -> int:
    return corpus_main(build, str(DEFAULT_DEST), argv)


if __name__ == "__main__":
    sys.exit(main())
