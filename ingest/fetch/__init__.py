"""Articles from the web: a guarded fetch of a URL (guard), its main content as a Markdown
document (article), and the article URLs of a feed or sitemap (feeds)."""

from ingest.fetch.article import Article, article_document, extract_article
from ingest.fetch.feeds import FEED_ACCEPT, FeedLinks, feed_links
from ingest.fetch.guard import Fetched, FetchPolicy, fetch

__all__ = [
    "FEED_ACCEPT",
    "Article",
    "FeedLinks",
    "FetchPolicy",
    "Fetched",
    "article_document",
    "extract_article",
    "feed_links",
    "fetch",
]
