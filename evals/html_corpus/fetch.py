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

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # evals/: the shared builder
from corpus_build import CORPORA, MARKER, FetchError, assemble
from corpus_build import main as corpus_main

PACKAGE = "python-celery-doc"
DOC_ROOT = Path("/usr/share/doc") / PACKAGE / "html"

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

    def fill(staging: Path) -> dict:
        _copy_pages(staging)
        return {"package": PACKAGE, "version": version, "source": str(DOC_ROOT)}

    return assemble(dest or CORPORA / f"celery-html-{version}", fill)


def main(argv: list[str] | None = None) -> int:
    return corpus_main(build, str(CORPORA / "celery-html-VERSION"), argv)


if __name__ == "__main__":
    sys.exit(main())
