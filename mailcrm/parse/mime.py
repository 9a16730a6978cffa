"""Bytes -> MimeView: decoded headers, body text/HTML, parts; never raises on bad mail.

We parse with the standard library's lenient ``compat32`` policy and recover text
ourselves.  mail-parser 4.8 (tried first) raised ``AttributeError`` on real DSNs of
our bounce corpus, printed to stderr for every multipart/report, left quoted
encoded-word names undecoded and truncated raw 8-bit subjects; the stdlib raises
``LookupError`` on unknown charsets.  Everything that goes wrong becomes a string
in ``defects`` instead of an exception (house rule 3).
"""

from __future__ import annotations

import email
import email.header
import email.message
import email.parser
import email.utils
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import policy as email_policy

from mailcrm.parse.html_text import html_to_text

# Order matters: the first decoder that fits wins.  cp1251 before koi8-r because
# Russian senders overwhelmingly use it; koi8_r is chosen by letter statistics.
FALLBACK_CHARSETS = ("utf-8", "cp1251", "koi8-r", "latin-1")
CHARSET_ALIASES = {
    "win-1251": "cp1251",
    "windows-1251": "cp1251",
    "x-cp1251": "cp1251",
    "cp-1251": "cp1251",
    "koi8r": "koi8-r",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "utf-8",
    "unknown-8bit": "utf-8",
    "us-ascii": "utf-8",  # a lie told by many clients about 8-bit bodies; utf-8 is a superset
    "ascii": "utf-8",
    "gb2312": "gb18030",
    "ks_c_5601-1987": "cp949",
}
MAX_TEXT = 2_000_000  # characters of body text kept for parsing; the raw bytes are kept whole


@dataclass(frozen=True)
class Part:
    """One leaf MIME part."""

    content_type: str
    filename: str | None
    disposition: str | None
    payload: bytes = field(repr=False)
    text: str | None = field(default=None, repr=False)  # decoded text for text/* and message/* parts


@dataclass(frozen=True)
class MimeView:
    """A decoded, read-only view of one message."""

    headers: tuple[tuple[str, str], ...]
    content_type: str
    text: str  # best plain-text body (HTML converted when no text/plain part)
    html: str | None
    parts: tuple[Part, ...]
    attached: tuple["MimeView", ...]  # message/rfc822 parts, parsed the same way
    defects: tuple[str, ...]
    raw: bytes = field(repr=False)
    message: email.message.Message = field(repr=False, compare=False)

    def header(self, name: str) -> str | None:
        """First value of a header (decoded), case-insensitive; None when absent."""
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    def header_all(self, name: str) -> list[str]:
        """All values of a header (decoded), in order."""
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    def parts_of_type(self, *types: str) -> Iterator[Part]:
        """Leaf parts whose content type is one of ``types``."""
        wanted = {t.lower() for t in types}
        return (p for p in self.parts if p.content_type in wanted)


def _norm_charset(charset: str | None) -> str | None:
    if not charset:
        return None
    cs = charset.strip().strip('"').lower()
    return CHARSET_ALIASES.get(cs, cs)


def _looks_koi8(data: bytes) -> bool:
    """True when 8-bit Cyrillic bytes read better as KOI8-R than as cp1251."""
    high = [b for b in data if b >= 0xC0]
    if len(high) < 8:
        return False
    # In cp1251 lowercase letters (0xE0-0xFF) dominate; in KOI8-R lowercase sit at 0xC0-0xDF.
    lower_koi = sum(1 for b in high if b < 0xE0)
    return lower_koi > len(high) * 0.6


def decode_bytes(data: bytes, charset: str | None, defects: list[str] | None = None) -> str:
    """Decode bytes with the declared charset, falling back to utf-8/cp1251/koi8-r/latin-1."""
    cs = _norm_charset(charset)
    if cs:
        try:
            return data.decode(cs)
        except LookupError:
            if defects is not None:
                defects.append(f"unknown charset {charset!r}")
        except UnicodeDecodeError:
            if defects is not None:
                defects.append(f"bytes not in declared charset {charset!r}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _looks_koi8(data):
        return data.decode("koi8-r", errors="replace")
    return data.decode("cp1251", errors="replace")


def decode_header_value(value: object, defects: list[str] | None = None) -> str:
    """Decode an RFC 2047 header (and raw 8-bit bytes) into text, one line."""
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        chunks = email.header.decode_header(value)
    else:
        text = str(value)
        # (A surrogate is at least "\udc80", so the maximum decides; a character above the
        # surrogates, an emoji, also takes this branch, which decodes it back unchanged.)
        if "\udc80" <= max(text, default="a"):
            # compat32 keeps raw 8-bit header bytes as surrogates: recover the bytes.
            raw = text.encode("utf-8", "surrogateescape")
            text = decode_bytes(raw, None)
            if defects is not None:
                defects.append("raw 8-bit header")
        if "=?" not in text:
            # No encoded word: decode_header would hand the unfolded text back as one chunk, and
            # _clean of a text without line breaks (unfold leaves none) only drops NULs and strips.
            return (unfold(text) if "\n" in text or "\r" in text else text).replace("\x00", "").strip()
        try:
            chunks = email.header.decode_header(unfold(text))
        except Exception:  # noqa: BLE001 - malformed encoded words are data, not errors
            return _clean(text)
    out: list[str] = []
    for chunk, cs in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, cs, defects))
        else:
            out.append(chunk)
    # decode_header leaves whitespace between an encoded word and plain text glued or doubled.
    return _clean("".join(out) if len(chunks) > 1 else out[0] if out else "")


_WS = re.compile(r"(?<![ \t])[ \t]*[\r\n]+[ \t]*")  # starts only where a blank run starts: linear


def unfold(text: str) -> str:
    """Unfold a header value before RFC 2047 decoding: a line break and the blanks around it become one space.

    RFC 5322 §2.2.3 removes only the CRLF of a fold, so the whitespace after it separates words.
    email.header.decode_header works line by line and strips that whitespace, gluing an encoded
    word to the text after a fold ("…проекту" CRLF " 4" -> "…проекту4"); unfolded first, it drops
    whitespace only between two adjacent encoded words, as RFC 2047 §6.2 says.
    """
    return _WS.sub(" ", text)


def _clean(text: str) -> str:
    return _WS.sub(" ", text.replace("\x00", "")).strip()


def _decode_encoded_words_in_quotes(value: str) -> str:
    """Decode encoded words inside quoted display names, which email.header skips."""
    if "=?" not in value:
        return value

    def repl(m: re.Match[str]) -> str:
        inner = unfold(m.group(1))
        try:
            parts = email.header.decode_header(inner)
        except Exception:  # noqa: BLE001
            return m.group(0)
        text = "".join(decode_bytes(c, cs) if isinstance(c, bytes) else c for c, cs in parts)
        return '"' + text.replace('"', "'") + '"'

    return re.sub(r'"([^"]*=\?[^"]*\?=[^"]*)"', repl, value)


def _payload_bytes(part: email.message.Message, defects: list[str]) -> bytes:
    try:
        data = part.get_payload(decode=True)
    except Exception as exc:  # noqa: BLE001 - broken base64/qp is a defect
        defects.append(f"undecodable payload: {type(exc).__name__}")
        raw = part.get_payload()
        return raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else b""
    if data is None:
        raw = part.get_payload()
        if isinstance(raw, str):
            return raw.encode("utf-8", "surrogateescape")
        return b""
    return data if isinstance(data, bytes) else b""


# A subject is read by a dozen patterns (forward, reply, bounce and auto-reply prefixes) and
# stored cut at this length: a megabyte-long one is kept, as the raw message, but not read whole.
MAX_SUBJECT = 2000


def _headers(msg: email.message.Message, defects: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for key, value in msg.items():
        if isinstance(value, str):
            value = _decode_encoded_words_in_quotes(value)
        text = decode_header_value(value, defects)
        if len(text) > MAX_SUBJECT and str(key).lower() in ("subject", "thread-topic"):
            defects.append(f"{key} longer than {MAX_SUBJECT} characters; the rest is ignored")
            text = text[:MAX_SUBJECT]
        out.append((str(key), text))
    return tuple(out)


def _content_type(part: email.message.Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:  # noqa: BLE001
        return "text/plain"


def _filename(part: email.message.Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001
        return None
    return decode_header_value(name) if name else None


def view_from_message(msg: email.message.Message, raw: bytes, depth: int = 0) -> MimeView:
    """Build a MimeView from an already parsed stdlib message (used for nested messages)."""
    defects: list[str] = [type(d).__name__ for d in getattr(msg, "defects", [])]
    headers = _headers(msg, defects)
    parts: list[Part] = []
    attached: list[MimeView] = []
    text_plain: list[str] = []
    text_html: list[str] = []
    count = 0
    top_ctype: str | None = None
    for part, ctype in _walk(msg, defects):
        top_ctype = ctype if top_ctype is None else top_ctype
        count += 1
        if count > 2000:
            defects.append("too many MIME parts; rest ignored")
            break
        for d in getattr(part, "defects", []):
            defects.append(type(d).__name__)
        disposition = (part.get("Content-Disposition") or "").split(";")[0].strip().lower() or None
        filename = _filename(part)
        if ctype == "message/rfc822" or (ctype.startswith("message/") and part.is_multipart()):
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            if isinstance(inner_msg, email.message.Message) and ctype == "message/rfc822":
                try:
                    inner_raw = inner_msg.as_bytes()
                except Exception:  # noqa: BLE001
                    inner_raw = b""
                if depth < 8:
                    attached.append(view_from_message(inner_msg, inner_raw, depth + 1))
                else:
                    defects.append("message nesting too deep")
                parts.append(Part(ctype, filename, disposition, inner_raw, None))
            elif isinstance(inner, list):
                # message/delivery-status and friends parse as lists of header blocks.
                blocks = []
                for block in inner:
                    if isinstance(block, email.message.Message):
                        blocks.append("\n".join(f"{k}: {v}" for k, v in block.items()))
                report = "\n\n".join(blocks)
                parts.append(Part(ctype, filename, disposition, report.encode("utf-8", "surrogateescape"), report))
            continue
        if part.is_multipart():
            continue
        payload = _payload_bytes(part, defects)
        text: str | None = None
        if ctype.startswith("text/") or ctype.startswith("message/"):
            text = decode_bytes(payload, part.get_content_charset(), defects)
            if "\x00" in text:
                defects.append("NUL bytes in text")
                text = text.replace("\x00", "")
            text = text[:MAX_TEXT]
            if disposition != "attachment" and not filename:
                if ctype == "text/plain":
                    text_plain.append(text)
                elif ctype == "text/html":
                    text_html.append(text)
        parts.append(Part(ctype, filename, disposition, payload, text))
    html = "\n".join(text_html) if text_html else None
    if text_plain:
        body = "\n".join(text_plain)
    elif html is not None:
        body = html_to_text(html)
    else:
        body = ""
    body = body.replace("\r\n", "\n").replace("\r", "\n")
    return MimeView(
        headers=headers,
        content_type=top_ctype if top_ctype is not None else _content_type(msg),
        text=body,
        html=html,
        parts=tuple(parts),
        attached=tuple(attached),
        defects=tuple(dict.fromkeys(defects)),
        raw=raw,
        message=msg,
    )


def _walk(msg: email.message.Message, defects: list[str]) -> Iterator[tuple[email.message.Message, str]]:
    """Like Message.walk() but does not descend into message/* parts (they are viewed separately);
    each part comes with its content type (read once: each read parses the header again)."""
    stack = [msg]
    while stack:
        part = stack.pop(0)
        ctype = _content_type(part)
        yield part, ctype
        if ctype.startswith("message/"):
            continue
        if part.is_multipart():
            payload = part.get_payload()
            if isinstance(payload, list):
                stack[0:0] = [p for p in payload if isinstance(p, email.message.Message)]


MAX_FALLBACK_TEXT = 1_000_000  # bytes of an unparseable body kept as text


def parse_bytes(raw: bytes) -> MimeView:
    """Parse raw message bytes into a MimeView; bad input yields defects, never an exception."""
    defects: list[str] = []
    data = raw
    if b"\x00" in data:
        defects.append("NUL bytes in message")
        data = data.replace(b"\x00", b"")
    try:
        msg = email.message_from_bytes(data, policy=email_policy.compat32)
        view = view_from_message(msg, raw)
    except Exception as exc:  # noqa: BLE001 - the parser must never raise on mail
        defects.append(f"unparseable MIME: {type(exc).__name__}")
        # Keep what can be kept: the top-level headers (From, Date, Message-ID...) parse on their
        # own even when the body (e.g. thousands of nested multiparts) does not.
        head, _, body = data.partition(b"\r\n\r\n") if b"\r\n\r\n" in data[:1_000_000] else data.partition(b"\n\n")
        try:
            msg = email.parser.BytesHeaderParser(policy=email_policy.compat32).parsebytes(head + b"\n\n")
            headers = _headers(msg, defects)
        except Exception:  # noqa: BLE001
            msg, headers = email.message.Message(), ()
        text = decode_bytes(body[:MAX_FALLBACK_TEXT], None)
        view = MimeView(headers, "text/plain", text, None, (), (), (), raw, msg)
    if defects:
        view = MimeView(
            view.headers, view.content_type, view.text, view.html, view.parts, view.attached,
            tuple(dict.fromkeys(defects + list(view.defects))), view.raw, view.message,
        )
    return view


def parse_addresses(values: list[str]) -> list[tuple[str, str]]:
    """Split decoded address headers into (name, address) pairs; junk is skipped."""
    pairs = email.utils.getaddresses(values)
    return [(n.strip().strip('"').strip(), a.strip()) for n, a in pairs if a and "@" in a]
