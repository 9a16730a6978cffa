"""Quoted history in a plain-text body: which lines are the author's own, for the signature finder.

A top-posted reply keeps its own text above the quote header ("On … wrote:", "-----Original
Message-----", an Outlook "From:/Sent:" block); a bottom-posted or inline reply keeps the last
own words below the last ">" line (RFC 3676 §4.5 quoting). Mailing-list footers are not the
author's. Pure: str in, list of lines out.
"""

from __future__ import annotations

import re

from mailcrm.parse.quote_headers import attribution_start, header_field, separator_kind

__all__ = ["own_lines"]

_RULE = re.compile(r"^\s*[_\-=]{5,}\s*$")
_LIST_FOOTER = re.compile(r"mailing list|listinfo|unsubscribe|list-unsubscribe|рассылк|отписаться", re.I)


def _is_quoted(line: str) -> bool:
    return line.lstrip().startswith(">")


def _header_block_at(lines: list[str], i: int) -> bool:
    """True when an Outlook-style header ("From: …" then "Sent:/To:/Subject: …") starts at ``i``."""
    first = header_field(lines[i].lstrip("*"))
    if first is None or first[0] != "from" or not first[1]:
        return False
    return any(header_field(lines[j]) is not None for j in range(i + 1, min(i + 5, len(lines))))


def _attribution_ending_at(lines: list[str], i: int) -> int | None:
    """Where an "On … wrote:" attribution that ends on line ``i`` starts (it may be wrapped over
    two or three lines); None when line ``i`` ends none.  The reply-text cutter's own reading."""
    line = lines[i].rstrip()
    if not line.endswith((":", "：")) or len(line) > 300 or _is_quoted(line):
        return None  # every attribution form ends with a colon; most lines are skipped here
    return attribution_start(lines, i)


def _to_end_header(lines: list[str], i: int) -> bool:
    """A header after which everything is quoted (Outlook, forwarded blocks)."""
    line = lines[i]
    if separator_kind(line) in ("forward", "original") or _header_block_at(lines, i):
        return True
    return bool(_RULE.match(line) and i + 1 < len(lines) and any(
        _header_block_at(lines, j) for j in range(i + 1, min(i + 3, len(lines)))))


def _drop_list_footer(lines: list[str]) -> list[str]:
    """Cut a mailing-list footer ("____\\nriak-users mailing list\\n…") from the end."""
    for i in range(max(0, len(lines) - 8), len(lines)):
        if _RULE.match(lines[i]) and any(_LIST_FOOTER.search(x) for x in lines[i + 1:i + 5]):
            return lines[:i]
    return lines


def own_lines(text: str) -> list[str]:
    """The lines the author wrote last: own text before the quote, or after the last quoted line."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    # A header block pasted at the very top (a saved message) is not a quote of what follows.
    first = next((i for i, x in enumerate(lines) if x.strip()), len(lines))
    if first < len(lines) and _header_block_at(lines, first):
        j = first
        while j < len(lines) and lines[j].strip():
            j += 1
        lines = lines[j:]
    cut = len(lines)
    quoted = [False] * len(lines)
    i = 0
    while i < len(lines):
        if _to_end_header(lines, i):
            cut = i
            break
        begin = _attribution_ending_at(lines, i)
        if begin is not None:
            nxt = next((k for k in range(i + 1, min(i + 5, len(lines))) if lines[k].strip()), None)
            if nxt is None or not _is_quoted(lines[nxt]):
                cut = begin  # an attribution without ">" lines: the rest is the quote
                break
            for k in range(begin, i + 1):
                quoted[k] = True
            i += 1
            continue
        quoted[i] = _is_quoted(lines[i])
        i += 1
    lines, quoted = lines[:cut], quoted[:cut]
    if not any(quoted):
        return _drop_list_footer(lines)
    last = max(i for i, q in enumerate(quoted) if q)
    after = _drop_list_footer(lines[last + 1:])
    if any(x.strip() for x in after):
        return after
    first_q = quoted.index(True)
    return _drop_list_footer(lines[:first_q])
