"""Build StackGuide's HTML eval corpus: part of the Celery manual from Debian's python-celery-doc.

Usage: python evals/html_corpus/fetch.py [--dest DIR]

Copies a fixed subset of the Sphinx HTML pages that Debian's `python-celery-doc` package
installs under /usr/share/doc/python-celery-doc/html, keeping their relative folders, plus
a copy of the repo's bundled article, into DEST (default
~/.cache/stackguide/corpora/celery-html-<package version>/). If the package is missing it
is installed with apt-get, which needs root; otherwise the script exits 2 saying so.
Idempotent: a marker file is written last, and a DEST that already has it is left alone.
The last stdout line is the destination path. Exit 2 with a message on any failure.
Stdlib only.

The subset is the manual an engineer building on Celery reads: getting started (brokers
included), the whole user guide, the Django and tutorial pages, FAQ, glossary and the
recent release notes. Left out: generated pages (genindex, py-modindex, search), the API
reference (reference/) and internals/ (autodoc dumps that would drown the prose),
_modules/, _sources/, _static/ and _images/ (source listings, reST copies, assets),
project-meta pages (community, contributing, copyright), the gzipped top-level changelog
and release notes older than 4.0.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PACKAGE = "python-celery-doc"
DOC_ROOT = Path("/usr/share/doc") / PACKAGE / "html"
MARKER = ".stackguide-corpus-complete"
REPO_ROOT = Path(__file__).resolve().parent.parent.parent  # evals/html_corpus/ -> repo
ARTICLE = REPO_ROOT / "corpus" / "modern-backend-frameworks-2025.md"
CORPORA = Path.home() / ".cache" / "stackguide" / "corpora"

# Relative to DOC_ROOT; copied to the same relative path under DEST (42 pages).
PAGES = (
    "index.html",
    "faq.html",
    "glossary.html",
    "whatsnew-5.2.html",
    "getting-started/index.html",
    "getting-started/introduction.html",
    "getting-started/first-steps-with-celery.html",
    "getting-started/next-steps.html",
    "getting-started/resources.html",
    "getting-started/backends-and-brokers/index.html",
    "getting-started/backends-and-brokers/rabbitmq.html",
    "getting-started/backends-and-brokers/redis.html",
    "getting-started/backends-and-brokers/sqs.html",
    "django/index.html",
    "django/first-steps-with-django.html",
    "tutorials/index.html",
    "tutorials/task-cookbook.html",
    "userguide/index.html",
    "userguide/application.html",
    "userguide/tasks.html",
    "userguide/calling.html",
    "userguide/canvas.html",
    "userguide/workers.html",
    "userguide/daemonizing.html",
    "userguide/periodic-tasks.html",
    "userguide/routing.html",
    "userguide/monitoring.html",
    "userguide/security.html",
    "userguide/optimizing.html",
    "userguide/debugging.html",
    "userguide/concurrency/index.html",
    "userguide/concurrency/eventlet.html",
    "userguide/signals.html",
    "userguide/testing.html",
    "userguide/extending.html",
    "userguide/configuration.html",
    "userguide/sphinx.html",
    "history/whatsnew-4.0.html",
    "history/whatsnew-5.0.html",
    "history/whatsnew-5.1.html",
    "history/changelog-5.0.html",
    "history/changelog-5.1.html",
)


class FetchError(Exception):
    pass


def _run(argv: list[str], timeout: int) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FetchError(f"`{' '.join(argv)}` could not run: {exc}") from exc


def _tail(proc: subprocess.CompletedProcess[str]) -> str:
    return "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])


def _install() -> None:
    """apt-get install the package; refresh the lists once if apt doesn't know it yet."""
    if shutil.which("apt-get") is None:
        raise FetchError(f"{DOC_ROOT} is missing and apt-get is not available to install {PACKAGE}")
    if os.geteuid() != 0:
        raise FetchError(
            f"{DOC_ROOT} is missing; install the docs first: sudo apt-get install {PACKAGE}"
        )
    env_argv = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    install = [*env_argv, "install", "-y", "--no-install-recommends", PACKAGE]
    proc = _run(install, timeout=600)
    if proc.returncode != 0:
        _run([*env_argv, "update"], timeout=600)
        proc = _run(install, timeout=600)
    if proc.returncode != 0:
        raise FetchError(
            f"`apt-get install {PACKAGE}` failed (exit {proc.returncode}):\n{_tail(proc)}"
        )
    if not DOC_ROOT.is_dir():
        # Slim images often tell dpkg to skip /usr/share/doc (path-exclude in dpkg.cfg.d).
        raise FetchError(
            f"{PACKAGE} is installed but {DOC_ROOT} is absent: check /etc/dpkg/dpkg.cfg.d/ "
            "for a path-exclude of /usr/share/doc"
        )


def _version() -> str:
    if shutil.which("dpkg-query") is None:
        raise FetchError("dpkg-query is not available to read the package version")
    proc = _run(["dpkg-query", "-W", "-f=${Version}", PACKAGE], timeout=60)
    version = proc.stdout.strip()
    if proc.returncode != 0 or not version:
        raise FetchError(f"cannot read the installed version of {PACKAGE}:\n{_tail(proc)}")
    return re.sub(r"[^A-Za-z0-9.+~-]", "_", version)  # an epoch's ':' is no path character


def _copy_pages(staging: Path) -> int:
    size = 0
    for rel in PAGES:
        src = DOC_ROOT / rel
        if not src.is_file():
            raise FetchError(f"{src} is missing: the installed {PACKAGE} has another layout")
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)  # contents only: the page, never a link to elsewhere
        size += target.stat().st_size
    return size


def build(dest: Path | None) -> Path:
    if dest is not None and (dest.expanduser() / MARKER).is_file():
        return dest.expanduser().resolve()
    if not DOC_ROOT.is_dir():
        _install()
    version = _version()
    dest = (dest or CORPORA / f"celery-html-{version}").expanduser().resolve()
    if (dest / MARKER).is_file():
        return dest
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise FetchError(
            f"{dest} exists but is not a complete corpus (no {MARKER}); "
            "remove it or choose another --dest"
        )
    if not ARTICLE.is_file():
        raise FetchError(f"bundled article not found: {ARTICLE}")
    # Assemble next to DEST, then swap in, so a half-built DEST never looks complete.
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        size = _copy_pages(staging)
        shutil.copyfile(ARTICLE, staging / ARTICLE.name)
        size += ARTICLE.stat().st_size
        meta = {
            "package": PACKAGE, "version": version, "source": str(DOC_ROOT),
            "files": len(PAGES) + 1, "bytes": size,
        }  # fmt: skip
        (staging / MARKER).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if dest.exists():
            dest.rmdir()  # empty (checked above)
        os.replace(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = CORPORA / "celery-html-VERSION"
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


if __name__ == "__main__":
    sys.exit(main())
