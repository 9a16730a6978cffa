"""HTML -> plain text that keeps line structure and marks blockquotes with "> "."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

BLOCK = {
    "p", "div", "br", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
    "pre", "hr", "section", "article", "header", "footer", "address", "center", "dd", "dt", "dl",
}
SKIP = {"script", "style", "head", "title", "xml", "o:p"}


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.quote_depth = 0
        self.skip_depth = 0
        self.pre = 0
        self.quote_classes: list[bool] = []

    def _flush(self) -> None:
        text = "".join(self.current)
        if not self.pre:
            text = re.sub(r"[ \t\u00a0]+", " ", text).strip()
        prefix = "> " * self.quote_depth
        self.lines.append(prefix + text if text or self.quote_depth else text)
        self.current = []

    def _has_text(self) -> bool:
        # Spaces and newlines between tags are source layout, not text: "<div>a</div>\n<div>b</div>"
        # is two lines, not two lines and a blank one.  A no-break space is text (Outlook's empty
        # paragraphs are "&nbsp;").
        return bool(self.pre) and bool(self.current) or any(s.strip(" \t") for s in self.current)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        tag = tag.lower()
        if tag in SKIP:
            self.skip_depth += 1
            return
        if tag == "blockquote" or _is_quote_div(tag, attrs):
            if self._has_text():
                self._flush()
            self.quote_depth += 1
            self.quote_classes.append(True)
            return
        if tag == "div":
            self.quote_classes.append(False)
        if tag == "pre":
            self.pre += 1
        if tag in BLOCK:
            if self._has_text() or tag in {"br", "hr"} or tag == "p" and not _is_line_paragraph(attrs):
                self._flush()
        if tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.current.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag.lower() == "br":
            self._flush()
        else:
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        tag = tag.lower()
        if tag in SKIP:
            self.skip_depth = max(0, self.skip_depth - 1)
            return
        if tag == "blockquote" or (tag == "div" and self.quote_classes and self.quote_classes[-1]):
            if self._has_text():
                self._flush()
            self.current = []  # layout whitespace inside the quote stays there
            self.quote_depth = max(0, self.quote_depth - 1)
            if self.quote_classes:
                self.quote_classes.pop()
            return
        if tag == "div" and self.quote_classes:
            self.quote_classes.pop()
        if tag == "pre":
            if self._has_text():
                self._flush()  # while still inside: its spaces are kept
            self.pre = max(0, self.pre - 1)
        if tag in BLOCK and self._has_text():
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre:
            for i, chunk in enumerate(data.split("\n")):
                if i:
                    self._flush()
                self.current.append(chunk)
        else:
            self.current.append(data.replace("\n", " ").replace("\r", " "))


def _is_line_paragraph(attrs: list[tuple[str, str | None]]) -> bool:
    """Outlook writes every line as ``<p class=MsoNormal>`` with no margin (empty lines are
    ``&nbsp;`` paragraphs): a line, not a paragraph with a blank line above it."""
    cls = (dict(attrs).get("class") or "").lower()
    return cls.startswith("mso") or " mso" in cls


def _is_quote_div(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    """Quote containers that webmails use instead of <blockquote>."""
    if tag != "div":
        return False
    cls = (dict(attrs).get("class") or "").lower()
    return any(k in cls for k in ("gmail_quote", "yahoo_quoted", "moz-cite-prefix-x"))


def html_to_text(markup: str) -> str:
    """Convert HTML to text: block elements become lines, blockquotes get "> " prefixes."""
    conv = _Converter()
    try:
        conv.feed(markup)
        conv.close()
    except Exception:  # noqa: BLE001 - broken HTML still yields its text
        return html.unescape(re.sub(r"<[^>]+>", " ", markup))
    if conv.current:
        conv._flush()
    out: list[str] = []
    for line in conv.lines:
        if not line.strip(" >") and out and not out[-1].strip(" >"):
            continue  # collapse runs of blank lines
        out.append(line.rstrip())
    return "\n".join(out).strip("\n")
