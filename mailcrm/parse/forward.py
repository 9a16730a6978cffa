"""Forward unwrapping: find the original sender, date, subject of a forwarded message.

Three sources, in order: header blocks written into the body by the forwarding client
(``quote_headers``: Gmail, Apple Mail, Outlook desktop/365, Thunderbird, Yandex, Mail.ru,
The Bat!, in many UI languages), email-forward-parser (``emailforwardparser``, more locales),
and a ``message/rfc822`` attachment ("forward as attachment", RFC 2046 §5.2.1).  A forward
of a forward is followed inward through "forwarded message" separators only: a forwarded
*reply* keeps its own author, not the author of the mail it quotes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace

from emailforwardparser import forward_parser as efp

from mailcrm.parse.addresses import is_valid_address, normalize_address, parse_address_header
from mailcrm.parse.facts import Address, Forwarded
from mailcrm.parse.html_text import html_to_text
from mailcrm.parse.identity import normalize_message_id
from mailcrm.parse.loose_date import parse_loose_date, parse_rfc_date
from mailcrm.parse.mime import MimeView
from mailcrm.parse.quote_headers import (
    EMAIL,
    HeaderBlock,
    attribution_start,
    clean_line,
    parse_mailbox,
    parse_mailbox_list,
    scan_blocks,
    separator_kind,
    unquote,
)

MAX_SCAN = 200_000  # characters of a body searched for forward headers (no regex runs on giant input)
_END_MARK = re.compile(r"\b(end of|конец|ende der|fin du|fin del|fine del|einde van|slut på)\b", re.I)
MAX_DEPTH = 8  # forwards of forwards followed inward
FWD_SUBJECT = re.compile(
    # gateways' tags first ("[EXT]", "[External]"), then any reply prefixes, then the forward's
    r"^\s*(?:\[[^\]\n]{1,30}\]\s*)*(?:(?:re|aw|sv|ha|antw|odp|ynt|vs)\s*[:：]\s*)*"
    r"(fwd?|fw|пересл|перес|пер|tr|wg|rv|enc|vs|vl|doorst|i|rif|pd|ilt|İlt|trs|vb|továbbítás|napr|pfw|"
    r"πρθ|転送|转发|轉寄|전달)\s*(\[\d+\])?\s*[:：]",
    re.I,
)


def looks_forwarded_subject(subject: str) -> bool:
    """True when the subject carries a forward prefix (Fwd:, Fw:, Пересл:, ПЕР:, TR:, WG: ...)."""
    if not subject:
        return False
    if FWD_SUBJECT.match(subject):
        return True
    try:
        return bool(efp.parse_subject(subject[:1000]))
    except Exception:  # noqa: BLE001 - a library bug must not stop parsing
        return False


def find_forward(view: MimeView, subject: str, *, expect_forward: bool = False) -> Forwarded | None:
    """Return the innermost forwarded original in ``view``, or None when it is not a forward.

    ``expect_forward``: the envelope already says "forward" (sent only to the dropbox), so a
    header block without a separator line (Outlook 365) is enough.
    """
    return _find_in_view(view, subject, 0, expect_forward)


def _find_in_view(view: MimeView, subject: str, depth: int, expect_forward: bool = False) -> Forwarded | None:
    tz = _zone_of(view.header("Date"))
    found = find_forward_in_text(view.text, view.html, subject, default_tz=tz, expect_forward=expect_forward)
    if found is not None or not view.attached or depth >= MAX_DEPTH:
        return found
    inner = view.attached[0]
    inner_subject = inner.header("Subject") or ""
    if looks_forwarded_subject(inner_subject) or inner.attached:
        nested = _find_in_view(inner, inner_subject, depth + 1)
        if nested is not None:
            return nested
    return _from_attached(inner)


def _from_attached(inner: MimeView) -> Forwarded | None:
    """The original carried whole as message/rfc822: its own headers are the truth."""
    def addrs(name: str) -> tuple[Address, ...]:
        try:
            values = [str(v) for v in (inner.message.get_all(name) or [])]
        except Exception:  # noqa: BLE001
            values = inner.header_all(name)
        return parse_address_header(values)

    senders = addrs("From") or addrs("Sender")
    date_text = inner.header("Date")
    return Forwarded(
        from_=senders[0] if senders else None,
        date=parse_loose_date(date_text),
        subject=inner.header("Subject"),
        to=addrs("To"),
        cc=addrs("Cc"),
        text=inner.text,
        message_id=normalize_message_id(inner.header("Message-ID")),
        date_text=date_text,
    )


def _zone_of(date_header: str | None) -> dt.tzinfo | None:
    """The forwarder's zone: the best guess for an original date written without one."""
    d = parse_rfc_date(date_header)
    return d.tzinfo if d is not None else None


def find_forward_in_text(
    text: str,
    html: str | None = None,
    subject: str = "",
    *,
    default_tz: dt.tzinfo | None = None,
    expect_forward: bool = False,
) -> Forwarded | None:
    """Find the innermost forwarded original in a body (text preferred, HTML tried when text has none)."""
    found = _find_in_body(text or "", subject, default_tz, expect_forward)
    if found is None and html:
        found = _find_in_body(html_to_text(html[: MAX_SCAN * 4]), subject, default_tz, expect_forward)
    if found is not None and not found.subject and subject:
        # Yandex's "date, name <addr>:" header carries no subject: the forward's own, unprefixed, is it.
        found = replace(found, subject=FWD_SUBJECT.sub("", subject, count=1).strip() or None)
    return found


def _lines(body: str) -> list[str]:
    body = body[:MAX_SCAN].replace("\r\n", "\n").replace("\r", "\n")
    return [clean_line(line) for line in body.split("\n")]


def _find_in_body(body: str, subject: str, tz: dt.tzinfo | None, expect_forward: bool) -> Forwarded | None:
    if not body.strip():
        return None
    lines = _lines(body)
    fwd_subject = expect_forward or looks_forwarded_subject(subject)
    block = _first_forward_block(lines, fwd_subject, 0)
    if block is not None:
        return _innermost(lines, block, tz, 0)
    info = _info_line_forward(lines, 0, tz)
    if info is not None:
        return info
    return _library_forward("\n".join(lines), subject if looks_forwarded_subject(subject) else None, tz)


def _qualifies(lines: list[str], b: HeaderBlock, fwd_subject: bool, start: int) -> bool:
    """Is this header block the header of a forwarded message (not text that merely says From:)?"""
    if b.marker in ("forward", "original"):
        return True
    if not b.strong:
        return False
    if b.marker == "rule" or fwd_subject:
        return True
    # A block at the very top of the body: a forward without a comment.
    return all(not unquote(line)[1].strip() for line in lines[start:b.start])


def _first_forward_block(lines: list[str], fwd_subject: bool, start: int) -> HeaderBlock | None:
    for b in scan_blocks(lines, start):
        if _qualifies(lines, b, fwd_subject, start):
            return b
    return None


def _innermost(lines: list[str], block: HeaderBlock, tz: dt.tzinfo | None, depth: int) -> Forwarded:
    """Follow "forwarded message" separators inward; the last original found wins."""
    outer = _from_block(lines, block, tz)
    if depth >= MAX_DEPTH:
        return outer
    nested_subject = looks_forwarded_subject(outer.subject or "")
    for b in scan_blocks(lines, block.end):
        if b.marker == "forward" or (nested_subject and _qualifies(lines, b, True, block.end)):
            inner = _innermost(lines, b, tz, depth + 1)
            if inner.from_ is not None:
                return inner
        break  # only the first later block can be the inner forward's header
    info = _info_line_forward(lines, block.end, tz)
    return info if info is not None and info.from_ is not None else outer


def _body_after(lines: list[str], end: int, depth: int) -> str:
    """The forwarded original's own body: unquoted to the block's depth, separators trimmed."""
    out: list[str] = []
    for line in lines[end:]:
        d, text = unquote(line)
        if _END_MARK.search(text) and separator_kind(text) is not None:
            break  # "-------- Конец пересылаемого сообщения --------", The Bat!'s "End of original message text"
        if depth and d >= depth:
            out.append((">" * (d - depth) + " " + text).strip() if d > depth else text)
        else:
            out.append(line)
    while out and (not out[0].strip() or separator_kind(out[0]) is not None):
        out.pop(0)
    while out and (not out[-1].strip() or separator_kind(out[-1]) is not None):
        out.pop()
    return "\n".join(out)


def _address(name: str | None, address: str | None) -> Address | None:
    if address:
        addr = normalize_address(address)
        if is_valid_address(addr):
            return Address(name, addr)
    if name:
        # Outlook often writes only the display name ("From: John Doe"); the address stays unknown.
        return Address(name, "")
    return None


def _addresses(value: str | None) -> tuple[Address, ...]:
    if not value:
        return ()
    out = []
    for name, addr in parse_mailbox_list(value):
        a = _address(name, addr)
        if a is not None and a.address:
            out.append(a)
    return tuple(out)


def _from_block(lines: list[str], b: HeaderBlock, tz: dt.tzinfo | None) -> Forwarded:
    name, addr = parse_mailbox(b.get("from") or "")
    date_text = b.get("date")
    return Forwarded(
        from_=_address(name, addr),
        date=parse_loose_date(date_text, tz),
        subject=b.get("subject"),
        to=_addresses(b.get("to")),
        cc=_addresses(b.get("cc")),
        text=_body_after(lines, b.end, b.depth),
        date_text=date_text,
    )


def _info_line_forward(lines: list[str], start: int, tz: dt.tzinfo | None) -> Forwarded | None:
    """Yandex web style: a forward separator, then "03.11.2026, 10:15, "Иван" <ivan@x.ru>:"."""
    n = min(len(lines), start + 4000)
    for i in range(start, n):
        if separator_kind(unquote(lines[i])[1]) != "forward":
            continue
        for j in range(i + 1, min(n, i + 4)):
            text = unquote(lines[j])[1].strip()
            if not text:
                continue
            begin = attribution_start(lines, j) if text.endswith(":") else None
            if begin is None:
                break
            info = " ".join(unquote(x)[1].strip() for x in lines[begin: j + 1]).rstrip(":： ")
            parsed = _split_info(info)
            if parsed is None:
                break
            name, addr, date_text = parsed
            return Forwarded(
                from_=_address(name, addr),
                date=parse_loose_date(date_text, tz),
                subject=None,
                text=_body_after(lines, j + 1, unquote(lines[j])[0]),
                date_text=date_text,
            )
    return None


def _split_info(info: str) -> tuple[str | None, str, str | None] | None:
    """("Иван", "ivan@x.ru", "03.11.2026, 10:15") from an info/attribution line."""
    m = EMAIL.search(info)
    if not m:
        return None
    before = info[: m.start()].rstrip(" <[(")
    before = re.sub(r"\b(wrote|написал\(а\)|написала?|пишет)\b.*$", "", before, flags=re.I).strip()
    quoted = re.search(r'"([^"]+)"\s*$', before)
    if quoted:
        name: str | None = quoted.group(1).strip()
        date_part = before[: quoted.start()]
    else:
        split = re.split(r"\s(?:от|from|de|von)\s|,\s(?=[^,]*$)", before, maxsplit=1)
        if len(split) == 2 and not re.search(r"\d", split[1]):
            date_part, name = split[0], split[1].strip() or None
        else:
            date_part, name = before, None
    date_part = re.sub(r"^(on|am|le|el|em|op|den|в|дата)\s+", "", date_part.strip(" ,"), flags=re.I)
    date_part = re.sub(r"\s(от|from)$", "", date_part.strip(" ,"), flags=re.I)
    return name, m.group(0), (date_part.strip(" ,") or None)


# email-forward-parser's time grows with the square of a run of blank lines or spaces (3,000
# blank lines: 7 s) and of the number of header blocks it meets (463 in 99 KB: 2.3 s).  Such runs
# carry no meaning for it, so they are shortened, and it reads the first LIBRARY_SCAN characters
# (a forward's separator is near the top; our own reader has scanned the whole body already).
_BLANK_RUN = re.compile(r"\n{4,}")
_SPACE_RUN = re.compile(r"(?<![^\S\n])[^\S\n]{17,}")
LIBRARY_SCAN = 20_000


def _tame(body: str) -> str:
    """``body``'s first LIBRARY_SCAN characters with trailing spaces dropped, blank-line runs cut
    to two and space runs to 16."""
    body = "\n".join(line.rstrip() for line in body[:LIBRARY_SCAN].split("\n"))
    return _SPACE_RUN.sub(lambda m: m.group(0)[:16], _BLANK_RUN.sub("\n\n\n", body))


def _library_forward(body: str, subject: str | None, tz: dt.tzinfo | None) -> Forwarded | None:
    """email-forward-parser as the last resort (it knows more locales' separators)."""
    try:
        meta = efp.get_forwarded_metadata(_tame(body), subject)
    except Exception:  # noqa: BLE001 - the library's regexes meet our worst mail; never raise
        return None
    if not meta.forwarded or not (meta.email.from_.address or meta.email.from_.name):
        return None
    name, addr = parse_mailbox(f"{meta.email.from_.name} <{meta.email.from_.address}>")
    date_text = meta.email.date or None
    return Forwarded(
        from_=_address(name or meta.email.from_.name or None, addr),
        date=parse_loose_date(date_text, tz),
        subject=meta.email.subject or None,
        to=tuple(a for a in (_address(m.name or None, m.address) for m in meta.email.to) if a and a.address),
        cc=tuple(a for a in (_address(m.name or None, m.address) for m in meta.email.cc) if a and a.address),
        text=meta.email.body,
        date_text=date_text,
    )
