"""The new text of a message: without quoted history, forward header or signature.

The cut is the earliest of: a reply attribution ("On … wrote:", "… пишет:",
"DD.MM.YYYY, HH:MM, "Name" <a@b>:"), a separator ("-----Original Message-----",
"---------- Forwarded message ---------", Outlook's underscore rule), a quoted header
block (Outlook "From:/Sent:/To:/Subject:", "От:/Отправлено:/Кому:/Тема:"), the first
"> " quoted line; quotequail is asked when none of these is found.  Trailing delimiter-only lines go too.
"""

from __future__ import annotations

import re

import quotequail

from mailcrm.parse.html_text import html_to_text
from mailcrm.parse.quote_headers import (
    BARE_PHRASE_MAX,
    OPENERS,
    attribution_start,
    clean_lines,
    scan_blocks,
    separator_kind,
    unquote,
)

MAX_SCAN = 200_000  # characters examined; the new text is at the top of a message
QUOTEQUAIL_LINES = 1000  # quotequail's own default limit
WRAP_WIDTH = 60  # a quoted line this long may have been wrapped by the replying client
_JUNK_LINE = re.compile(r"^[\W_ᐧ]*$")  # "--", "***", "____", Gmail's "ᐧ" tracker mark
# Mobile clients put their tag line right above the quoted original, without any quote marker.
_MOBILE_TAG = re.compile(
    r"^(sent from my |sent from (?:mail|outlook|yahoo mail) for |get outlook for |sent with |"
    r"sent from (?:yandex|proton ?mail|mail\.ru|gmail|aol|zoho|spark|edison)|"
    r"sent via (?:the |my )?(?:samsung|galaxy|blackberry|android|iphone|ipad|verizon|at&t|t-mobile)|"
    r"отправлено (?:с|из) |von meinem .* gesendet|envoyé de mon |enviado desde mi |enviado do meu |"
    r"inviato da |verzonden met |verzonden vanaf |skickat från |sendt fra |lähetetty |wysłane z |odesláno z |"
    r"odoslané z |надіслано з |(?:скачайте|загрузите|получите) outlook|(?:iphone|ipad|android)\S*\s*から送信|"
    r"从我的.{1,20}发送|發自我的|[\w ]+['’]\w+(?:dan|den) gönderildi)",
    re.I,
)
# The characters _MOBILE_TAG can start with (its alternatives' first letters, in any case the
# case-insensitive match accepts: "ſ", "ı", "İ", the early Cyrillic "ᲂ"/"ᲃ"); a line starting
# otherwise can only be its last alternative, "… gönderildi", which holds "nder" in any case.
# tests/test_parse_reply.py checks this set against the pattern over all of Unicode.
MOBILE_FIRST = frozenset("sSſgGvVeEiIİılLwWoOaAоОᲂнНсСᲃзЗпП从發")
# Its alternatives' first two letters where both are ASCII ("sent", "get", "von", "envoyé", "inviato",
# "verzonden", "skickat", "wysłane", "odesláno", "iphone", "android"): a line opening with two ASCII
# characters starts no alternative unless they are one of these pairs, in some case.
MOBILE_PAIRS = frozenset({"se", "ge", "vo", "en", "in", "ve", "sk", "wy", "od", "ip", "an"})
_LAST_CHARS = frozenset(":：*_")  # an attribution's or a "*** … ***" / "___" separator's last character


def extract_reply(text: str, html: str | None = None) -> str:
    """Return the author's own new text from a body (plain text preferred, HTML as a hint)."""
    body = text or ""
    if not body.strip() and html:
        body = html_to_text(html[: MAX_SCAN * 4])
    lines = clean_lines(body[:MAX_SCAN])
    for _ in range(4):
        cut, skip_to = _cut(lines)
        head = _trim(lines[:cut])
        if head:
            return head
        if skip_to is None:
            # Nothing above the quote: a reply written below (or between) the quoted lines, whose
            # own history (a separator, another attribution) is cut on the next round.
            lines = _below_quotes(lines, cut)
            if not lines:
                return ""
            continue
        # Nothing above the first header block: the new text is the quoted message's own.
        lines = lines[skip_to:]
    return _trim(lines)


def _below_quotes(lines: list[str], cut: int) -> list[str]:
    """The unquoted lines after the quote that starts at (or whose attribution starts at) ``cut``.

    Bottom-posted and interleaved replies ("> question" then the answer) have their new text
    there; the attribution above the first quoted line is not part of it, and a run of quoted
    lines between two answers leaves one blank line.
    """
    quoted = [bool(unquote(line)[0]) for line in lines]
    first = next((i for i in range(cut, len(lines)) if quoted[i]), None)
    if first is None:
        return []
    out: list[str] = []
    for i in range(first, len(lines)):
        line = lines[i]
        # A lone line between two quoted ones, below a long one, is the quote wrapped by a client.
        wrapped = 0 < i < len(lines) - 1 and quoted[i - 1] and quoted[i + 1] and len(lines[i - 1]) >= WRAP_WIDTH
        if quoted[i] or wrapped or not line.strip():
            if out and out[-1].strip():
                out.append("")  # one blank line where the quote (or blank lines) stood
            continue
        out.append(line)
    return out if any(line.strip() for line in out) else []


def _cut(lines: list[str]) -> tuple[int, int | None]:
    """(line where quoted history starts, line to restart from when nothing precedes it)."""
    n = len(lines)
    cut = n
    skip_to: int | None = None
    blocks = [b for b in scan_blocks(lines) if b.strong or b.marker]
    if blocks:
        b = blocks[0]
        start = b.marker_line if b.marker_line is not None else b.start
        if start < cut:
            cut, skip_to = start, b.end
    for i in _candidates(lines, min(n, cut)):
        depth, line = unquote(lines[i])
        stripped = line.strip()
        if depth:
            if i < cut:
                cut, skip_to = i, None
            break
        if not stripped:
            continue
        if len(stripped) < 80 and _mobile_tag(stripped):
            cut, skip_to = i, None
            break
        kind = separator_kind(stripped)
        if kind in ("forward", "original"):
            cut, skip_to = i, i + 1
            break
        if stripped.endswith((":", "：")):
            begin = attribution_start(lines, i)
            if begin is not None:
                cut, skip_to = begin, None
                break
    if cut == n and any(line.rstrip().endswith(":") for line in lines[:QUOTEQUAIL_LINES]):
        # Our patterns found nothing: ask quotequail (its intro-line patterns) before giving up.
        qq = _quotequail_cut(lines[:QUOTEQUAIL_LINES])
        if qq is not None:
            cut, skip_to = qq, None
    return cut, skip_to


def _candidates(lines: list[str], end: int) -> list[int]:
    """Indexes (below ``end``) of the lines on which one of ``_cut``'s per-line tests can fire.

    A superset, by cheap string tests instead of the full tests: short lines (a bare separator
    phrase has at most 60 characters), quote markers, a last character that ends an attribution
    or a rule (":", "*", "_"), a first character that opens a rule or an enclosed separator,
    and mobile tag lines.  On every other line (long prose) all of the loop's tests are false,
    so skipping it changes nothing.  Lines come from ``clean_lines``: no trailing spaces or tabs.
    """
    return [i for i, line in enumerate(lines[:end])
            if len(line) <= BARE_PHRASE_MAX or ">" in line or line[-1] in _LAST_CHARS
            or (s := line.lstrip())[0] in OPENERS or len(s) <= BARE_PHRASE_MAX
            or (len(s) < 80 and _mobile_tag(s))]


def _mobile_tag(s: str) -> bool:
    """``_MOBILE_TAG.match(s)``, the regex skipped where it cannot match (see MOBILE_FIRST)."""
    head = s[:2]
    first = head.lower() in MOBILE_PAIRS if head.isascii() else s[:1] in MOBILE_FIRST
    return (first or "nder" in s.lower()) and _MOBILE_TAG.match(s) is not None


def _quotequail_cut(lines: list[str]) -> int | None:
    """Where quotequail sees quoted text begin (its intro-line patterns), if anywhere."""
    if not lines:
        return None
    try:
        parts = quotequail.quote("\n".join(lines), limit=len(lines) + 10, quote_intro_line=True)
    except Exception:  # noqa: BLE001 - the library must never stop parsing
        return None
    if len(parts) < 2 or not parts[0][0]:
        return None
    head: str = parts[0][1]
    return head.count("\n") + (1 if head else 0)


def _trim(lines: list[str]) -> str:
    out = list(lines)
    while out and _JUNK_LINE.match(out[-1].strip()):
        out.pop()
    while out and not out[0].strip():
        out.pop(0)
    return "\n".join(line.rstrip() for line in out).strip()
