"""The parse pipeline: raw bytes -> MessageFacts (pure; never raises on bad mail)."""

from __future__ import annotations

import datetime as dt
import email.header
import email.utils
import hashlib
import re
from dataclasses import replace

from mailcrm.parse import autoreply, bounce, forward, reply_text, signature, works
from mailcrm.parse.addresses import normalize_address, parse_address_header
from mailcrm.parse.facts import DEFAULT_PHONE_REGION, Address, AttachedFile, Forwarded, Kind, MessageFacts
from mailcrm.parse.identity import identity_key, message_ids, normalize_message_id, thread_key
from mailcrm.parse.loose_date import parse_rfc_date
from mailcrm.parse.mime import MimeView, parse_bytes

SNIPPET_LEN = 240


def parse_date(value: str | None) -> dt.datetime | None:
    """RFC 5322 date -> aware datetime (UTC when no zone); None when unreadable."""
    d = parse_rfc_date(value)
    if d is None:
        return None
    if d.tzinfo is None:
        d = d.replace(tzinfo=dt.timezone.utc)
    return d


def _raw_header_values(view: MimeView, name: str) -> list[str]:
    try:
        values = view.message.get_all(name) or []
    except Exception:  # noqa: BLE001
        return []
    return [v if isinstance(v, email.header.Header) else str(v) for v in values]  # a Header: raw 8-bit bytes


def _addresses(view: MimeView, name: str) -> tuple[Address, ...]:
    return parse_address_header(_raw_header_values(view, name))


def looks_forwarded_subject(subject: str) -> bool:
    """True when the subject carries a forward prefix (Fwd:, Fw:, Пересл:, ПЕР:, TR:, WG: ...)."""
    return forward.looks_forwarded_subject(subject or "")


def _snippet(text: str) -> str:
    # Collapse whitespace in a growing prefix, not the whole (maybe megabytes long) body.
    size = SNIPPET_LEN * 4
    while True:
        flat = re.sub(r"\s+", " ", text[:size]).strip()
        if len(flat) > SNIPPET_LEN or size >= len(text):
            return flat[:SNIPPET_LEN]
        size *= 4


def parse_message(
    raw: bytes,
    *,
    user_addresses: frozenset[str] = frozenset(),
    dropbox_addresses: frozenset[str] = frozenset(),
    region: str = DEFAULT_PHONE_REGION,
) -> MessageFacts:
    """Parse one raw message.  ``user_addresses`` decide sent/forward vs received."""
    view = parse_bytes(raw)
    defects = list(view.defects)
    users = frozenset(normalize_address(a) for a in user_addresses)
    dropboxes = frozenset(normalize_address(a) for a in dropbox_addresses)

    from_list = _addresses(view, "From")
    from_ = from_list[0] if from_list else None
    if from_ is None:
        defects.append("no From address")
    sender_list = _addresses(view, "Sender")
    sender = sender_list[0] if sender_list and (not from_ or sender_list[0].address != from_.address) else None
    to = _addresses(view, "To")
    cc = _addresses(view, "Cc")
    reply_to = _addresses(view, "Reply-To")
    subject = view.header("Subject") or ""
    date_header = view.header("Date")
    date = parse_date(date_header)
    if date_header and date is None:
        defects.append("unreadable Date header")
    message_id = normalize_message_id(view.header("Message-ID"))
    irt_ids = message_ids(view.header("In-Reply-To"))
    in_reply_to = irt_ids[0] if irt_ids else None
    references = message_ids(view.header("References"))
    body = view.text

    sha = hashlib.sha256(raw).hexdigest()
    ident = identity_key(message_id, from_.address if from_ else "", date_header or "", subject, body)

    from_user = bool(from_ and from_.address in users)
    real_rcpts = [a for a in to + cc if a.address not in dropboxes and a.address not in users]
    fwd: Forwarded | None = None
    bnc = None
    auto = None
    kind: Kind
    # A forward (issue 3): the user sent it only to the dropbox, or marked it Fwd:, or attached the original.
    forward_candidate = not real_rcpts or bool(view.attached) or looks_forwarded_subject(subject)
    if from_user and forward_candidate:
        fwd = _safe(lambda: forward.find_forward(view, subject, expect_forward=not real_rcpts), defects, "forward")
    if from_user:
        if fwd is not None and fwd.from_ is not None and not fwd.from_.address:
            defects.append("forwarded original has no sender address")
        if fwd is not None:
            kind = "forward"
            # A user forwarding a bounce or an out-of-office they received: analyse the original,
            # attached whole, or inline, where only its text and a few of its headers survive (the
            # detectors judge that as they judge received mail).
            originals: list[MimeView] = list(view.attached)
            if not originals and fwd.text.strip():
                inline = _safe(lambda: parse_bytes(_inline_original(fwd)), defects, "forward")
                originals += [inline] if inline is not None else []
            for inner in originals:
                bnc = _safe(lambda inner=inner: bounce.detect_bounce(inner), defects, "bounce")
                if bnc:
                    kind = "bounce"
                    break
            else:
                # A forwarded out-of-office is an automatic answer, not the contact's reply.
                for inner in originals:
                    auto = _safe(lambda inner=inner: autoreply.detect_autoreply(inner, sent=fwd.date), defects, "autoreply")
                    if auto is not None:
                        kind = "autoreply"
                        break
        elif not real_rcpts and (view.attached or looks_forwarded_subject(subject)):
            kind = "forward"
            defects.append("forward without a recognisable original")
        else:
            kind = "sent"
    else:
        bnc = _safe(lambda: bounce.detect_bounce(view), defects, "bounce")
        if bnc is not None:
            kind = "bounce"
        else:
            auto = _safe(lambda: autoreply.detect_autoreply(view, sent=date), defects, "autoreply")
            if auto is not None:
                kind = "autoreply"
            elif from_ is None:
                kind = "unknown"
            else:
                kind = "received"

    own_text = body
    sig_sender = from_
    if fwd is not None and kind in ("forward", "autoreply"):
        own_text = fwd.text
        sig_sender = fwd.from_
    reply = _safe(lambda: reply_text.extract_reply(own_text, view.html if fwd is None else None), defects, "reply") or ""
    sig = None
    if kind in ("sent", "received", "forward"):
        # The signature ends the new text, not the quoted history (which ends with someone else's).
        sig_text = reply or own_text
        sig = _safe(lambda: signature.extract_signature(sig_text, sender=sig_sender, region=region, unquoted=bool(reply)),
                    defects, "signature")
    if sig is not None and reply.endswith(sig.text.strip()) and len(reply) > len(sig.text):
        reply = reply[: -len(sig.text.strip())].rstrip()

    facts = MessageFacts(
        sha256=sha,
        identity=ident,
        message_id=message_id,
        kind=kind,
        from_=from_,
        sender=sender,
        reply_to=reply_to,
        to=to,
        cc=cc,
        date=date,
        subject=subject,
        in_reply_to=in_reply_to,
        references=references,
        thread_key=thread_key(message_id, in_reply_to, references, ident),
        body_text=body,
        reply_text=reply,
        snippet=_snippet(reply or body),
        signature=sig,
        forwarded=fwd,
        bounce=bnc,
        autoreply=auto,
        defects=tuple(dict.fromkeys(defects)),
        size=len(raw),
        headers=view.headers,
        attachments=tuple(p.filename for p in view.parts if p.filename),
        files=tuple(AttachedFile(p.filename, hashlib.sha256(p.payload).hexdigest(), len(p.payload),
                                 works.document_title(p.payload, p.filename))
                    for p in view.parts if p.filename),
    )
    return facts


def _inline_original(fwd: Forwarded) -> bytes:
    """The original of an inline forward as a message: its forward-header fields and body text.

    Written out directly (raw UTF-8 headers, which ``parse_bytes`` reads): ``EmailMessage``'s
    header folding cost more than the rest of parsing a forward.
    """

    def one_line(value: str | None) -> str:
        return " ".join((value or "").split())  # a header value, whatever the body's header block held

    head: list[str] = []
    if fwd.from_ is not None:
        name, address = one_line(fwd.from_.name), one_line(fwd.from_.address)
        if address:
            head.append(f"From: {email.utils.formataddr((name, address))}" if name else f"From: <{address}>")
        elif name:
            head.append(f"From: {name}")
    if fwd.subject:
        head.append(f"Subject: {one_line(fwd.subject)}")
    if fwd.to:
        head.append("To: " + ", ".join(one_line(a.address) for a in fwd.to if a.address))
    head += ["MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"]
    return ("\r\n".join(head) + "\r\n\r\n" + fwd.text).encode("utf-8", "surrogatepass")


def _safe(fn, defects: list[str], stage: str):  # type: ignore[no-untyped-def]
    """Run one parse stage; a bug in a stage becomes a defect, never an exception (house rule 3)."""
    try:
        return fn()
    except RecursionError:
        defects.append(f"{stage}: recursion limit")
    except Exception as exc:  # noqa: BLE001
        defects.append(f"{stage}: {type(exc).__name__}: {str(exc)[:120]}")
    return None


def with_kind(facts: MessageFacts, kind: Kind) -> MessageFacts:
    """Copy of ``facts`` with another kind (used by domain rules for IMAP roles)."""
    return replace(facts, kind=kind)
