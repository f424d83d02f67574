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
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

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


def npm_tarball(package: str, version: str, integrity: str, workdir: Path) -> Path:
    """`package@version`'s tarball straight from the npm registry (no npm needed), written
    to `workdir` only if it matches `integrity`, the registry's `dist.integrity` (sha512)."""
    import base64
    import hashlib
    import urllib.request

    name = package.rsplit("/", 1)[-1]  # @scope/name -> name-VERSION.tgz
    url = f"https://registry.npmjs.org/{package}/-/{name}-{version}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=120) as resp:
            data = resp.read(50 * 1024 * 1024)
    except OSError as exc:
        raise FetchError(f"{url} could not be fetched: {exc}") from exc
    digest = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if digest != integrity:
        raise FetchError(f"{url} does not match its registry integrity {integrity}")
    target = workdir / f"{name}-{version}.tgz"
    target.write_bytes(data)
    return target


def safe_extract(tarball: Path, into: Path) -> None:
    """Extract regular files and directories only; refuse absolute paths and `..`."""
    try:
        with tarfile.open(tarball, "r:gz") as tar:
            for member in tar.getmembers():
                path = PurePosixPath(member.name)
                if (
                    member.name.startswith(("/", "\\"))
                    or path.is_absolute()
                    or ".." in path.parts
                    or "\\" in member.name
                    or (path.parts and ":" in path.parts[0])  # e.g. C:foo
                ):
                    raise FetchError(f"refusing unsafe tar member path: {member.name!r}")
                if not path.parts or path.parts == (".",):
                    continue
                if not (member.isfile() or member.isdir()):
                    continue  # no links, devices or fifos
                target = into.joinpath(*path.parts)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(member)
                if src is None:
                    continue
                with src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
    except (tarfile.TarError, OSError) as exc:
        raise FetchError(f"cannot extract {tarball.name}: {exc}") from exc


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
