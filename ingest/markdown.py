"""Markdown → sections of typed blocks, whatever the dialect (CommonMark, GitHub, MkDocs).

markdown-it-py does the parsing; this module only decides what each piece is:
- every heading level (h1–h6, and `<h1>` written as HTML) opens a section with its full
  heading path;
- paragraphs and list items are prose with their inline markup cleaned (links read as
  their text, images and HTML tags gone, code spans kept);
- GFM tables and HTML tables become a header plus rows (cells may hold code, so a
  "Bad | Good" pair stays a pair);
- fenced and indented code stays whole;
- a paragraph or item that is mostly links or images (tables of contents, "further
  reading", badges) is `nav`: kept for reading, never evidence.
MkDocs/Docusaurus constructs (admonitions, `///` blocks, tabs, attribute lists, snippet
includes) are rewritten to plain Markdown first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

NAV_SHARE = 0.7  # share of a passage's letters inside links above which it is navigation
# Admonitions that warn, in every dialect (Markdown quotes, MkDocs blocks, Sphinx divs).
WARNING_KINDS = frozenset(("warning", "caution", "danger"))
_KINDS = "|".join(sorted(WARNING_KINDS))
# A quote opened by a warning's label ("> ⚠ Warning:", "> **Caution**", "> [!WARNING]") is
# a warning admonition: every block in it warns, not only the line with the label.
_WARNING_QUOTE = re.compile(rf"^\s*\**\s*(?:[⚠❗🚨]|\[!(?:{_KINDS})\]|(?:{_KINDS})\b)", re.I)


@dataclass
class Block:
    kind: str  # prose | bullet | table | code | nav
    text: str = ""  # prose and bullets: cleaned inline text; code: its content
    marker: str = ""  # a bullet's list marker ("-", "1.")
    lang: str = ""  # a code block's language
    header: list[str] = field(default_factory=list)  # a table's column names
    rows: list[list[str]] = field(default_factory=list)
    warns: bool = False  # inside a warning admonition


@dataclass
class Section:
    path: list[str]  # heading texts from the top level down ([] before the first heading)
    levels: list[int]  # the heading level of each entry of `path`
    blocks: list[Block] = field(default_factory=list)


@cache
def _parser() -> MarkdownIt:
    # markdown-it stops reading at 20 levels of nesting by default, dropping the rest of
    # the document: a deep list or quote must not cost the text after it.
    options = {"html": True, "maxNesting": 200}
    return MarkdownIt("commonmark", options).enable(["table", "strikethrough"])


def parse(text: str) -> list[Section]:
    """The document's sections in order; sections without blocks are kept (a heading
    that only opens sub-sections still names them)."""
    tokens = _parser().parse(normalize_dialect(text))
    return _Walker().walk(tokens)


# ---------------------------------------------------------------- dialects


_FENCE = re.compile(r"^\s*(```+|~~~+)")
_ATTR_LIST = re.compile(r"\s*\{\s*[#.:][^{}]*\}\s*$")  # "## Title { #anchor }", "text {: .lead }"
# "![logo](x.png){ width=300 }", "[Go](x){ .md-button }": attributes right after an element.
_ATTR_AFTER = re.compile(r"(?<=[)\]])\{\s*(?:[#.:][^{}]*|[\w-]+=[^{}]*)\}")
_INCLUDE = re.compile(r"^\s*(?:\{\*.*\*\}|--8<--.*|\{!.*!\})\s*$")  # snippet includes
_ADMONITION = re.compile(r"^(\s*)(?:!!!|\?\?\?\+?)\s*([\w-]+)(?:\s+\"([^\"]*)\")?\s*$")
# pymdownx `/// note | Title`, `//// note` (nested); Docusaurus `:::tip Title`, `:::tip[Title]`.
_BLOCK_OPEN = re.compile(r"^\s*(?:/{3,}|:{3,})\s*([\w-]+)?\s*(?:\|\s*(.*)|\[(.*)\]|\s(.*))?$")
_BLOCK_CLOSE = re.compile(r"^\s*(?:/{3,}|:{3,})\s*$")
_BLOCK_OPTION = re.compile(r"^\s+[\w-]+:\s*\S")  # `    type: warning` under a `///` line
_TAB = re.compile(r"^(\s*)===\+?\s+\"([^\"]*)\"\s*$")
_STARTS_BLOCK = re.compile(r"^\s*(?:[-*+]\s|\d+[.)]\s|#|\||```|~~~|>)")


def normalize_dialect(text: str) -> str:
    """MkDocs/pymdownx/Docusaurus markup as CommonMark. An admonition or tab keeps its
    title as its body's opening words ("**Tip:** …") and its body un-indented, so the
    body is prose, not an indented code block. Code fences are left untouched."""
    out: list[str] = []
    fence = ""
    dedent: list[int] = []  # indentation to remove inside open admonitions/tabs
    warning: list[bool] = []  # for each of those: a warning's?
    blocks: list[bool] = []  # open `///` / `:::` blocks: a warning's?
    quoted: set[int] = set()  # lines of `out` inside a warning: they become one quote
    title = ""  # an admonition's title, waiting for the first line of its body
    options = False  # just after a `///` line: its option lines are not text
    written = 0
    for line in text.split("\n"):
        if any(warning) or any(blocks):  # what the line before wrote was inside a warning
            quoted.update(range(written, len(out)))
        written = len(out)
        m = _FENCE.match(line)
        if fence:
            out.append(_dedent(line, dedent))
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = ""
            continue
        if options and _BLOCK_OPTION.match(line):
            continue
        options = False
        while dedent and line.strip() and _indent(line) < dedent[-1]:
            dedent.pop()
            warning.pop()
        if _INCLUDE.match(line):
            continue
        if a := _ADMONITION.match(line) or _TAB.match(line):
            named = a.group(3) if a.re is _ADMONITION else a.group(2)
            title = _flush(out, title)
            title = named if named is not None else a.group(2).capitalize()
            warns = a.re is _ADMONITION and a.group(2).lower() in WARNING_KINDS
            title = _warning_title(title, a.group(2)) if warns else title
            dedent.append(_indent(line) + 4)
            warning.append(warns)
            continue
        if _BLOCK_CLOSE.match(line):
            title = _flush(out, title)
            if blocks:
                blocks.pop()
            out.append("")
            continue
        if b := _BLOCK_OPEN.match(line):
            title = _flush(out, title)
            title = (
                next((g.strip() for g in b.groups()[1:] if g and g.strip()), "")
                or (b.group(1) or "").capitalize()
            )
            warns = (b.group(1) or "").lower() in WARNING_KINDS
            title = _warning_title(title, b.group(1)) if warns else title
            blocks.append(warns)
            options = True
            continue
        if m:
            title = _flush(out, title)
            fence = m.group(1)
            out.append(_dedent(line, dedent))
            continue
        line = _dedent(line, dedent)
        if line.lstrip().startswith("#"):
            line = _ATTR_LIST.sub("", line)
        line = _ATTR_AFTER.sub("", line)
        line = _ATTR_LIST.sub("", line) if line.rstrip().endswith("}") else line
        if title and line.strip():
            if _STARTS_BLOCK.match(line):
                title = _flush(out, title)
            else:  # the title opens the body's first paragraph
                indent = line[: _indent(line)]
                line, title = f"{indent}**{title}:** {line.lstrip()}", ""
        out.append(line)
    _flush(out, title)
    if any(warning) or any(blocks):
        quoted.update(range(written, len(out)))
    return "\n".join(
        (f"> {ln}" if ln.strip() else ">") if n in quoted else ln for n, ln in enumerate(out)
    )


def _warning_title(title: str, kind: str) -> str:
    """A warning's title names it one ("Careful" → "⚠ Careful"), as a quote's label."""
    return title if kind.lower() in title.lower() else f"⚠ {title}"


def _flush(out: list[str], title: str) -> str:
    """Write a waiting title on its own line (its body opens with a list or code)."""
    if title:
        out += [f"**{title}:**", ""]
    return ""


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _dedent(line: str, dedent: list[int]) -> str:
    if not dedent:
        return line
    cut = min(dedent[-1], _indent(line))
    return line[cut:]


# ---------------------------------------------------------------- inline text


@dataclass
class _Inline:
    text: str
    linked: int  # letters inside links (and image alt texts)
    letters: int  # letters in all

    @property
    def is_nav(self) -> bool:
        if not self.text.strip():
            return False
        return self.letters == 0 or self.linked / self.letters >= NAV_SHARE


_LETTER = re.compile(r"[^\W_]", re.U)


def inline_text(token: Token, lines: bool = False, emphasis: bool = True) -> _Inline:
    """An inline token's text as a reader sees it: link text without its URL, no images
    or HTML tags, code spans and emphasis kept as Markdown. With `lines`, its source
    line breaks are kept (a passage giving orders is judged line by line); without
    `emphasis`, bold and italics are plain words."""
    parts: list[str] = []
    linked = letters = depth = 0
    images = 0
    for child in token.children or []:
        piece = ""
        if child.type == "text":
            piece = child.content
        elif child.type == "code_inline":
            piece = f"`{child.content}`"
        elif child.type in {"softbreak", "hardbreak"}:
            piece = "\n" if lines else " "
        elif child.type == "link_open":
            depth += 1
        elif child.type == "link_close":
            depth = max(0, depth - 1)
        elif child.type == "image":
            images += 1
        elif child.type in {"strong_open", "strong_close", "em_open", "em_close"}:
            piece = child.markup if emphasis else ""
        elif child.type in {"s_open", "s_close"}:
            piece = "~~"
        elif child.type == "html_inline":
            piece = _inline_html(child.content)
        n = len(_LETTER.findall(piece))
        letters += n
        linked += n if depth else 0
        parts.append(piece)
    text = "\n".join(filter(None, map(_tidy, "".join(parts).split("\n"))))
    if images and not _LETTER.search(text):  # badges and logos: nothing to read
        return _Inline(text, 1, 1) if text else _Inline("", 0, 0)
    return _Inline(text, linked, letters)


def _inline_html(tag: str) -> str:
    low = tag.lower()
    if low.startswith("<br"):
        return " "
    if re.match(r"</?code\b", low):
        return "`"
    return ""


def _tidy(text: str) -> str:
    text = re.sub(r"\*\*\s*\*\*|``", "", text)  # emphasis or code left empty by a tag
    return " ".join(text.split())


# ---------------------------------------------------------------- HTML inside Markdown


class _HTMLBits(HTMLParser):
    """The text, headings, code and table cells of an HTML block written inside Markdown.
    Text inside a link is marked, so a bar of links reads as navigation."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        # (kind, text): text | link | code | heading<n> | /heading | tr | cell | table | /table
        self.events: list[tuple[str, str]] = []
        self._skip = 0
        self._links = 0
        self._pre: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in {"script", "style"}:
            self._skip += 1
        elif tag == "pre":
            self._pre = []
        elif tag == "a":
            self._links += 1
        elif tag in {"th", "td"}:
            self.events.append(("cell", tag))
        elif tag == "tr":
            self.events.append(("tr", ""))
        elif tag == "table":
            self.events.append(("table", ""))
        elif re.fullmatch(r"h[1-6]", tag):
            self.events.append((f"heading{tag[1]}", ""))
        elif tag in {"p", "div", "br", "li", "details", "summary"}:
            self.events.append(("break", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag in {"script", "style"}:
            self._skip = max(0, self._skip - 1)
        elif tag == "pre" and self._pre is not None:
            self.events.append(("code", "".join(self._pre)))
            self._pre = None
        elif tag == "a":
            self._links = max(0, self._links - 1)
        elif tag == "table":
            self.events.append(("/table", ""))
        elif re.fullmatch(r"h[1-6]", tag):
            self.events.append(("/heading", ""))
        elif tag in {"p", "div", "li", "summary"}:
            self.events.append(("break", ""))

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        if self._pre is not None:
            self._pre.append(data)
        elif data.strip():
            self.events.append(("link" if self._links else "text", data))


# ---------------------------------------------------------------- the walk


class _Walker:
    def __init__(self) -> None:
        self.sections: list[Section] = [Section([], [])]
        self.stack: list[tuple[int, str]] = []  # open headings (level, text)
        self.table: _HtmlTable | None = None  # an HTML table spanning several blocks
        self.lists: list[str] = []  # markers of the open lists
        self.item_opened = False  # the next inline is the first of a list item
        # Open quotes, innermost last: a warning admonition, or not; None until the
        # quote's first line is read.
        self.quotes: list[bool | None] = []

    # sections
    def heading(self, level: int, text: str) -> None:
        if not text:
            return
        if self.table is not None:  # a heading ends a table left open
            self.table, table = None, self.table
            table.flush(self)
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, text))
        self.sections.append(Section([t for _, t in self.stack], [lv for lv, _ in self.stack]))

    def add(self, block: Block) -> None:
        block.warns = block.warns or any(self.quotes)
        if self.table is not None:
            self.table.add(block)
        else:
            self.sections[-1].blocks.append(block)

    def walk(self, tokens: list[Token]) -> list[Section]:
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if tok.type == "heading_open":
                # A heading names a section: its words, not their emphasis.
                self.heading(int(tok.tag[1]), inline_text(tokens[i + 1], emphasis=False).text)
                i += 3
                continue
            if tok.type in {"bullet_list_open", "ordered_list_open"}:
                self.lists.append("1." if tok.type == "ordered_list_open" else "-")
            elif tok.type in {"bullet_list_close", "ordered_list_close"}:
                self.lists.pop()
            elif tok.type == "list_item_open":
                self.item_opened = True
            elif tok.type == "blockquote_open":
                self.quotes.append(None)
            elif tok.type == "blockquote_close":
                self.quotes.pop()
            elif tok.type == "inline":
                self.inline(tok)
            elif tok.type in {"fence", "code_block"}:
                lang = tok.info.split()[0] if tok.info.strip() else ""
                self.code(tok.content, lang)
            elif tok.type == "table_open":
                i = self.gfm_table(tokens, i)
                continue
            elif tok.type == "html_block":
                self.html(tok.content)
            i += 1
        if self.table is not None:  # an HTML table never closed: keep what it held
            self.table, table = None, self.table
            table.flush(self)
        return self.sections

    def inline(self, tok: Token) -> None:
        # The first paragraph of an item is the bullet; later ones continue as prose.
        first, self.item_opened = self.item_opened, False
        if self.quotes and self.quotes[-1] is None:
            self.quotes[-1] = bool(_WARNING_QUOTE.match(tok.content))
        seen = inline_text(tok, lines=True)
        if not seen.text:
            return
        if first and self.lists:
            seen.text = " ".join(seen.text.split("\n"))
        if seen.is_nav:
            self.add(Block("nav", seen.text))
        elif first and self.lists:
            self.add(Block("bullet", seen.text, marker=self.lists[-1]))
        else:
            self.add(Block("prose", seen.text))

    def code(self, content: str, lang: str) -> None:
        if content.strip():
            self.add(Block("code", content.rstrip("\n"), lang=lang))

    def gfm_table(self, tokens: list[Token], i: int) -> int:
        header: list[str] = []
        rows: list[list[str]] = []
        row: list[str] = []
        while tokens[i].type != "table_close":
            t = tokens[i]
            if t.type == "tr_open":
                row = []
            elif t.type == "inline":
                row.append(inline_text(t).text)
            elif t.type == "tr_close":
                if header:
                    rows.append(row)
                else:
                    header = row
            i += 1
        if header or rows:
            self.add(Block("table", header=header, rows=rows))
        return i + 1

    def html(self, content: str) -> None:
        bits = _HTMLBits()
        bits.feed(content)
        bits.close()
        text: list[str] = []
        linked = [0]  # letters of `text` inside links
        heading = 0

        def flush_text() -> None:
            joined = _tidy(" ".join(text))
            letters = len(_LETTER.findall(joined))
            nav = bool(letters) and linked[0] / letters >= NAV_SHARE
            if joined:
                if self.table is not None:
                    self.table.text(joined)
                else:
                    self.add(Block("nav" if nav else "prose", joined))
            text.clear()
            linked[0] = 0

        for kind, value in bits.events:
            if kind.startswith("heading"):
                flush_text()
                heading = int(kind[-1])
            elif kind == "/heading":
                if heading and self.table is None:
                    title = _tidy(" ".join(text))
                    text.clear()
                    self.heading(heading, title)
                heading = 0  # in a table cell, a heading's text is the cell's
            elif kind == "table":
                flush_text()
                self.table = self.table or _HtmlTable()
            elif kind in {"tr", "cell"}:
                flush_text()
                if self.table is not None:
                    self.table.mark(kind, value)
            elif kind == "/table":
                flush_text()
                if self.table is not None:
                    self.table, table = None, self.table
                    table.flush(self)
            elif kind == "break":
                flush_text()
            elif kind == "code":
                flush_text()
                self.code(value, "")
            else:
                text.append(value)
                if kind == "link":
                    linked[0] += len(_LETTER.findall(value))
        flush_text()


class _HtmlTable:
    """Cells of an HTML table, which may hold Markdown blocks (code) between its tags."""

    def __init__(self) -> None:
        self.rows: list[list[list[Block]]] = []
        self.header_cells: list[bool] = []

    def mark(self, kind: str, tag: str) -> None:
        if kind == "tr" or not self.rows:
            self.rows.append([])
            self.header_cells.append(True)
        if kind == "cell":
            self.rows[-1].append([])
            self.header_cells[-1] &= tag == "th"

    def add(self, block: Block) -> None:
        if not self.rows or not self.rows[-1]:
            self.mark("cell", "td")
        self.rows[-1][-1].append(block)

    def text(self, text: str) -> None:
        self.add(Block("prose", text))

    def flush(self, walker: _Walker) -> None:
        rows = [r for r in self.rows if any(r)]
        heads = [h for r, h in zip(self.rows, self.header_cells, strict=True) if any(r)]
        if not rows:
            return
        header: list[str] = []
        if heads[0]:
            header = [" ".join(b.text for b in cell) for cell in rows[0]]
            rows = rows[1:]
        walker.sections[-1].blocks.append(
            Block("table", header=header, rows=[[_cell_text(c) for c in r] for r in rows])
        )


def _cell_text(cell: list[Block]) -> str:
    """A cell as one string: prose joined, code fenced (so the unit shows it as code)."""
    parts = []
    for b in cell:
        parts.append(f"```{b.lang}\n{b.text}\n```" if b.kind == "code" else b.text)
    return "\n".join(p for p in parts if p)
