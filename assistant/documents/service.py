"""`Documents`: what every edge (HTTP, CLI, Slack) calls to read and change the corpus.

Reads come from the live index (a `Catalog` per generation). Changes run as jobs through
the service's own ingest (the CLI's code, incremental, one writer at a time); each is
checked before anything is written, and one that fails puts back what it replaced, so a
failed change leaves the index as it was.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.documents.catalog import Catalog, DocumentInfo, Section
from assistant.documents.copies import Copies
from assistant.documents.jobs import Job, JobStore, Outcome, Progress
from assistant.errors import FetchError, IngestError, TooLarge
from assistant.models import document_id
from ingest.pipeline import IngestReport, Named

if TYPE_CHECKING:
    from assistant.service import Assistant

log = logging.getLogger(__name__)
GONE = {404, 410}  # a page that is gone: keep the last good copy
FEED_MAX_FETCHES = 20  # a feed or sitemap, and the sitemaps it nests, read for one feed


class Documents:
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.copies = Copies(self.settings.documents_dir)
        self._jobs: JobStore | None = None

    @property
    def jobs(self) -> JobStore:
        if self._jobs is None:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._jobs = JobStore(self.settings.database)
        return self._jobs

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.close()
            self._jobs = None

    # -- reading ----------------------------------------------------------------------------
    def catalog(self) -> Catalog:
        view = self.assistant.index()
        if view.catalog is None:  # once per generation, shared by every request reading it
            view.catalog = Catalog(view.store.iter_records())
        return view.catalog

    def list(self) -> list[DocumentInfo]:
        return self.catalog().documents

    def get(self, doc_id: str) -> tuple[DocumentInfo, list[Section]]:
        catalog = self.catalog()
        return catalog.get(doc_id), catalog.sections(doc_id)

    def find(self, name: str) -> DocumentInfo:
        return self.catalog().find(name)

    def job(self, job_id: str) -> Job:
        return self.jobs.get(job_id)

    # -- changing ---------------------------------------------------------------------------
    def add_file(self, filename: str, data: bytes, *, wait: bool = False) -> Job:
        """Add (or replace) an uploaded file. Checked now: an unsupported, oversize or
        unreadable file is refused before anything is kept."""
        if len(data) > self.settings.max_upload_bytes:
            raise TooLarge(f"{filename}: {len(data)} bytes; the limit is "
                           f"{self.settings.max_upload_bytes}")  # fmt: skip
        target = self.copies.upload_target(filename)
        staged = self.copies.stage(data, target.path.suffix)
        try:
            _check_readable(staged, target)
        except Exception:
            staged.unlink(missing_ok=True)
            raise

        def work(progress: Progress) -> Outcome:
            report = self._replace(target, staged, progress)
            return _outcome(target, report)

        return self._start("upload", work, wait)

    def add_url(self, url: str, *, wait: bool = False) -> Job:
        url = self._checked_url(url)

        def work(progress: Progress) -> Outcome:
            return self._fetch_and_ingest([url], progress)

        return self._start("url", work, wait)

    def add_feed(self, url: str, *, wait: bool = False) -> Job:
        url = self._checked_url(url)

        def work(progress: Progress) -> Outcome:
            articles, title = self._feed_articles(url)
            # a feed's articles are one work, titled by the feed (front matter `series`)
            outcome = self._fetch_and_ingest(articles, progress, series=title)
            name = f"{title!r}: " if title else ""
            outcome.message = f"feed {name}{len(articles)} articles; {outcome.message}"
            return outcome

        return self._start("feed", work, wait)

    def refresh(self, doc_id: str, *, wait: bool = False) -> Job:
        self.catalog().get(doc_id)  # NotFound now, not in the job

        def work(progress: Progress) -> Outcome:
            doc = self.catalog().get(doc_id)  # as it is when the job runs: maybe deleted since
            if doc.url:
                series = self.copies.article_meta(doc.url).get("series")
                return self._fetch_and_ingest([doc.url], progress, series=series)
            target = Named(Path(doc.path), doc.source, doc.path)
            if not target.path.exists():
                raise IngestError(doc.source, "the file is gone: delete the document instead")
            return _outcome(target, self.assistant.ingest([target], progress=progress))

        return self._start("refresh", work, wait)

    def remove(self, doc_id: str, *, wait: bool = False) -> Job:
        doc = self.catalog().get(doc_id)
        origin = doc.url or doc.path

        def work(progress: Progress) -> Outcome:
            removed = self.assistant.remove_documents([origin])
            self.copies.remove(origin)
            return Outcome(f"{doc.source}: removed ({removed} chunks)", [doc.id])

        return self._start("delete", work, wait)

    def recover(self) -> Job | None:
        """After a crash mid-write (the index is marked unclean), finish what was being
        written: every kept copy is read again, which costs nothing where it is stored."""
        if self.assistant.store.state().get("clean") != "0":
            return None

        def work(progress: Progress) -> Outcome:
            if self.assistant.store.state().get("clean") != "0":
                return Outcome("nothing to recover")  # another worker did it first
            targets = self.copies.targets()
            report = self.assistant.ingest(targets, progress=progress)
            return Outcome(f"recovered: {report.summary()}",
                           [document_id(t.origin) for t in targets], asdict(report))  # fmt: skip

        return self.jobs.submit("recover", work)

    def managed(self) -> list[Named]:
        """The documents added through the API (for a rebuild to read again)."""
        return self.copies.targets()

    # -- the work behind the jobs -----------------------------------------------------------
    def _start(self, kind: str, work, wait: bool) -> Job:
        return self.jobs.run(kind, work) if wait else self.jobs.submit(kind, work)

    def _replace(self, target: Named, staged: Path, progress: Progress) -> IngestReport:
        """Put `staged` in place of `target` and ingest it; on failure, put back what was
        there (or remove what was added)."""
        old = target.path.read_bytes() if target.path.exists() else None
        target.path.parent.mkdir(parents=True, exist_ok=True)
        staged.replace(target.path)
        try:
            report = self.assistant.ingest([target], progress=progress)
            if report.failed:
                raise IngestError(*report.failed[0])
            return report
        except Exception:
            self._restore(target, old)
            raise

    def _restore(self, target: Named, old: bytes | None) -> None:
        try:
            if old is None:
                target.path.unlink(missing_ok=True)
                self.assistant.remove_documents([target.origin])
            else:
                target.path.write_bytes(old)
                self.assistant.ingest([target])
        except Exception:  # the next write (or recovery) converges it
            log.exception("could not put back %s", target.source)

    def _checked_url(self, url: str) -> str:
        from ingest.fetch.addresses import check_url

        url = (url or "").strip().split("#", 1)[0]
        check_url(url, allow_private=self.settings.fetch_allow_private)  # refused now, not later
        return url

    def _policy(self):
        from ingest.fetch import FetchPolicy

        return FetchPolicy(allow_private=self.settings.fetch_allow_private,
                           timeout_s=self.settings.fetch_timeout_s,
                           max_bytes=self.settings.fetch_max_bytes)  # fmt: skip

    def _fetch_and_ingest(
        self, urls: list[str], progress: Progress, series: str | None = None
    ) -> Outcome:
        """Fetch each article (conditionally: an unchanged page is not downloaded again),
        keep its Markdown, and ingest the kept copies in one run (with the rest of their
        series, so the work stays whole)."""
        targets, notes, failed = [], [], []
        for n, url in enumerate(urls):
            try:
                note = self._fetch_article(url, series)
            except FetchError as exc:
                failed.append(f"{url}: {exc.reason}")
                continue
            finally:
                progress(n + 1, len(urls))
            if note:
                notes.append(note)
            targets.append(self.copies.article_target(url))
        if not targets:
            raise FetchError(urls[0] if len(urls) == 1 else "feed",
                             "; ".join(failed) or "no articles")  # fmt: skip
        rest = [t for t in self.copies.series_targets(series) if t not in targets]
        report = self.assistant.ingest(targets + rest)
        if report.failed:
            failed += [f"{source}: {reason}" for source, reason in report.failed]
        message = f"{len(targets)} article{'s' * (len(targets) != 1)}: {_changes(report)}"
        message += "".join(f"; {n}" for n in notes) + "".join(f"; failed: {f}" for f in failed)
        return Outcome(message, [document_id(t.origin) for t in targets], asdict(report))

    def _fetch_article(self, url: str, series: str | None) -> str:
        """Bring the kept copy of `url` up to date; a note when something is worth saying."""
        from ingest.fetch import article_document, extract_article, fetch

        meta = self.copies.article_meta(url)
        have = self.copies.article_target(url).path.exists()
        try:
            got = fetch(url, self._policy(), etag=meta.get("etag") if have else None,
                        last_modified=meta.get("last_modified") if have else None)  # fmt: skip
        except FetchError as exc:
            if have and exc.status in GONE:
                kept = meta.get("fetched_at", "an earlier fetch")
                return f"{url} now answers {exc.status}: kept the copy from {kept}"
            raise
        if got.not_modified:
            return f"{url} unchanged (HTTP 304)"
        text = article_document(extract_article(got.content, got.url), series)
        now = datetime.now(UTC).isoformat(timespec="seconds")
        changed = self.copies.save_article(url, text, {
            "url": url, "final_url": got.url, "etag": got.etag,
            "last_modified": got.last_modified, "fetched_at": now, "series": series,
        })  # fmt: skip
        return "" if changed else f"{url} unchanged"

    def _feed_articles(self, url: str) -> tuple[list[str], str | None]:
        """The article URLs of a feed or sitemap (nested sitemaps read too), capped."""
        from ingest.fetch import FEED_ACCEPT, feed_links, fetch

        articles: list[str] = []
        title = None
        pending, seen = [url], set()
        while pending and len(articles) < self.settings.feed_max_articles:
            if len(seen) >= FEED_MAX_FETCHES:  # an index of indexes may never end
                break
            current = pending.pop(0)
            if current in seen:
                continue
            seen.add(current)
            try:
                got = fetch(current, self._policy(), accept=FEED_ACCEPT)
                links = feed_links(got.content, current)
            except FetchError:
                if current == url:
                    raise
                log.warning("nested sitemap %s could not be read; going on", current)
                continue
            title = title or links.title
            articles += [a for a in links.articles if a not in articles]
            pending += links.sitemaps
        return articles[: self.settings.feed_max_articles], title


def _check_readable(staged: Path, target: Named) -> None:
    """Read and chunk the file as ingest will: an unreadable one is refused now."""
    from ingest.loaders import load

    doc = load(staged, target.source, origin=target.origin)
    if not doc.sections:
        raise IngestError(target.source, "no text could be extracted")


def _outcome(target: Named, report: IngestReport) -> Outcome:
    if report.failed:
        raise IngestError(*report.failed[0])
    return Outcome(f"{target.source}: {_changes(report)}", [document_id(target.origin)],
                   asdict(report))  # fmt: skip


def _changes(report: IngestReport) -> str:
    return (f"{report.added} chunks added, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.removed} removed")  # fmt: skip
