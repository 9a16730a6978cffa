"""Form submissions -> (name, value) pairs: HTTP bodies (urlencoded, multipart, JSON) and notification mail.

Pure: bytes and a content type in, a tuple of pairs out.  A body that cannot be read raises
``FormBodyError`` naming the problem (the web skin answers 400 with it); notification mail never
raises (house rule 3): a text body's ``Name: value`` lines and an HTML body's two-column table
rows are read, whatever the form builder (Tilda, Contact Form 7, Webflow...).
"""

from __future__ import annotations

import email.message
import email.parser
import email.policy
import email.utils
import json
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl

Pairs = tuple[tuple[str, str], ...]
MAX_FIELDS = 200
MAX_DEPTH = 4


class FormBodyError(ValueError):
    """The body is not what its content type says; the message names the problem."""


def media_type(content_type: str) -> str:
    """``multipart/form-data; boundary=x`` -> ``multipart/form-data``."""
    return content_type.partition(";")[0].strip().lower()


def read_body(body: bytes, content_type: str) -> Pairs:
    """The submitted fields of an HTTP body, in order; ``FormBodyError`` when it is malformed."""
    kind = media_type(content_type)
    if kind == "application/json" or kind.endswith("+json"):
        return _json_pairs(body)
    if kind == "application/x-www-form-urlencoded" or kind == "":
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise FormBodyError("form body is not UTF-8") from None
        if text.strip() and "=" not in text:
            raise FormBodyError("form body has no name=value pairs")
        try:
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text.strip()),
                              max_num_fields=MAX_FIELDS)
        except ValueError as exc:
            raise FormBodyError(f"malformed form body: {exc}") from None
        return tuple((k, v) for k, v in pairs)
    if kind == "multipart/form-data":
        return _multipart_pairs(body, content_type)
    raise FormBodyError(f"unsupported content type {kind!r} (use form, multipart or JSON)")


def _json_pairs(body: bytes) -> Pairs:
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise FormBodyError("JSON body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise FormBodyError(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise FormBodyError("JSON body must be an object of fields")
    # Webflow's webhook wraps the fields: {"triggerType": ..., "payload": {"name": <form name>,
    # "id": <submission id>, "data": {<fields>}}}; the envelope's "name" is the form's, not the lead's.
    payload = data.get("payload")
    inner: dict[str, Any] = payload if isinstance(payload, dict) else data
    fields = inner.get("data")
    if isinstance(fields, dict):
        sub = inner.get("id") or inner.get("_id")
        data = {**fields, **({"submission_id": sub} if isinstance(sub, (str, int)) else {})}
    out: list[tuple[str, str]] = []
    _flatten(data, "", out, 0)
    return tuple(out[:MAX_FIELDS])


def _flatten(value: Any, prefix: str, out: list[tuple[str, str]], depth: int) -> None:
    """Nested objects become dotted names; Typeform-like ``answers`` lists become their field titles."""
    if depth > MAX_DEPTH:
        return
    if isinstance(value, dict):
        answer = _typeform_answer(value)
        if answer is not None:
            out.append(answer)
            return
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out, depth + 1)
        # Webflow/Typeform style {"name": "Phone", "value": "..."} entries name their own field.
        if "value" in value and isinstance(value.get("name") or value.get("title"), str):
            out.append((str(value.get("name") or value.get("title")), _scalar(value["value"])))
        return
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            out.append((prefix, ", ".join(_scalar(v) for v in value)))
            return
        for i, v in enumerate(value):
            _flatten(v, f"{prefix}.{i}", out, depth + 1)
        return
    out.append((prefix, _scalar(value)))


def _typeform_answer(value: dict[str, Any]) -> tuple[str, str] | None:
    """A Typeform answer: {"type": "phone_number", "phone_number": "...", "field": {"ref": "phone"}}."""
    kind, field = value.get("type"), value.get("field")
    if not isinstance(kind, str) or not isinstance(field, dict) or kind not in value:
        return None
    name = field.get("ref") or field.get("title") or field.get("id")
    if not isinstance(name, str):
        return None
    answer = value[kind]
    if isinstance(answer, dict):  # choice: {"label": ...}
        answer = answer.get("label") or answer.get("other") or ""
    return name, _scalar(answer)


def _scalar(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def _multipart_pairs(body: bytes, content_type: str) -> Pairs:
    if "boundary=" not in content_type.lower():
        raise FormBodyError("multipart/form-data without a boundary")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    msg = email.parser.BytesParser(policy=email.policy.compat32).parsebytes(head + body)
    if not msg.is_multipart() or msg.defects:
        raise FormBodyError("malformed multipart body (boundary not found or parts broken)")
    out: list[tuple[str, str]] = []
    for part in msg.get_payload():
        if not isinstance(part, email.message.Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not name or part.get_param("filename", header="content-disposition"):
            continue  # files are not lead fields (the raw body keeps them)
        payload = part.get_payload(decode=True)
        raw = payload if isinstance(payload, bytes) else b""
        charset = part.get_content_charset() or "utf-8"
        try:
            text = raw.decode(charset, "replace")
        except LookupError:
            text = raw.decode("utf-8", "replace")
        out.append((str(email.utils.collapse_rfc2231_value(name)), text))
    return tuple(out[:MAX_FIELDS])


# -- notification mail ----------------------------------------------------------------------
_LINE = re.compile(r"^\s*([^:\n]{1,60}?)\s*:\s*(.*?)\s*$")


def text_pairs(text: str) -> Pairs:
    """``Name: value`` lines of a text body (Tilda, Contact Form 7 default templates).

    A ``Label:`` line with nothing after it takes the lines below it up to a blank line or a
    signature separator (CF7's "Message Body:" block).
    """
    out: list[tuple[str, str]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = _LINE.match(lines[i])
        i += 1
        if not m or m.group(1).lower().startswith(("http", "https")):
            continue
        name, value = m.group(1).strip(" *-•\t"), m.group(2)
        if not value:
            block: list[str] = []
            while (i < len(lines) and lines[i].strip() and lines[i].rstrip() not in ("--", "-- ")
                   and not ((nxt := _LINE.match(lines[i])) and nxt.group(2))):  # a heading over fields
                block.append(lines[i].strip())
                i += 1
            value = "\n".join(block)
        if name and value:
            out.append((name, value))
    return tuple(out[:MAX_FIELDS])


class _Table(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self.cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell = []
        elif tag == "br" and self.cell is not None:
            self.cell.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            if self.rows:
                self.rows[-1].append(" ".join("".join(self.cell).split()))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def html_pairs(html: str) -> Pairs:
    """Rows of two cells (name, value) in an HTML body's tables; ``<b>Name:</b> value<br>`` lines otherwise."""
    parser = _Table()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser on hostile markup: fall back to the text lines
        parser.rows = []
    out = [(r[0].rstrip(": "), r[1]) for r in parser.rows if len(r) == 2 and r[0] and r[1]]
    if out:
        return tuple(out[:MAX_FIELDS])
    text = re.sub(r"(?i)<br\s*/?>|</p>|</div>|</li>", "\n", html)
    text = re.sub(r"<[^>]+>", "", text)
    import html as html_mod

    return text_pairs(html_mod.unescape(text))
