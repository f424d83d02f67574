"""HTML → Markdown that keeps a page's structure: manuals (Sphinx, DocBook, generated API
docs) and ordinary web articles.

lxml parses (libxml2: fast, never fails on tag soup); one walk over the tree writes
CommonMark plus GFM pipe tables:

- Main content only. The root is the first of `[role=main]`, `<main>`, a lone `<article>`,
  Sphinx's `div.body` / `div.document`, else `<body>`. Everywhere, scripts, styles, form
  controls, `<nav>`, `<footer>`, hidden elements and chrome named by its class (Sphinx
  sidebars and "related" bars, DocBook navheader/navfooter, local tables of contents,
  breadcrumbs, pagers, cookie/consent banners, ads, share/social widgets, comments) are
  dropped. Without a root marked as main (`<body>`, `div.document`) the page's
  `<header>`, `<aside>`, sidebars and link farms (≥ 5 links holding ≥ 70% of the text,
  no heading of their own) go too. An element holding more than half of the root's text
  is never dropped for its class: it is the page (a chapter that is only a TOC).
- h1–h6 → `#`…`######` of the same level, text and `code` only (permalinks such as "¶"
  and "#" dropped; section numbers like "14.4.2." kept).
- Paragraphs stay paragraphs, each on one line; `<br>` is a space; links become their
  text; images are dropped, alt text included (logos and badges say nothing; a figure
  keeps its `<figcaption>`); `<strong>` stays `**bold**`, other emphasis becomes plain
  text; `code`/`kbd`/`samp`/`tt` become code spans; a numeric `<sup>` reads `^n`.
- Lists → `- ` / `1. ` items (an `<ol start>` is honoured), nested lists indented.
- Definition lists keep the term glued to its definition:
  - when every definition is one paragraph: `- **term** — definition` items;
  - otherwise (API docs, glossaries with long entries) a paragraph that opens with the
    term, `` `json.dump(obj, fp, *, skipkeys=False)` — Serialize obj as … `` or
    `**term** — …`, followed by the definition's other blocks. A term that is an API
    signature (Sphinx `dt.sig`, `.descname`) is one code span; a term holding code keeps
    its code spans; other terms are bold. Terms sharing one definition are joined with
    ", "; terms without any definition are entries of their own.
- `<pre>` → fenced code block, verbatim, with the language when the markup names it
  (`language-x`, `lang-x`, Sphinx `highlight-x`); line-number gutters are dropped.
- Tables → GFM pipe tables: the header is the `<thead>` / leading all-`<th>` rows (merged
  per column), else a first row of short labels (no code, no sentence), else an empty
  header: the table names no columns; cells are one line with `|` escaped; colspans are
  padded and rowspans repeated so each row reads "column: value"; a caption becomes a
  paragraph before it. A one-column table is a list (its cells keep their paragraphs).
  Presentation tables (role=presentation, ≤ 1 non-empty cell, cells holding headings or
  nested tables) are read as ordinary blocks.
- Admonitions (Sphinx `div.admonition`, DocBook `div.note`/`div.warning`/…, with their
  title element) → a paragraph "Note: …" / "Warning: …" / "See also: …", then the rest.
- Text is escaped just enough that markdown-it reads it back as the same text (no stray
  emphasis, links, HTML or list markers); no tags, entities or "¶" survive outside code.

Title: the `<title>`, without what follows its last " — " / " | " / " – " / " · " (the
site's name); when it starts with the content's first heading, that heading; with no
`<title>`, the first heading.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from lxml import etree
from lxml import html as lxml_html

from ingest.markdown import WARNING_KINDS

__all__ = ["html_to_markdown"]


class _Block(NamedTuple):
    kind: str  # p | h | code | list | table | quote
    text: str


# Segment kinds of inline content.
_TEXT, _CODE, _MD = 0, 1, 2  # raw text to escape | code span content | ready Markdown

_BLOCK_TAGS = frozenset(
    """address article aside blockquote body caption center dd details dialog dir div dl dt
    fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hgroup hr html legend
    li listing main menu nav ol p pre section summary table tbody td tfoot th thead tr ul
    xmp search""".split()
)
_HEADINGS = frozenset("h1 h2 h3 h4 h5 h6".split())
_CODE_TAGS = frozenset("code kbd samp tt".split())
_CODE_ELEMENTS = _CODE_TAGS | {"pre", "listing", "xmp"}  # all that is written as code
_STRONG_TAGS = frozenset(("strong", "b"))
_HEADER_WORDS = 6  # a plain first row names columns only while its cells are this short
# <footer> holds a page's or an article's metadata (tags, bylines, copyright), not text.
_DROP_TAGS = frozenset(
    """footer script style noscript template svg canvas iframe frame frameset object embed applet
    video audio map button input select textarea option optgroup datalist meta link base
    title head nav picture source track param progress meter""".split()
)
_CHROME_ROLES = frozenset(("navigation", "search", "banner", "contentinfo", "menubar"))
# Class names (whole) or class-name parts (split at - and _) that name page chrome.
_CHROME_CLASSES = frozenset(
    """footer related sphinxsidebar sphinxsidebarwrapper navheader navfooter toc headerlink
    viewcode-link viewcode-back linenos lineno linenodiv line-numbers searchbox skip-link
    adsbygoogle""".split()
)
_CHROME_PARTS = frozenset(
    """cookie cookies consent gdpr ad ads advert adverts advertisement sponsor sponsored
    newsletter subscribe share sharing social breadcrumb breadcrumbs navbar navigation nav
    menu pagination pager paginator popup promo comments disqus related""".split()
)
_LOCAL_TOC = frozenset(("contents", "topic")), frozenset(("contents", "local"))
# Only without a strong main root: parts of the page around the content.
_WEAK_PARTS = frozenset(("sidebar", "masthead"))
_CONTENT_ASIDE = frozenset(
    "footnote footnote-list footnotes admonition note warning tip caution topic".split()
)
_ADMONITION_KINDS = {
    "note": "Note", "warning": "Warning", "tip": "Tip", "caution": "Caution",
    "important": "Important", "attention": "Attention", "danger": "Danger",
    "error": "Error", "hint": "Hint", "seealso": "See also", "todo": "Todo",
}  # fmt: skip
_SKIP_LANGS = frozenset(("default", "none", "text", "plain", "plaintext", "nohighlight"))

_SPACE = re.compile(r"[ \t\n\r\f\v\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff¶]")
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)
# Characters markdown-it would read as markup anywhere in a line.
_ESCAPE = re.compile(
    r"\\(?=[!-/:-@\[-`{-~])|[*`]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])"
    r"|<|&(?=#?\w+;)|\](?=[(\[])|~(?=~)|(?<=~)~"
)
# Paragraph openings markdown-it reads as a heading, quote, list item, rule or fence.
_LINE_START = re.compile(r"#{1,6}(?:\s|$)|>|[-+*](?:\s|$)|-[-\s]*$|~~~|```")
_LANG = re.compile(r"^(?:language|lang|highlight|sourceCode)-([\w+#.-]+)$")
_NUMBER = re.compile(r"[-+−]?\d+")
_SEPARATORS = re.compile(r"\s+(?:—|–|\||·)\s+")
_LAYOUT_CELLS = (
    "./tr/td//table|./tbody/tr/td//table|.//td//*[self::h1 or self::h2 or self::h3 or self::h4]"
)
_MAX_SPAN = 50  # colspan/rowspan beyond this are markup errors


def html_to_markdown(html: str) -> tuple[str, str]:
    """(Markdown body, page title). Never raises; the body is "" when there is no text."""
    doc = _parse(html)
    if doc is None:
        return "", ""
    root, strong = _main_root(doc)
    converter = _Converter(root, strong)
    try:
        body = converter.render()
    except Exception:  # pathological trees (recursion): plain paragraphs beat nothing
        body = _plain_paragraphs(root)
    return body, _title(doc, converter.first_heading)


# ---------------------------------------------------------------- document level


def _parse(html: str) -> etree._Element | None:
    # huge_tree: libxml2 otherwise stops at depth 256 and truncates long text nodes.
    parser = lxml_html.HTMLParser(
        encoding="utf-8", remove_comments=True, remove_pis=True, huge_tree=True
    )
    try:  # bytes: lxml refuses str carrying an XML encoding declaration
        return lxml_html.document_fromstring(html.encode("utf-8", "replace"), parser=parser)
    except (etree.ParserError, ValueError, TypeError):  # empty or unusable input
        return None


def _main_root(doc: etree._Element) -> tuple[etree._Element, bool]:
    """The element holding the page's own content, and whether markup says so."""
    body = doc.find("body")
    body = body if body is not None else doc
    for xpath in ('.//*[@role="main"]', ".//main"):
        for el in body.xpath(xpath):
            if _has_words(el):
                return el, True
    articles = [a for a in body.iter("article") if not any(a.iterancestors("article"))]
    if len(articles) == 1 and _has_words(articles[0]):
        return articles[0], True
    for cls, strong in (("body", True), ("document", False)):
        for el in body.xpath(f'.//div[contains(concat(" ", @class, " "), " {cls} ")]'):
            if _has_words(el):
                return el, strong
    return body, False


def _has_words(el: etree._Element) -> bool:
    return any(c.isalnum() for c in el.text_content())


def _title(doc: etree._Element, heading: str) -> str:
    """The <title> without the site's name after it, or the content's first heading."""
    node = doc.find("head/title")
    node = node if node is not None else next(doc.iter("title"), None)
    title = _squash(node.text_content()) if node is not None else ""
    if not title or (heading and title.casefold().startswith(heading.casefold())):
        return heading or title  # "Making queries | Django documentation | Django"
    cuts = list(_SEPARATORS.finditer(title))
    return title[: cuts[-1].start()] if cuts and cuts[-1].start() else title


def _plain_paragraphs(root: etree._Element) -> str:
    """The text alone, for trees too deep to walk."""
    etree.strip_elements(root, *_DROP_TAGS, with_tail=False)
    text = "\n".join(t for t in root.itertext() if t)
    paras = (_escape(_squash(p)) for p in re.split(r"\n\s*\n", text))
    return "\n\n".join(p for p in paras if p)


# ---------------------------------------------------------------- text helpers


def _squash(text: str) -> str:
    return _SPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def _escape(text: str) -> str:
    return _ESCAPE.sub(lambda m: "\\" + m.group(0), text)


def _quoted(text: str) -> _Block:
    return _Block("quote", "\n".join(f"> {ln}" if ln else ">" for ln in text.split("\n")))


def _escape_line_start(text: str) -> str:
    """Escape what would make a paragraph a heading, quote, list item or fence."""
    if _LINE_START.match(text):
        return "\\" + text
    m = re.match(r"\d{1,9}(?=[.)](?:\s|$))", text)
    return f"{text[: m.end()]}\\{text[m.end() :]}" if m else text


def _code_span(code: str) -> str:
    code = _squash(code)
    if not code:
        return ""
    fence = "`" * (max(map(len, re.findall(r"`+", code)), default=0) + 1)
    pad = " " if code[0] == "`" or code[-1] == "`" else ""
    return f"{fence}{pad}{code}{pad}{fence}"


def _join(segs: list[tuple[int, str]]) -> str:
    """Inline segments → one line of Markdown (adjacent code segments form one span)."""
    out: list[str] = []
    code: list[str] = []
    for kind, text in segs:
        if kind == _CODE:
            code.append(text)
            continue
        if code:
            out.append(_code_span("".join(code)))
            code = []
        out.append(_escape(_INVISIBLE.sub("", text)) if kind == _TEXT else text)
    if code:
        out.append(_code_span("".join(code)))
    return _SPACE.sub(" ", "".join(out)).strip()


def _classes(el: etree._Element) -> list[str]:
    return (el.get("class") or "").split()


def _fence(code: str, lang: str) -> str:
    ticks = max((len(m) for m in re.findall(r"^[ \t]*(`{3,})", code, re.M)), default=2)
    fence = "`" * (ticks + 1)
    return f"{fence}{lang}\n{code}\n{fence}"


# ---------------------------------------------------------------- the walk


class _Converter:
    def __init__(self, root: etree._Element, strong: bool) -> None:
        self.root = root
        self.weak = not strong  # no markup vouches for the root: prune harder
        self.root_len = len(root.text_content())
        self._chrome_cache: dict[str, bool] = {}
        self.first_heading = ""

    def render(self) -> str:
        return "\n\n".join(b.text for b in self.blocks(self.root))

    # -- what to drop

    def dropped(self, el: etree._Element) -> bool:
        tag = el.tag
        if not isinstance(tag, str) or tag in _DROP_TAGS:
            return True
        attrib = el.attrib
        if "hidden" in attrib or attrib.get("aria-hidden") == "true":
            return True
        if _HIDDEN_STYLE.search(attrib.get("style", "")):
            return True
        if attrib.get("role") in _CHROME_ROLES:
            return True
        if tag == "form" and self._searchy(el):
            return True
        cls = attrib.get("class", "")
        ident = attrib.get("id", "").lower()
        chrome = (cls and self._chrome_class(cls)) or ident in _CHROME_CLASSES
        chrome = chrome or ident in _CHROME_PARTS
        if not chrome and self.weak:
            chrome = self._weak_chrome(el, tag, cls, ident)
        return chrome and not self._is_the_page(el)

    def _chrome_class(self, cls: str) -> bool:
        hit = self._chrome_cache.get(cls)
        if hit is None:
            names = cls.lower().split()
            hit = any(n in _CHROME_CLASSES for n in names)
            hit = hit or any(p in _CHROME_PARTS for n in names for p in re.split(r"[-_]", n))
            hit = hit or any(t <= set(names) for t in _LOCAL_TOC)
            self._chrome_cache[cls] = hit
        return hit

    def _weak_chrome(self, el: etree._Element, tag: str, cls: str, ident: str) -> bool:
        """Chrome that only a page without a marked main content shows."""
        if tag == "header":  # the page's, not an article's or section's
            return not any(el.iterancestors("article", "section", "main"))
        if tag == "aside":
            return not (_CONTENT_ASIDE & set(cls.lower().split()))
        names = cls.lower().split() + ([ident] if ident else [])
        if any(p in _WEAK_PARTS for n in names for p in re.split(r"[-_]", n)):
            return True
        return tag in ("div", "ul", "ol", "table", "section", "dl") and self._link_farm(el)

    @staticmethod
    def _link_farm(el: etree._Element) -> bool:
        links = el.findall(".//a")
        if len(links) < 5:
            return False
        for h in el.iter(*_HEADINGS):  # a titled section of links is content (an index)
            if len(_squash(h.text_content())) > sum(
                len(_squash(a.text_content())) for a in h.iter("a")
            ):
                return False
        text = len(_squash(el.text_content()))
        linked = sum(len(_squash(a.text_content())) for a in links)
        return text > 0 and linked / text >= 0.7

    def _is_the_page(self, el: etree._Element) -> bool:
        return len(el.text_content()) > 0.5 * self.root_len

    @staticmethod
    def _searchy(el: etree._Element) -> bool:
        names = " ".join((el.get("class", ""), el.get("id", ""), el.get("action", "")))
        return "search" in names.lower()

    # -- blocks

    def blocks(self, el: etree._Element, skip: etree._Element | None = None) -> list[_Block]:
        """The blocks of `el`'s content; runs of inline content become paragraphs."""
        out: list[_Block] = []
        run: list[tuple[int, str]] = []
        if el.text:
            run.append((_TEXT, el.text))
        for child in el:
            if child is not skip and not self.dropped(child):
                if self._is_block(child):
                    self._paragraph(run, out)
                    out.extend(self.block(child))
                else:
                    self.inline(child, run, rich=True)
            if child.tail:
                run.append((_TEXT, child.tail))
        self._paragraph(run, out)
        return out

    @staticmethod
    def _is_block(el: etree._Element) -> bool:
        if el.tag in _BLOCK_TAGS:
            return True
        # An inline element wrapping blocks (a card inside <a>) is a container.
        return next(el.iterdescendants(*_BLOCK_TAGS), None) is not None

    @staticmethod
    def _paragraph(run: list[tuple[int, str]], out: list[_Block]) -> None:
        text = _join(run)
        run.clear()
        if text:
            out.append(_Block("p", _escape_line_start(text)))

    def block(self, el: etree._Element) -> list[_Block]:
        tag = el.tag
        if tag in _HEADINGS:
            return self.heading(el)
        if tag in ("pre", "listing", "xmp"):
            return self.code_block(el)
        if tag in ("ul", "ol", "menu", "dir"):
            return self.list(el)
        if tag == "dl":
            return self.definitions(el)
        if tag == "table":
            return self.table(el)
        if tag == "blockquote":
            return self.quote(el)
        if tag in ("hr", "br"):
            return []
        if tag in ("div", "aside", "section") and (admonition := self.admonition(el)):
            return admonition
        return self.blocks(el)

    def heading(self, el: etree._Element) -> list[_Block]:
        segs: list[tuple[int, str]] = []
        self.inline_content(el, segs, rich=False)
        text = re.sub(r"(^|\s)(#+)$", r"\1\\\2", _join(segs))
        if not text:
            return []
        if not self.first_heading:
            self.first_heading = _squash(self.plain(el))
        return [_Block("h", f"{'#' * int(el.tag[1])} {text}")]

    def code_block(self, el: etree._Element) -> list[_Block]:
        code = self.plain(el, pre=True).strip("\n")
        if not code.strip():
            return []
        return [_Block("code", _fence(code.rstrip(), self._language(el)))]

    @staticmethod
    def _language(el: etree._Element) -> str:
        # The name sits on the <pre>, its <code>, or (Sphinx) a wrapper or two above.
        candidates = [el, *el.iterchildren("code")]
        candidates += [a for _, a in zip(range(2), el.iterancestors(), strict=False)]
        for node in candidates:
            for name in _classes(node):
                m = _LANG.match(name)
                if m and m.group(1).lower() not in _SKIP_LANGS:
                    return m.group(1)
        return ""

    def list(self, el: etree._Element) -> list[_Block]:
        ordered = el.tag == "ol"
        try:
            number = max(0, min(int(el.get("start") or 1), 999_999_999))
        except ValueError:
            number = 1
        items: list[str] = []
        for child in el:
            if self.dropped(child):
                continue
            blocks = self.blocks(child) if child.tag == "li" else self.block(child)
            if not blocks:
                continue
            marker = f"{number}. " if ordered else "- "
            number += 1
            items.append(_indent(marker, _stack(blocks)))
        if not items:
            return []
        loose = any("\n\n" in item for item in items)
        return [_Block("list", ("\n\n" if loose else "\n").join(items))]

    def quote(self, el: etree._Element) -> list[_Block]:
        inner = "\n\n".join(b.text for b in self.blocks(el))
        if not inner:
            return []
        return [_quoted(inner)]

    # -- definition lists

    def definitions(self, el: etree._Element) -> list[_Block]:
        groups: list[_Entry] = []
        for child in self._dl_children(el):
            if child.tag == "dt":
                if not groups or groups[-1].body:
                    groups.append(_Entry())
                term, sig = self.term(child)
                groups[-1].terms += [term] if term else []
                groups[-1].signature |= sig
            else:
                if not groups:
                    groups.append(_Entry())
                groups[-1].body += self.blocks(child) if child.tag == "dd" else self.block(child)
        groups = [part for entry in groups for part in entry.split()]
        if all(entry.is_short for entry in groups):
            items = [
                f"- {', '.join(e.terms)} — {e.body[0].text}"
                if e.body
                else f"- {', '.join(e.terms)}"
                for e in groups
            ]
            return [_Block("list", "\n".join(items))] if items else []
        out: list[_Block] = []
        for entry in groups:
            head = ", ".join(entry.terms)
            if head and entry.body and entry.body[0].kind == "p":
                out.append(_Block("p", f"{head} — {entry.body[0].text}"))
                out.extend(entry.body[1:])
            else:
                out.extend(([_Block("p", head)] if head else []) + entry.body)
        return out

    def _dl_children(self, el: etree._Element) -> list[etree._Element]:
        out = []
        for child in el:
            if self.dropped(child):
                continue
            if child.tag == "div" and next(child.iterchildren("dt", "dd"), None) is not None:
                out.extend(self._dl_children(child))  # HTML allows <div> around dt/dd pairs
            else:
                out.append(child)
        return out

    def term(self, dt: etree._Element) -> tuple[str, bool]:
        """(Markdown of a <dt>, whether it is an API signature)."""
        if self._signature(dt):
            return _code_span(self.plain(dt)), True
        segs: list[tuple[int, str]] = []
        self.inline_content(dt, segs, rich=False)
        text = _join(segs).rstrip(":").rstrip()
        if not text or "`" in text or not (text[0].isalnum() and text[-1].isalnum()):
            return _escape_line_start(text) if text else "", False
        return f"**{text}**", False

    @staticmethod
    def _signature(dt: etree._Element) -> bool:
        if any(c.startswith("sig") for c in _classes(dt)):
            return True
        return bool(dt.xpath('.//*[contains(@class, "descname") or contains(@class, "sig-name")]'))

    # -- tables

    def table(self, el: etree._Element) -> list[_Block]:
        if el.get("role") in ("presentation", "none") or self._layout(el):
            return self.blocks(el)
        rows = el.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr")
        cells = [[c for c in tr.xpath("./td|./th") if not self.dropped(c)] for tr in rows]
        texts = [[self.cell(c) for c in row] for row in cells]
        filled = [c for row, ts in zip(cells, texts, strict=True)
                  for c, t in zip(row, ts, strict=True) if t]  # fmt: skip
        if len(filled) <= 1:  # a frame around one thing (code with a line-number gutter)
            return self.blocks(filled[0]) if filled else []
        heads = self._header_rows(rows, cells)
        grid = _grid(cells, texts, heads)
        width = max(map(len, grid))
        grid = [row + [""] * (width - len(row)) for row in grid]
        header = [" ".join(dict.fromkeys(r[i] for r in grid[:heads] if r[i])) for i in range(width)]
        out = []
        caption = el.find("caption")
        if caption is not None and (text := self.cell(caption)):
            out.append(_Block("p", _escape_line_start(text.replace("\\|", "|"))))
        if width == 1:  # one column is a list: its cells keep their paragraphs and code
            if header[0]:
                out.append(_Block("p", _escape_line_start(header[0].replace("\\|", "|"))))
            items = [
                _indent("- ", "\n\n".join(b.text for b in blocks))
                for row in cells[heads:]
                for c in row[:1]
                if (blocks := self.blocks(c))
            ]
            return [*out, _Block("list", "\n\n".join(items))] if items else out
        lines = [_row(header), "| " + " | ".join(["---"] * width) + " |"]
        lines += [_row(row) for row in grid[heads:] if any(row)]
        return [*out, _Block("table", "\n".join(lines))]

    @staticmethod
    def _header_rows(rows: list[etree._Element], cells: list[list[etree._Element]]) -> int:
        """The <thead> rows, else the leading all-<th> rows, else a first row of short
        labels; else none. A first row holding code or a sentence ("`TERM` | Warm
        shutdown, wait for tasks to complete.") is content like the rest: the table
        names no columns."""
        heads = sum(1 for tr in rows if tr.getparent().tag == "thead")
        if not heads:
            heads = next((i for i, row in enumerate(cells) if not row or
                          any(c.tag != "th" for c in row)), len(cells))  # fmt: skip
        if not heads:
            heads = int(bool(cells and cells[0]) and all(map(_label_cell, cells[0])))
        return heads if heads < len(rows) else 1

    @staticmethod
    def _layout(el: etree._Element) -> bool:
        """A table used to lay out a page: cells holding headings or other tables."""
        return bool(el.xpath(_LAYOUT_CELLS))

    def cell(self, el: etree._Element) -> str:
        if self.dropped(el):
            return ""
        segs: list[tuple[int, str]] = []
        self.inline_content(el, segs, rich=False)
        return _join(segs).replace("|", "\\|")

    # -- admonitions

    def admonition(self, el: etree._Element) -> list[_Block] | None:
        names = [n.lower() for n in _classes(el)]
        generic = any("admonition" in re.split(r"[-_]", n) for n in names)
        kind = next((_ADMONITION_KINDS[n] for n in names if n in _ADMONITION_KINDS), "")
        if not (generic or kind):
            return None
        first = next((c for c in el if isinstance(c.tag, str) and not self.dropped(c)), None)
        title_el = None
        if first is not None and (
            first.tag in _HEADINGS or any("title" in re.split(r"[-_]", n) for n in _classes(first))
        ):
            title_el = first
        title = ""
        if title_el is not None:
            segs: list[tuple[int, str]] = []
            self.inline_content(title_el, segs, rich=False)
            title = _join(segs).rstrip(":").rstrip()
        title = title or kind
        if not title:
            return None
        body = self.blocks(el, skip=title_el)
        if body and body[0].kind == "p":
            blocks = [_Block("p", f"{title}: {body[0].text}"), *body[1:]]
        else:
            blocks = [_Block("p", _escape_line_start(f"{title}:")), *body]
        if kind.lower() not in WARNING_KINDS:
            return blocks
        # A warning stays one quote, led by its kind: every line of it warns.
        inner = "\n\n".join(b.text for b in blocks)
        if not inner.lower().startswith(kind.lower()):
            inner = f"{kind}: {inner}"
        return [_quoted(inner)]

    # -- inline content

    def inline_content(self, el: etree._Element, out: list, *, rich: bool) -> None:
        if el.text:
            out.append((_TEXT, el.text))
        for child in el:
            if not self.dropped(child):
                self.inline(child, out, rich=rich)
            if child.tail:
                out.append((_TEXT, child.tail))

    def inline(self, el: etree._Element, out: list, *, rich: bool) -> None:
        """Append `el` (not its tail) as inline segments."""
        tag = el.tag
        if tag in _CODE_ELEMENTS:
            out.append((_CODE, self.plain(el)))
        elif tag == "br":
            out.append((_TEXT, " "))
        elif tag == "img":
            return
        elif tag == "a":
            self._link(el, out, rich=rich)
        elif tag in _STRONG_TAGS and rich:
            self._strong(el, out)
        elif tag == "sup" and _NUMBER.fullmatch(_squash(el.text_content())):
            out.append((_TEXT, "^" if not any(el.iterancestors("a")) else ""))
            self.inline_content(el, out, rich=rich)
        elif tag in _BLOCK_TAGS:  # a block inside a cell, heading or term: words apart
            out.append((_TEXT, " "))
            self.inline_content(el, out, rich=rich)
            out.append((_TEXT, " "))
        else:
            self.inline_content(el, out, rich=rich)

    def _link(self, el: etree._Element, out: list, *, rich: bool) -> None:
        text = _squash(el.text_content())
        if len(text) == 1 and not text.isalnum() and el.get("href", "#").startswith("#"):
            return  # a permalink marker: "¶", "#", "§"
        if "brackets" in _classes(el) and text.isdigit():
            out.append((_TEXT, f"[{text}]"))  # docutils footnote reference
            return
        if not rich or not text:
            self.inline_content(el, out, rich=rich)
            return
        # Written as a link (to nowhere: the URL is not the reader's text) so the Markdown
        # stage can tell a list of links, a table of contents, from prose.
        inner: list[tuple[int, str]] = []
        self.inline_content(el, inner, rich=False)
        if not _join(inner):
            return
        out += [(_MD, "["), *inner, (_MD, "](#)")]

    def _strong(self, el: etree._Element, out: list) -> None:
        inner: list[tuple[int, str]] = []
        self.inline_content(el, inner, rich=False)
        text = _join(inner)
        if not text:
            return
        raw = "".join(t for _, t in inner)
        lead = " " if raw[:1].isspace() else ""
        trail = " " if raw[-1:].isspace() else ""
        # Delimiters next to punctuation may not parse as emphasis: then plain text.
        bold = text[0].isalnum() and text[-1].isalnum() and "*" not in text
        out.append((_MD, f"{lead}**{text}**{trail}" if bold else f"{lead}{text}{trail}"))

    def plain(self, el: etree._Element, *, pre: bool = False) -> str:
        """Text of `el` without dropped parts; with `pre`, <br> is a line break."""
        parts: list[str] = []
        self._plain(el, parts, "\n" if pre else " ")
        return "".join(parts)

    def _plain(self, el: etree._Element, parts: list[str], br: str) -> None:
        if el.tag == "br":
            parts.append(br)
        if el.text:
            parts.append(el.text)
        for child in el:
            if not self.dropped(child):
                self._plain(child, parts, br)
            if child.tail:
                parts.append(child.tail)


@dataclass
class _Entry:
    """One entry of a definition list: its terms and the blocks defining them."""

    terms: list[str] = field(default_factory=list)
    body: list[_Block] = field(default_factory=list)
    signature: bool = False

    @property
    def is_short(self) -> bool:  # fits a "- term — definition" item
        return (
            bool(self.terms)
            and not self.signature
            and len(self.body) <= 1
            and all(b.kind == "p" for b in self.body)
        )

    def split(self) -> list[_Entry]:
        """Terms sharing a definition stay together; terms without one are separate."""
        if self.body or len(self.terms) < 2:
            return [self]
        return [_Entry([t], [], self.signature) for t in self.terms]


def _stack(blocks: list[_Block]) -> str:
    """An item's blocks; a sub-list that may interrupt a paragraph follows it directly,
    so a list of short items stays tight."""
    out = blocks[0].text
    for prev, block in itertools.pairwise(blocks):
        tight = prev.kind == "p" and block.kind == "list" and block.text.startswith(("- ", "1. "))
        out += ("\n" if tight else "\n\n") + block.text
    return out


def _indent(marker: str, text: str) -> str:
    pad = " " * len(marker)
    lines = text.split("\n")
    return "\n".join([marker + lines[0]] + [pad + ln if ln else "" for ln in lines[1:]])


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _span(cell: etree._Element, name: str) -> int:
    try:
        return max(1, min(int(cell.get(name) or 1), _MAX_SPAN))
    except ValueError:
        return 1


def _label_cell(cell: etree._Element) -> bool:
    """A cell that reads as a column name: a few words, no code, not a sentence."""
    text = " ".join("".join(cell.itertext()).split())
    return (
        len(text.split()) <= _HEADER_WORDS
        and not text.endswith((".", "!", "?", ";"))
        and not any(el.tag in _CODE_ELEMENTS for el in cell.iter())
    )


def _grid(cells: list[list[etree._Element]], texts: list[list[str]], heads: int) -> list[list[str]]:
    """Rows of cell texts with spans resolved: a header colspan repeats its text (so
    stacked headers merge per column), a body colspan pads; a rowspan repeats down."""
    grid: list[list[str]] = []
    carry: dict[int, list] = {}  # column → [rows left, text]
    for r, (row, row_texts) in enumerate(zip(cells, texts, strict=True)):
        out: list[str] = []

        def take_carried(out: list[str] = out) -> None:
            while len(out) in carry:
                held = carry[len(out)]
                out.append(held[1])
                held[0] -= 1
                if not held[0]:
                    del carry[len(out) - 1]

        for cell, text in zip(row, row_texts, strict=True):
            take_carried()
            for k in range(_span(cell, "colspan")):
                if rows := _span(cell, "rowspan") - 1:
                    carry[len(out)] = [rows, text]
                out.append(text if k == 0 or r < heads else "")
        take_carried()
        for col in sorted(c for c in carry if c >= len(out)):
            out.extend([""] * (col - len(out)))
            take_carried()
        grid.append(out)
    return grid
