"""Delivery-failure reports: detection, failed recipients, hard vs soft.

Order of evidence, strongest first:

1. An RFC 3464 ``message/delivery-status`` part (also when an MTA pastes its fields into
   the text body): one block per recipient; ``Action: failed`` is a failure (RFC 3464
   §2.3.3 — "delivered", "relayed" and "expanded" are not).  ``Action: delayed`` is a
   report too, of mail not delivered yet: its recipients are soft, with reason ``delayed``
   (the MTA still retries, so no address dies of one; the store does not count them
   toward the soft-bounce score either).
   Final-Recipient, then Original-Recipient, then the address in the Diagnostic-Code.
2. The plain-text report of a non-standard bounce (``bounce_formats``), accepted only
   when the message looks like one (daemon sender, null Return-Path or bounce subject)
   and the text speaks of a failure.
3. flufl.bounce's detectors as a last resort, with every address validated.

Not bounces: ARF complaint reports (RFC 5965 ``feedback-report``), challenge/response
notices (they are auto-replies, see ``autoreply``), and reports whose recipients all
succeeded.  Hard/soft comes from ``bounce_reason.classify``.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import functools
import re
from collections.abc import Callable

from mailcrm.parse import bounce_formats as fmt
from mailcrm.parse.bounce_reason import TEMPORARY, UNKNOWN, assess, find_status, soft_statement
from mailcrm.parse.facts import Bounce, BounceRecipient
from mailcrm.parse.identity import normalize_message_id
from mailcrm.parse.mime import MimeView, decode_header_value

_VALID = re.compile(r"^[^@\s<>\"(),;:\[\]\\/]+@(?:[a-z0-9\-_]+\.)+[a-z0-9\-]*[a-z][a-z0-9\-]*$|^[^@\s<>]+@\[[0-9.:a-f]+\]$")
_DSN_FIELD = re.compile(r"^([A-Za-z][A-Za-z0-9\-]*)[ \t]*:[ \t]*(.*)$")
# Caps on what is scanned: detection runs on every non-user message, and a real report says
# what it has to say in its first pages; a "bounce" naming more recipients is a list explosion.
MAX_SCAN = 200_000  # characters of body text and of each delivery-status part
MAX_RECIPIENTS = 200
MAX_FLUFL_BYTES = 64 * 1024
MAX_FLUFL_LINES = 1500
MAX_RAW_SCAN = 1_000_000  # bytes of the raw report searched for the original's Message-ID
MAX_STATEMENT = 20_000  # characters of the report searched for a statement of failure
_DSN_MARKER = re.compile(r"^(?:Final-Recipient|Original-Recipient)[ \t]*:", re.I | re.M)

# Challenge/response systems ask the sender to prove they are human; RFC 3834 §2 calls these
# automatic responses, not delivery failures.
CHALLENGE = re.compile(
    r"waitlisted|guest list|not pre-approved|verify (?:that )?you are (?:a )?human|prove (?:that )?you are (?:a )?human|"
    r"click (?:the link|here) (?:below )?to (?:be added|verify|confirm|deliver your message)|challenge[- ]response|"
    r"spam ?arrest|approved senders list|please confirm (?:that )?you (?:sent|are)|sender verification request|"
    r"подтвердите,? что вы (?:не робот|человек)",
    re.I,
)


def clean_address(value: str | None) -> str | None:
    """An address from a DSN field or a report, lower-cased and validated; None when it is junk."""
    if not value:
        return None
    v = value.strip()
    if ";" in v:  # "rfc822; a@b" (RFC 3464 §2.3.2 address-type)
        v = v.split(";", 1)[1]
    v = re.sub(r"\s+", "", v).strip("<>\"'").strip()
    m = re.search(r"<([^<>]+@[^<>]+)>", value)
    if not _VALID.match(v.lower()) and m:
        v = m.group(1).strip()
    v = v.rstrip(".").lower()
    if v.startswith("mailto:"):
        v = v[7:]
    if _VALID.match(v) and len(v) <= 254:
        return v
    # "|/usr/bin/prog user@example.com /home/x" (Exim pipe): one address among other words.
    found = {m.group(0).lower().rstrip(".") for m in fmt.ADDRESS_RX.finditer(value) if _VALID.match(m.group(0).lower())}
    found = {a for a in found if not re.search(r"[/\\]" + re.escape(a), value.lower())}
    return found.pop() if len(found) == 1 else None


def _dsn_blocks(text: str) -> list[dict[str, str]]:
    """RFC 3464 header blocks -> list of {lower-case field: value}; continuation lines joined."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last: str | None = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
            continue
        if line[:1] in (" ", "\t") and last:
            current[last] += " " + line.strip()
            continue
        m = _DSN_FIELD.match(line)
        if m:
            last = m.group(1).lower()
            current.setdefault(last, m.group(2).strip())
        else:
            last = None
    if current:
        blocks.append(current)
    return blocks


def body_text(view: MimeView) -> str:
    """The body as text; the raw body when a broken MIME structure left no readable part."""
    if view.text.strip() or any(True for _ in view.parts_of_type("message/delivery-status")):
        return view.text
    raw = view.raw.replace(b"\r\n", b"\n")
    _, sep, body = raw.partition(b"\n\n")
    return body.decode("utf-8", "replace") if sep else ""


def _dsn_texts(view: MimeView, body: str) -> list[str]:
    texts = [p.text or "" for p in view.parts_of_type("message/delivery-status", "message/global-delivery-status")]
    marker = _DSN_MARKER.search(body)
    if not texts and marker and re.search(r"^(?:Action|Status)[ \t]*:", body, re.I | re.M):
        # Some MTAs (Amazon WorkMail, old Sendmail) paste the DSN fields into the text body,
        # and a broken multipart leaves a real DSN as plain text.
        start = body.rfind("\n\n", 0, marker.start())
        texts = [body[start + 2 if start >= 0 else 0:]]
    return texts


def _recipient(address: str, status: str | None, diagnostic: str | None, context: str | None = None,
               whole: str | None = None) -> BounceRecipient:
    status = status or find_status(diagnostic)
    a = assess(status, diagnostic, context=context, recipient=address)
    reason, hard, permanent = a.reason, a.hard, a.permanent
    if reason in (UNKNOWN, TEMPORARY) and whole:
        # Nothing said near the address: read the whole (single-recipient) report.
        a = assess(status, diagnostic, context=f"{context or ''} {whole}", recipient=address)
        reason, hard, permanent = a.reason, a.hard, a.permanent
    elif hard and whole and (stated := soft_statement(whole)):
        # The human part of a single-recipient report says "mailbox full" while the code says
        # "unknown user": doubt keeps the address alive.
        reason, hard = stated, False
    return BounceRecipient(address=address, hard=hard, status=status, reason=reason, diagnostic=_diagnostic(diagnostic),
                           permanent=permanent)


def _delayed(address: str, status: str | None, diagnostic: str | None) -> BounceRecipient:
    """A recipient of an ``Action: delayed`` block: soft whatever the text says (the MTA still retries)."""
    return BounceRecipient(address=address, hard=False, status=status or find_status(diagnostic), reason=DELAYED,
                           diagnostic=_diagnostic(diagnostic), permanent=False)


def _diagnostic(text: str | None) -> str | None:
    """The remote server's text as kept: one line, at most 500 characters."""
    return re.sub(r"\s+", " ", text).strip()[:500] if text else None


_Raw = tuple[str, "str | None", "str | None"]  # address, status, diagnostic
DELAYED = "delayed"  # the reason of a recipient whose mail is only delayed (Action: delayed)


def _from_dsn(view: MimeView, body: str) -> tuple[list[_Raw], list[tuple[str | None, str | None]], bool, str | None,
                                                 list[_Raw]]:
    """(failed recipients, failures without a usable address, saw any recipient block, reporting MTA,
    delayed recipients)."""
    failed: list[_Raw] = []
    delayed: list[_Raw] = []
    unaddressed: list[tuple[str | None, str | None]] = []
    saw = False
    mta: str | None = None
    for text in _dsn_texts(view, body):
        text = text[:MAX_SCAN]
        for block in _dsn_blocks(text):
            if "reporting-mta" in block and mta is None:
                mta = block["reporting-mta"].split(";", 1)[-1].strip() or None
            if "final-recipient" not in block and "original-recipient" not in block:
                continue
            saw = True
            action = block.get("action", "").strip().lower().split()[0] if block.get("action", "").strip() else ""
            diag = block.get("diagnostic-code", "").split(";", 1)[-1].strip() if block.get("diagnostic-code") else ""
            status = find_status(block.get("status")) or find_status(diag)
            # RFC 3464 §2.3.3: "failed" is a failure; "delayed" may still be delivered.
            # Some MTAs write non-standard actions for giving up ("expired", "bounced").
            is_delay = action.startswith("delay")
            if action and not is_delay and not action.startswith(("fail", "expired", "bounce", "reject")):
                continue
            if not action and not (status or "").startswith("5"):
                continue
            addr = (clean_address(block.get("final-recipient")) or clean_address(block.get("original-recipient"))
                    or clean_address(block.get("x-actual-recipient")))
            if addr is None:
                m = fmt.ADDRESS_RX.search(diag)
                addr = clean_address(m.group(0)) if m else None
            if addr is None:
                if not is_delay:  # a delay without an address says nothing about anyone
                    unaddressed.append((status, diag or block.get("status")))
                continue
            found = delayed if is_delay else failed
            if any(r[0] == addr for r in found) or len(found) >= MAX_RECIPIENTS:
                continue
            found.append((addr, status, diag or None))
            if len(failed) >= MAX_RECIPIENTS:
                return failed, unaddressed, saw, mta, delayed
    return failed, unaddressed, saw, mta, delayed


def _header_addresses(view: MimeView, *names: str) -> set[str]:
    out: set[str] = set()
    for name in names:
        for value in view.header_all(name):
            for m in fmt.ADDRESS_RX.finditer(value):
                out.add(m.group(0).lower())
    return out


def _original_headers(view: MimeView, copy_text: str) -> dict[str, str]:
    """Headers of the returned message: attached message/rfc822, text/rfc822-headers, or quoted text."""
    for inner in view.attached:
        if inner.header("Message-ID") or inner.header("From"):
            return {k: inner.header(k) or "" for k in ("Message-ID", "From", "To", "Subject")}
    texts = [p.text or "" for p in view.parts_of_type("text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers")]
    texts.append(copy_text)
    for text in texts:
        start = re.search(r"^(?:Return-Path|Received|Message-I[dD]|From|To|Subject|Date|DKIM-Signature|X-[\w-]+|MIME-Version)[ \t]*:",
                          text, re.M | re.I)
        if not start:
            continue
        try:
            msg = email.parser.HeaderParser().parsestr(text[start.start():].lstrip())
        except Exception:  # noqa: BLE001 - quoted headers are often mangled
            continue
        found = {k: str(msg.get(k) or "") for k in ("Message-ID", "From", "To", "Subject")}
        found["Subject"] = decode_header_value(found["Subject"])  # RFC 2047 words in quoted headers
        if any(found.values()):
            return found
    return {}


_QUOTED_MID = re.compile(r"^[ \t>]*Message-I[dD][ \t]*:[ \t]*(<[^<>\s@]+@[^<>\s]+>)", re.M)
_MID = re.compile(r"<[^<>\s@]+@[^<>\s]+>")


def _original_ids(view: MimeView, copy_text: str, original: dict[str, str]) -> tuple[str | None, tuple[str, ...]]:
    """Message-IDs of the returned original: its headers, a Message-ID line in the quoted copy or a
    text/rfc822-headers part (quoted headers are often too mangled to parse whole), and the report's
    In-Reply-To/References (RFC 5322 §3.6.4; some MTAs thread the report to the original)."""
    found: list[str] = []
    if original.get("Message-ID"):
        found.append(original["Message-ID"])
    texts = [p.text or "" for p in view.parts_of_type("text/rfc822-headers", "text/rfc822-header", "message/rfc822-headers")]
    raw = view.raw[:MAX_RAW_SCAN].replace(b"\r\n", b"\n")
    _, sep, raw_body = raw.partition(b"\n\n")
    # Last, the raw body: an original attached in a part the MIME parser could not read (broken
    # boundaries, odd content types) still has its Message-ID line; a report's own text has none.
    for text in [*texts, copy_text, raw_body.decode("utf-8", "replace") if sep else ""]:
        m = _QUOTED_MID.search(text[:MAX_RAW_SCAN])
        if m:
            found.append(m.group(1))
            break
    quoted = normalize_message_id(found[0]) if found else None
    for name in ("In-Reply-To", "References"):
        for value in view.header_all(name):
            found.extend(_MID.findall(value)[:20])
    out: list[str] = []
    for mid in found:
        norm = normalize_message_id(mid)
        if norm and norm not in out:
            out.append(norm)
    return quoted, tuple(out)


def _is_feedback_report(view: MimeView) -> bool:
    # RFC 5965: an ARF complaint is multipart/report; report-type=feedback-report.
    ctype = " ".join(view.header_all("Content-Type")).lower()
    return "feedback-report" in ctype or any(True for _ in view.parts_of_type("message/feedback-report"))


def is_challenge(view: MimeView) -> bool:
    """True for challenge/response notices ("you are waitlisted, verify you are human")."""
    return bool(CHALLENGE.search(view.header("Subject") or "") or CHALLENGE.search(view.text[:5000]))


def _looks_like_bounce(view: MimeView) -> bool:
    sender = " ".join(view.header_all("From")) or "<>"
    return_path = view.header("Return-Path") or ""
    # RFC 5321 §4.5.5: delivery notifications are sent with a null reverse-path.
    null_path = return_path.strip() == "<>"
    return bool(fmt.DAEMON_SENDER.search(sender) or null_path or fmt.BOUNCE_SUBJECT.search(view.header("Subject") or ""))


_BLANK_RUN = re.compile(rb"(?<![ \t])(?:[ \t]*\r?\n){4,}")  # tried where a blank run starts only: linear


def _flufl_addresses(view: MimeView) -> list[str]:
    """Addresses flufl.bounce's detectors report, validated; they see at most the first
    ``MAX_FLUFL_BYTES`` and ``MAX_FLUFL_LINES`` of the message, with blank-line runs shortened
    (they scan every line, and this runs on most mail)."""
    try:
        from flufl.bounce import all_failures

        msg = view.message
        data = view.raw[:MAX_FLUFL_BYTES]
        if b"\n\n\n\n" in data or b"\n\r\n\r\n\r\n" in data or b" \n \n" in data:
            data = _BLANK_RUN.sub(b"\n\n\n", data)
        # Its detectors rescan the body for each line they look at: time grows with the square
        # of the line count (32,000 short lines: 0.9 s), so they get the first MAX_FLUFL_LINES.
        lines = data.split(b"\n", MAX_FLUFL_LINES)
        if len(lines) > MAX_FLUFL_LINES:
            data = b"\n".join(lines[:MAX_FLUFL_LINES])
        if data != view.raw:
            msg = email.message_from_bytes(data, policy=email.policy.compat32)
        temporary, permanent = all_failures(msg)
    except Exception:  # noqa: BLE001 - a third-party detector must not break parsing
        return []
    out: list[str] = []
    for raw in list(permanent) + list(temporary):
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        addr = clean_address(text)
        if addr and addr not in out:
            out.append(addr)
    return out




def _says_failure(view: MimeView, report: str) -> bool:
    if not _looks_like_bounce(view):
        return False
    if fmt.FAILURE_PHRASES.search(re.sub(r"\s+", " ", (report or body_text(view))[:MAX_STATEMENT])):
        return True
    sender = " ".join(view.header_all("From")) or "<>"
    return bool((fmt.DAEMON_SENDER.search(sender) or (view.header("Return-Path") or "").strip() == "<>")
                and re.search(r"\b(?:error|failed|failure|rejected)\b", report[:MAX_STATEMENT], re.I))


def _from_text(view: MimeView, report: str, original: dict[str, str],
               dsn_hint: tuple[str | None, str | None], flufl: Callable[[], list[str]]) -> list[BounceRecipient]:
    """Failed recipients of a non-standard report: text scan, then flufl.bounce, then the original To."""
    status, diag = dsn_hint
    exclude = frozenset(_header_addresses(view, "From", "To", "Return-Path", "Reply-To", "Sender", "Delivered-To", "Cc")
                        | {a.lower() for a in fmt.ADDRESS_RX.findall(original.get("From", ""))})
    found = fmt.scan_report(report, exclude)[:MAX_RECIPIENTS]
    others = frozenset(f.address.lower() for f in found)
    whole = report[:3000] if len(found) == 1 else None
    out = [_recipient(addr, status, diag or f.diagnostic, fmt.context_for(report, f.address, others), whole)
           for f in found if (addr := clean_address(f.address))]
    if out:
        return out
    out = [_recipient(a, status, diag, fmt.context_for(report, a), report[:3000]) for a in flufl() if a not in exclude]
    if out:
        return out
    # A short notice that names exactly one address in no recognised layout ("Duplicated
    # Message-ID in <a@b>", mailing-list managers): that address is the one it is about.
    named = {a.lower() for a in fmt.ADDRESS_RX.findall(report[:3000])} - exclude
    named = {a for a in named if not fmt.is_daemon_address(a)}
    if len(named) == 1:
        return [_recipient(addr, status, diag, fmt.context_for(report, addr), report[:3000])
                for addr in map(clean_address, named) if addr]
    # Last resort: a report that names nobody, about a message sent to exactly one address.
    to = {a.lower() for a in fmt.ADDRESS_RX.findall(original.get("To", ""))}
    if len(to) == 1:
        return [_recipient(addr, status, diag, None, report[:3000]) for addr in map(clean_address, to) if addr]
    return []


def detect_bounce(view: MimeView) -> Bounce | None:
    """Return the bounce facts when ``view`` is a delivery-failure report, else None."""
    if _is_feedback_report(view):
        return None
    body = body_text(view)[:MAX_SCAN]
    raw_failed, unaddressed, saw_dsn, mta, raw_delayed = _from_dsn(view, body)
    if not raw_failed and not raw_delayed and not unaddressed and (saw_dsn or not _looks_like_bounce(view)):
        # Most mail: no recipient in a delivery-status part and nothing that comes from a mail
        # system - the checks below would end in None too (_says_failure starts with
        # _looks_like_bounce), without splitting the body into report and copy first.
        return None
    report, copy_text = fmt.split_report(body)
    whole = report[:3000] if len(raw_failed) + len(unaddressed) == 1 else None
    others = frozenset(r[0] for r in raw_failed)
    recipients = [_recipient(addr, status, diag, fmt.context_for(report, addr, others), whole) for addr, status, diag in raw_failed]
    recipients += [_delayed(addr, status, diag) for addr, status, diag in raw_delayed if addr not in others]
    if not recipients and not unaddressed and saw_dsn:
        return None  # only delivered / relayed / expanded recipients
    original = _original_headers(view, copy_text)
    if not recipients:
        flufl = functools.cache(lambda: _flufl_addresses(view))  # run it at most once, and only if needed
        # flufl.bounce costs more than the rest of parsing: ask it only about mail that comes from
        # a mail system (daemon sender, null Return-Path, a bounce-like subject).
        if not unaddressed and not _says_failure(view, report) and not (_looks_like_bounce(view) and flufl()):
            return None
        recipients = _from_text(view, report, original, unaddressed[0] if unaddressed else (None, None), flufl)
    if not recipients or is_challenge(view):  # checked last: it scans text, and most mail is no bounce
        return None
    seen: set[str] = set()
    unique = [r for r in recipients if not (r.address in seen or seen.add(r.address))]  # type: ignore[func-returns-value]
    orig_to = tuple(dict.fromkeys(a.lower() for a in fmt.ADDRESS_RX.findall(original.get("To", ""))))
    orig_from = fmt.ADDRESS_RX.search(original.get("From", ""))
    quoted_id, ids = _original_ids(view, copy_text, original)
    return Bounce(
        recipients=tuple(unique),
        original_message_id=quoted_id,
        original_from=orig_from.group(0).lower() if orig_from else None,
        original_to=orig_to,
        original_subject=original.get("Subject") or None,
        reporting_mta=mta,
        original_message_ids=ids,
    )
